"""The README's main job: nbgrader release, example submissions, hardened grading, grade table."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.course.demo import STEPS, run_demo
from mlp_lab.questions import MAX_SCORE


@pytest.mark.slow
def test_demo_grades_the_examples_as_expected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Solution 100, untouched 0, partial exactly its four answers, corrupt file 0; steps in order."""
    points = run_demo(tmp_path / "demo", jobs=2)
    totals = {name: sum(p.values()) for name, p in points.items()}
    assert totals == {"solution": MAX_SCORE, "untouched": 0, "partial": 38, "broken": 0}
    err = capsys.readouterr().err
    positions = [err.index(f"[{i}/{len(STEPS)}]") for i in range(1, len(STEPS) + 1)]
    assert positions == sorted(positions)
    assert (tmp_path / "demo" / "course" / "release" / "mlp" / "mlp.ipynb").is_file()
    assert (tmp_path / "demo" / "grades" / "grades.csv").is_file()
