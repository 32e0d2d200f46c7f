"""The graders' pytest plugin: the options, and the one grading every test of this folder shares.

Loaded by `pytest.ini` (`-p autograder.nbgrader.graders.plugin --noconftest`), so that no conftest.py, from
the student's repository or anywhere else, can replace the `report` fixture or rewrite outcomes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.engine import grade_notebook
from autograder.report import Report


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("autograder", "MLP lab grading")
    group.addoption("--submission", metavar="PATH", help="The submitted notebook to grade.")
    group.addoption("--device", default="auto", choices=("auto", "cpu", "cuda"), help="Where to train.")
    group.addoption("--grade-timeout", type=float, default=None, metavar="SECONDS",
                    help="Total seconds for the submission.")
    group.addoption("--report-json", metavar="PATH", default=None, help="Also write the report here.")


@pytest.fixture(scope="session")
def report(request: pytest.FixtureRequest) -> Report:
    path = request.config.getoption("--submission")
    if not path:
        raise pytest.UsageError("pass the notebook to grade: pytest <graders> --submission PATH")
    if not Path(path).is_file():
        raise pytest.UsageError(f"--submission {path}: no such file")
    result = grade_notebook(path, device=request.config.getoption("--device"),
                            timeout=request.config.getoption("--grade-timeout"))
    out = request.config.getoption("--report-json")
    if out:
        result.write_json(out)
    return result
