"""The hidden graders as pytest tests: one test per question id, JUnit XML as usual."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import autograder.nbgrader.graders
from mlp_lab.questions import QUESTION_IDS

GRADERS = Path(autograder.nbgrader.graders.__file__).parent


def test_one_junit_testcase_per_question_with_the_graders_verdicts(make_notebook, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Does `pytest <graders> --submission` report each question, passing exactly the ones that pass?"""
    nb = make_notebook(["import torch\ndef relu(X):\n    return torch.clamp(X, min=0)"])
    # A planted conftest.py and pytest.ini beside the submission must change nothing.
    (tmp_path / "conftest.py").write_text("import pytest\n@pytest.fixture\ndef report():\n    raise SystemExit\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:terminal\n")
    junit = tmp_path / "junit.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-c", str(GRADERS / "pytest.ini"), "--rootdir",
                           str(GRADERS), str(GRADERS), "--submission", str(nb), "--junitxml", str(junit),
                           "--grade-timeout", "300"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert sorted(cases) == sorted(f"test_{q}" for q in QUESTION_IDS)
    passed = {name for name, c in cases.items() if c.find("failure") is None and c.find("error") is None}
    assert passed == {"test_relu_values", "test_relu_grad"}
    failure = cases["test_param_shapes"].find("failure")
    assert failure is not None and "MLPScratch is not defined" in (failure.get("message") or "")
