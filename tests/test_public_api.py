"""The package's public surface, and the grader's parent process staying torch-free."""

from __future__ import annotations

import subprocess
import sys

import pytest

import autograder
import mlp_lab


@pytest.mark.parametrize("package", [autograder, mlp_lab], ids=["autograder", "mlp_lab"])
def test_every_name_in_all_exists(package) -> None:  # type: ignore[no-untyped-def]
    missing = [name for name in package.__all__ if not hasattr(package, name)]
    assert missing == []
    assert sorted(package.__all__) == sorted(set(package.__all__))


def test_the_grader_parent_never_imports_torch() -> None:
    """Does grading (reading, planning, judging, reporting) load torch only in the child?"""
    code = ("import sys, autograder.cli, autograder.engine, autograder.engine.judge, autograder.course.batch, "
            "autograder.report, mlp_lab, mlp_lab.questions, mlp_lab.checks, mlp_lab.scratch; "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
