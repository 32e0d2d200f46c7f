"""Build the named fixture submissions of the MLP lab from the instructor notebook and its release.

Usage: .venv/bin/python scripts/build_fixtures.py OUT_DIR
       [--source source/mlp/mlp.ipynb] [--release release/mlp/mlp.ipynb]

Writes OUT_DIR/<name>.ipynb for each fixture below and OUT_DIR/expected.json (the automatic points
each one must score, per grade id; null for a file nbgrader cannot grade).  Every fixture starts
from the *release* (what a student receives) and copies answers from the *source*, so the fixtures
stay in step with the notebook whenever it changes:

    solution        every solution cell answered as in the source            all 100 points
    release         the untouched release                                    0
    partial         only relu and collapse_affine answered                   relu_values + relu_grad + affine_collapse
    noisy           the solution, but its cells (and relu, sigmoid, tanh,    all 100 points
                    MLPScratch.forward) also print to stderr, warnings.warn
                    and os.write(2, ...)
    deleted_cell    the solution with the concise_mlp grade cell deleted     all but concise_mlp
    invalid_json    not JSON at all                                          cannot be graded
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source" / "mlp" / "mlp.ipynb"
RELEASE = ROOT / "release" / "mlp" / "mlp.ipynb"

# Solution cells (by grade id) a partial submission answers, and the grade cells they earn.
PARTIAL_ANSWERS = ("relu_code", "collapse_code")
PARTIAL_EARNS = ("relu_values", "relu_grad", "affine_collapse")
DELETED_GRADE_CELL = "concise_mlp"

# Lines that write to stderr three ways; put at the top of every noisy solution cell and inside the
# functions the grade cells call.
NOISE = (
    "import os as _os, sys as _sys, warnings as _warnings",
    "print('debug: stderr from the student', file=_sys.stderr)",
    "_warnings.warn('a warning from the student')",
    "_os.write(2, b'raw bytes on file descriptor 2\\n')",
)
NOISY_DEFS = ("def relu(", "def sigmoid(", "def tanh(", "def forward(")


@dataclass(frozen=True)
class Fixture:
    name: str
    content: str  # the file's text
    expected: dict[str, float] | None  # automatic points per grade id; None: cannot be graded


def _nbgrader(cell: Any) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_points(nb: Any) -> dict[str, float]:
    """Points of every automatically graded cell (grade cells that are not also solution cells)."""
    return {m["grade_id"]: float(m["points"]) for m in map(_nbgrader, nb.cells)
            if m.get("grade") and not m.get("solution")}


def _answers(source: Any) -> dict[str, str]:
    return {m["grade_id"]: cell.source for cell in source.cells
            if (m := _nbgrader(cell)).get("solution") and cell.cell_type == "code"}


def answered(release: Any, source: Any, grade_ids: Iterable[str] | None = None) -> Any:
    """The release with the solution code cells `grade_ids` (all when None) answered as in the source."""
    answers = _answers(source)
    wanted = set(answers) if grade_ids is None else set(grade_ids)
    unknown = wanted - set(answers)
    if unknown:
        raise KeyError(f"no solution code cell with grade id {sorted(unknown)} in the source notebook")
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = _nbgrader(cell).get("grade_id")
        if gid in wanted and _nbgrader(cell).get("solution"):
            cell.source = answers[gid]
    return nb


def _noisy_source(source: str) -> str:
    lines = list(NOISE)
    for line in source.split("\n"):
        lines.append(line)
        stripped = line.lstrip()
        if stripped.startswith(NOISY_DEFS):
            indent = line[: len(line) - len(stripped)] + "    "
            lines.extend(indent + noise for noise in NOISE)
    return "\n".join(lines)


def noisy(solution: Any) -> Any:
    nb = copy.deepcopy(solution)
    for cell in nb.cells:
        if _nbgrader(cell).get("solution") and cell.cell_type == "code":
            cell.source = _noisy_source(cell.source)
    return nb


def without_grade_cell(nb: Any, grade_id: str) -> Any:
    out = copy.deepcopy(nb)
    out.cells = [c for c in out.cells if _nbgrader(c).get("grade_id") != grade_id]
    if len(out.cells) != len(nb.cells) - 1:
        raise KeyError(f"no single cell with grade id {grade_id!r}")
    return out


def build(source_path: Path = SOURCE, release_path: Path = RELEASE) -> list[Fixture]:
    source = nbformat.read(source_path, as_version=4)
    release = nbformat.read(release_path, as_version=4)
    points = grade_points(source)
    solution = answered(release, source)

    def text(nb: Any) -> str:
        return nbformat.writes(nb)

    return [
        Fixture("solution", text(solution), dict(points)),
        Fixture("release", text(release), {gid: 0.0 for gid in points}),
        Fixture("partial", text(answered(release, source, PARTIAL_ANSWERS)),
                {gid: (p if gid in PARTIAL_EARNS else 0.0) for gid, p in points.items()}),
        Fixture("noisy", text(noisy(solution)), dict(points)),
        Fixture("deleted_cell", text(without_grade_cell(solution, DELETED_GRADE_CELL)),
                {gid: (0.0 if gid == DELETED_GRADE_CELL else p) for gid, p in points.items()}),
        Fixture("invalid_json", '{"cells": [ this is not JSON, a broken upload\n', None),
    ]


def write(fixtures: Iterable[Fixture], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    expected = {}
    for f in fixtures:
        (out_dir / f"{f.name}.ipynb").write_text(f.content, encoding="utf-8")
        expected[f.name] = f.expected
    (out_dir / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--release", type=Path, default=RELEASE)
    args = parser.parse_args(argv)
    write(build(args.source, args.release), args.out_dir)


if __name__ == "__main__":
    main()
