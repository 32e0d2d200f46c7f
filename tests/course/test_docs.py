"""The README's points table is the registry's, and the command that writes it keeps the rest of the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.course.docs import BEGIN, END, points_table, rewrite_readme
from mlp_lab.questions import MAX_SCORE, QUESTIONS

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_table_is_what_the_registry_gives() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert block == points_table(), "run `.venv/bin/python -m autograder.course.docs README.md`"


def test_the_table_lists_every_question_once_with_its_points() -> None:
    rows = [r for r in points_table().splitlines() if r.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == [q.id for q in QUESTIONS]
    assert [float(r.split("|")[2]) for r in rows] == [q.points for q in QUESTIONS]
    assert f"**{MAX_SCORE:g}**" in points_table()


def test_rewriting_changes_only_the_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{BEGIN}\nstale\n{END}\n\nafter\n", encoding="utf-8")
    assert rewrite_readme(readme) is True and rewrite_readme(readme) is False
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\n") and text.endswith("\n\nafter\n") and "stale" not in text
    (tmp_path / "bare.md").write_text("no markers\n")
    with pytest.raises(ValueError, match="points-table"):
        rewrite_readme(tmp_path / "bare.md")
