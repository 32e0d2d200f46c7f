"""Example submissions, derived from the instructor notebook so they stay in step with it.

Each builder takes the released notebook (what students get) and the source notebook (with
solutions) and returns a notebook node, or bytes for the deliberately broken one:

- `solution`: every answer cell filled with the source's solution;
- `untouched`: the release as a student receives it;
- `partial`: only the answers that define the activations and `collapse_affine`;
- `noisy`: the solution, with answer cells that also print to stderr, warn and write to fd 2;
- `deleted_grade_cell`: the solution with the first grade cell removed;
- `broken`: the solution's JSON cut in half (not a readable notebook).
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat

__all__ = ["EXAMPLES", "PARTIAL_NAMES", "build", "solution_source", "write_examples"]

PARTIAL_NAMES = frozenset({"relu", "sigmoid", "tanh", "collapse_affine"})
_SOLUTION_BLOCK = re.compile(r"^[ \t]*### BEGIN SOLUTION[^\n]*\n|^[ \t]*### END SOLUTION[^\n]*\n?", re.M)
_NOISE = ("import sys, os, warnings\n"
          "print('debug: defining answers', file=sys.stderr)\n"
          "warnings.warn('a harmless warning from the student')\n"
          "os.write(2, b'raw bytes on fd 2\\n')\n")


def solution_source(cell_source: str) -> str:
    """A source cell's text as the student would have written it (solution markers removed)."""
    return _SOLUTION_BLOCK.sub("", cell_source)


def _answers(source_nb: Any) -> dict[str, str]:
    return {c.metadata["nbgrader"]["grade_id"]: solution_source(c.source) for c in source_nb.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("solution") and c.cell_type == "code"}


def _defines(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}


def _fill(release_nb: Any, source_nb: Any, keep: Callable[[str], bool], noise: bool = False) -> Any:
    nb = copy.deepcopy(release_nb)
    answers = _answers(source_nb)
    for cell in nb.cells:
        nbg = cell.get("metadata", {}).get("nbgrader", {})
        gid = nbg.get("grade_id")
        if cell.cell_type == "code" and nbg.get("solution") and gid in answers and keep(answers[gid]):
            cell.source = (_NOISE if noise else "") + answers[gid]
    return nb


def build(name: str, release_nb: Any, source_nb: Any) -> Any:
    """The example `name` as a notebook node (bytes for `broken`)."""
    if name == "solution":
        return _fill(release_nb, source_nb, lambda _code: True)
    if name == "untouched":
        return copy.deepcopy(release_nb)
    if name == "partial":
        return _fill(release_nb, source_nb, lambda code: bool(_defines(code) & PARTIAL_NAMES)
                     and not _defines(code) - PARTIAL_NAMES)
    if name == "noisy":
        return _fill(release_nb, source_nb, lambda _code: True, noise=True)
    if name == "deleted_grade_cell":
        nb = _fill(release_nb, source_nb, lambda _code: True)
        first = next(i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
        del nb.cells[first]
        return nb
    if name == "broken":
        text = nbformat.writes(_fill(release_nb, source_nb, lambda _code: True))
        return text[: len(text) // 2].encode()
    raise KeyError(f"unknown example {name!r}; choose from {', '.join(EXAMPLES)}")


EXAMPLES: tuple[str, ...] = ("solution", "untouched", "partial", "noisy", "deleted_grade_cell", "broken")


def write_examples(release: Path, source: Path, out_dir: Path, names: tuple[str, ...] = EXAMPLES) -> dict[str, Path]:
    """Write each example as `<out_dir>/<name>.ipynb`; returns name -> path."""
    release_nb = nbformat.read(release, as_version=4)
    source_nb = nbformat.read(source, as_version=4)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names:
        nb = build(name, release_nb, source_nb)
        path = out_dir / f"{name}.ipynb"
        if isinstance(nb, bytes):
            path.write_bytes(nb)
        else:
            nbformat.write(nb, path)
        paths[name] = path
    return paths
