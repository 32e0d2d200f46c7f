"""The one example factory: submissions and the reference solution, derived from the instructor notebook.

Everything starts from the *release* (what a student receives) and copies answers from the *source*
(`source/mlp/mlp.ipynb`, with solutions), so the examples stay in step whenever the notebook changes.
The demo, the tests and the benchmarks all take their examples from here.

    solution            every answer cell answered as in the source          all automatic points
    untouched           the release as a student receives it                 0
    partial             only the activations and collapse_affine answered    relu_values, relu_grad,
                                                                              sigmoid_tanh, affine_collapse
    noisy               the solution, but its cells (and relu, sigmoid, tanh, all automatic points
                        forward) also print to stderr, warn and write to fd 2
    deleted_grade_cell  the solution with the concise_mlp grade cell deleted  all but concise_mlp
    float64             honest variant: MLPScratch's parameters in float64,  all automatic points
                        its forward casts the input
    default_float64     honest variant: torch.set_default_dtype(float64)     all automatic points
                        in the first answer cell
    broken              the solution's JSON cut in half                      cannot be graded

`solution_code()` is the reference solution as one piece of Python (the imports cell and every answer
cell, markers removed): the one copy the tests and the benchmarks run.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from mlp_lab.questions import QUESTION_IDS
from mlp_lab.source import python_source

from ..errors import AutograderError

__all__ = ["ASSIGNMENT", "EXAMPLES", "Example", "build", "course_root", "solution_code", "solution_namespace",
           "write_examples"]

ASSIGNMENT = "mlp"
PARTIAL_NAMES = frozenset({"relu", "sigmoid", "tanh", "collapse_affine"})
DELETED_GRADE_CELL = "concise_mlp"
IMPORTS_CELL = "imports"
_SOLUTION_BLOCK = re.compile(r"^[ \t]*### BEGIN SOLUTION[^\n]*\n|^[ \t]*### END SOLUTION[^\n]*\n?", re.M)
# Lines that write to stderr three ways; put at the top of every noisy answer cell and inside the
# functions the grade cells call.
NOISE = (
    "import os as _os, sys as _sys, warnings as _warnings",
    "print('debug: stderr from the student', file=_sys.stderr)",
    "_warnings.warn('a warning from the student')",
    "_os.write(2, b'raw bytes on file descriptor 2\\n')",
)
NOISY_DEFS = ("def relu(", "def sigmoid(", "def tanh(", "def forward(")
# The float64 variant's edits to the scratch model's answer: (what the solution says, what the variant says).
FLOAT64_EDITS = (
    ("torch.randn(num_inputs, num_hiddens)", "torch.randn(num_inputs, num_hiddens, dtype=torch.float64)"),
    ("torch.zeros(num_hiddens)", "torch.zeros(num_hiddens, dtype=torch.float64)"),
    ("torch.randn(num_hiddens, num_outputs)", "torch.randn(num_hiddens, num_outputs, dtype=torch.float64)"),
    ("torch.zeros(num_outputs)", "torch.zeros(num_outputs, dtype=torch.float64)"),
    ("X = X.reshape((-1, self.num_inputs))", "X = X.reshape((-1, self.num_inputs)).to(torch.float64)"),
)


@dataclass(frozen=True)
class Example:
    name: str
    content: str  # the file's text
    expected: dict[str, float] | None  # automatic points per question id; None: cannot be graded


def course_root(start: Path | None = None) -> Path:
    """The course repository: the folder holding `nbgrader_config.py` and `source/mlp/`."""
    candidates = [start] if start else [Path.cwd(), Path(__file__).resolve().parents[2]]
    for c in candidates:
        if c is not None and (c / "nbgrader_config.py").is_file() and (c / "source" / ASSIGNMENT).is_dir():
            return c
    raise AutograderError("the course repository (nbgrader_config.py and source/mlp/) was not found; "
                          "run this from the repository's root")


def _paths(root: Path | None) -> tuple[Path, Path]:
    base = course_root(root)
    return base / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", base / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def _nbgrader(cell: Any) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def _strip(cell_source: str) -> str:
    """A source cell's text as the student would have written it (solution markers removed)."""
    return _SOLUTION_BLOCK.sub("", cell_source)


def _answers(source_nb: Any) -> dict[str, str]:
    return {_nbgrader(c)["grade_id"]: _strip(c.source) for c in source_nb.cells
            if _nbgrader(c).get("solution") and c.cell_type == "code"}


def _defines(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}


def _fill(release_nb: Any, source_nb: Any, keep: Callable[[str], bool]) -> Any:
    nb = copy.deepcopy(release_nb)
    answers = _answers(source_nb)
    for cell in nb.cells:
        gid = _nbgrader(cell).get("grade_id")
        if cell.cell_type == "code" and _nbgrader(cell).get("solution") and gid in answers and keep(answers[gid]):
            cell.source = answers[gid]
    return nb


def _noisy(source: str) -> str:
    lines = list(NOISE)
    for line in source.split("\n"):
        lines.append(line)
        stripped = line.lstrip()
        if stripped.startswith(NOISY_DEFS):
            indent = line[: len(line) - len(stripped)] + "    "
            lines.extend(indent + noise for noise in NOISE)
    return "\n".join(lines)


def _edit(nb: Any, grade_id: str, edit: Callable[[str], str]) -> Any:
    out = copy.deepcopy(nb)
    cells = [c for c in out.cells if _nbgrader(c).get("grade_id") == grade_id]
    if len(cells) != 1:
        raise KeyError(f"no single cell with grade id {grade_id!r}")
    cells[0].source = edit(cells[0].source)
    return out


def _float64(source: str) -> str:
    for old, new in FLOAT64_EDITS:
        if old not in source:
            raise KeyError(f"the scratch model's answer no longer says {old!r}; update FLOAT64_EDITS")
        source = source.replace(old, new)
    return source


def _points(source_nb: Any) -> dict[str, float]:
    """Points of every automatically graded cell, by grade id (= question id)."""
    pts = {m["grade_id"]: float(m["points"]) for m in map(_nbgrader, source_nb.cells)
           if m.get("grade") and not m.get("solution")}
    return {q: pts[q] for q in QUESTION_IDS if q in pts}


def _partial(release_nb: Any, source_nb: Any) -> Any:
    return _fill(release_nb, source_nb, lambda code: bool(_defines(code) & PARTIAL_NAMES)
                 and not _defines(code) - PARTIAL_NAMES)


def build(name: str, release_nb: Any, source_nb: Any) -> Example:
    """The example `name`, with the automatic points it must score."""
    points = _points(source_nb)
    solution = _fill(release_nb, source_nb, lambda _code: True)
    if name == "solution":
        return Example(name, nbformat.writes(solution), dict(points))
    if name == "untouched":
        return Example(name, nbformat.writes(release_nb), {q: 0.0 for q in points})
    if name == "partial":
        earns = {"relu_values", "relu_grad", "sigmoid_tanh", "affine_collapse"}
        return Example(name, nbformat.writes(_partial(release_nb, source_nb)),
                       {q: (p if q in earns else 0.0) for q, p in points.items()})
    if name == "noisy":
        nb = copy.deepcopy(solution)
        for cell in nb.cells:
            if _nbgrader(cell).get("solution") and cell.cell_type == "code":
                cell.source = _noisy(cell.source)
        return Example(name, nbformat.writes(nb), dict(points))
    if name == "deleted_grade_cell":
        nb = copy.deepcopy(solution)
        nb.cells = [c for c in nb.cells if _nbgrader(c).get("grade_id") != DELETED_GRADE_CELL]
        return Example(name, nbformat.writes(nb),
                       {q: (0.0 if q == DELETED_GRADE_CELL else p) for q, p in points.items()})
    if name == "float64":
        return Example(name, nbformat.writes(_edit(solution, "scratch_code", _float64)), dict(points))
    if name == "default_float64":
        nb = _edit(solution, "relu_code", lambda src: "torch.set_default_dtype(torch.float64)\n" + src)
        return Example(name, nbformat.writes(nb), dict(points))
    if name == "broken":
        text = nbformat.writes(solution)
        return Example(name, text[: len(text) // 2], None)
    raise KeyError(f"unknown example {name!r}; choose from {', '.join(EXAMPLES)}")


EXAMPLES: tuple[str, ...] = ("solution", "untouched", "partial", "noisy", "deleted_grade_cell", "float64",
                             "default_float64", "broken")


def write_examples(out_dir: Path, names: tuple[str, ...] = EXAMPLES, *, release: Path | None = None,
                   source: Path | None = None) -> dict[str, Example]:
    """Write each example as `<out_dir>/<name>.ipynb` and the points they must score as `expected.json`."""
    default_source, default_release = _paths(None) if release is None or source is None else (source, release)
    release_nb = nbformat.read(release or default_release, as_version=4)
    source_nb = nbformat.read(source or default_source, as_version=4)
    out_dir.mkdir(parents=True, exist_ok=True)
    examples = {name: build(name, release_nb, source_nb) for name in names}
    for ex in examples.values():
        (out_dir / f"{ex.name}.ipynb").write_text(ex.content, encoding="utf-8")
    expected = {ex.name: ex.expected for ex in examples.values()}
    (out_dir / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return examples


def solution_code(source: Path | None = None) -> str:
    """The reference solution as one piece of Python: the imports cell and every answer cell."""
    nb = nbformat.read(source or _paths(None)[0], as_version=4)
    parts = [c.source for c in nb.cells if c.cell_type == "code" and _nbgrader(c).get("grade_id") == IMPORTS_CELL]
    parts += [_strip(c.source) for c in nb.cells if c.cell_type == "code" and _nbgrader(c).get("solution")]
    return "\n\n".join(parts) + "\n"


def solution_namespace(source: Path | None = None) -> Mapping[str, Any]:
    """The reference solution's names (relu, ..., MLPScratch, MLP), defined by running `solution_code`."""
    namespace: dict[str, Any] = {"__name__": "reference_solution"}
    exec(compile(python_source(solution_code(source)) or "", "<reference solution>", "exec"), namespace)
    return namespace
