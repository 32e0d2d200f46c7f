"""The README's points table, generated from the question registry (`mlp_lab.questions`).

    .venv/bin/python -m autograder.course.docs README.md    # rewrite the table between its markers

The table sits between `<!-- points-table -->` and `<!-- /points-table -->`; a test fails when it is
not what the registry gives, and says to run the command above.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlp_lab.questions import MAX_SCORE, QUESTIONS

__all__ = ["BEGIN", "END", "points_table", "rewrite_readme"]

BEGIN, END = "<!-- points-table -->", "<!-- /points-table -->"


def points_table() -> str:
    """Markdown: one row per question (id, points, what is checked), and the total."""
    rows = [f"| `{q.id}` | {q.points:g} | {q.evidence} |" for q in QUESTIONS]
    return "\n".join(["| id | points | what is checked (on inputs drawn fresh for every grading) |",
                      "|---|---|---|", *rows, f"| | **{MAX_SCORE:g}** | |"])


def rewrite_readme(path: Path) -> bool:
    """Put the registry's table between the markers of `path`; True when the file changed."""
    text = path.read_text(encoding="utf-8")
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"{path} has no {BEGIN} ... {END} block")
    new = f"{head}{BEGIN}\n{points_table()}\n{END}{tail}"
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    print("rewritten" if rewrite_readme(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")) else "up to date")
