"""The package's public surface, and the grader's parent process staying torch-free."""

from __future__ import annotations

import subprocess
import sys

import autograder


def test_every_name_in_all_exists() -> None:
    missing = [name for name in autograder.__all__ if not hasattr(autograder, name)]
    assert missing == []
    assert sorted(autograder.__all__) == sorted(set(autograder.__all__))


def test_the_grader_parent_never_imports_torch() -> None:
    """Does grading (reading, planning, judging, reporting) load torch only in the child?"""
    code = ("import sys, autograder.cli, autograder.grader, autograder.batch, autograder.verdicts, "
            "autograder.report; print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
