"""Build a synthetic course of MLP-lab submissions: independent solutions, copies, untouched releases.

Usage: .venv/bin/python scripts/synthetic_course.py OUT_DIR [--independent 266] [--copy-groups 12]
       [--group-size 3] [--transforms rename,reorder,comments,whitespace,edit] [--untouched 4]
       [--partial 6] [--seed 0] [--layout nbgrader|flat] [--release release/mlp/mlp.ipynb]

Every notebook starts from the *release* (what students get) and fills its answer stubs, the way a
student does, so the course stays in step with the notebook.  What it writes:

* `OUT_DIR/submitted/<student>/mlp/mlp.ipynb` (nbgrader's layout) or `OUT_DIR/<student>.ipynb` (flat);
* `OUT_DIR/manifest.json`: every student's kind, the solution variant of each unit, the copy groups
  and `copy_pairs` (every pair of students in one group).

The code comes from eight solution sets, `scripts/synthetic_solutions/set_*.py`, written by hand to
be genuinely different (structure, not names) and each correct for every answer cell (they live
beside this script because the script is what reads them; the tests and the benchmark only run the
script).  A solution has seven units (relu, sigmoid, tanh, collapse_affine, MLPScratch.__init__,
MLPScratch.forward, MLP.__init__).  An *independent* student takes each unit from one set, chosen by
a Reed-Solomon code over GF(8): student i is the polynomial p_i(x) = a + b x + c x^2 and takes unit u
from set p_i(u).  Two different polynomials of degree <= 2 agree in at most two points, so no two
independent students share more than two of the seven units (the first eight students are the
constant polynomials: the eight sets as written).  Without that, 300 students drawn from eight sets
would include many pairs that chose the same code for most units, which are copies in all but name.

A *copy* starts from an independent student's notebook and applies transforms (each seeded; see
`synthetic_transforms.py`): `rename` (the student's own names), `reorder` (functions and methods
swapped, a cell moved, a function split into an added cell), `comments`, `whitespace`, and `edit`
(two small real changes).  *Untouched* students hand in the release.  *Partial* students answer only
relu: a partial answer that shares two of its three units with someone would be, by construction, a
copy of most of what it holds (eight variants per unit cannot make small submissions independent).
About a quarter of the students add a short cell to try their code (three kinds, shared by many).
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import random
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import nbformat
from synthetic_transforms import ANSWER_CELLS, TRANSFORMS, copy_notebook, grade_id, new_cell

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "release" / "mlp" / "mlp.ipynb"
SOLUTIONS = Path(__file__).resolve().parent / "synthetic_solutions"
ASSIGNMENT = "mlp"

UNITS = ("relu", "sigmoid", "tanh", "collapse_affine", "MLPScratch.__init__", "MLPScratch.forward", "MLP.__init__")
# The answer cells (grade ids, notebook order) and the units that fill their stubs, in stub order.
CELL_UNITS: dict[str, tuple[str, ...]] = {
    "relu_code": ("relu",),
    "sigmoid_tanh_code": ("sigmoid", "tanh"),
    "collapse_code": ("collapse_affine",),
    "scratch_code": ("MLPScratch.__init__", "MLPScratch.forward"),
    "concise_code": ("MLP.__init__",),
}
assert tuple(CELL_UNITS) == ANSWER_CELLS
_STUB = re.compile(r"^(?P<indent>[ \t]*)# YOUR CODE HERE\n(?P=indent)raise NotImplementedError\(\)", re.M)
_GIVEN = frozenset({"super().__init__()", "self.save_hyperparameters()"})  # stub lines before the answer
_SCRATCH_CELLS = (  # what some students add to try their code (short, and shared by many)
    "print(relu(torch.tensor([-2.0, 0.0, 3.0])))",
    "x = torch.linspace(-5, 5, 11)\nprint(sigmoid(x), tanh(x))",
    "net = MLPScratch(num_inputs=784, num_outputs=10, num_hiddens=16, lr=0.1)\n"
    "print(net(torch.rand(2, 1, 28, 28)).shape)",
)

Kind = Literal["independent", "copy", "untouched", "partial"]


@dataclass(frozen=True)
class CopyGroup:
    """`size` students: one independent author and `size - 1` copies of that student's notebook."""

    size: int = 3
    transforms: tuple[str, ...] = TRANSFORMS


@dataclass
class Student:
    id: str
    kind: Kind
    plan: tuple[int, ...] = ()  # solution set (0-based) of each unit, in UNITS order
    source: str = ""  # for a copy: the author copied
    transforms: tuple[str, ...] = ()
    cells_answered: int = len(CELL_UNITS)
    notebook: Any = field(default=None, repr=False)

    def manifest(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source or None, "transforms": list(self.transforms),
                "variants": {u: f"set_{p + 1}" for u, p in zip(UNITS, self.plan, strict=True)} if self.plan else {},
                "cells_answered": self.cells_answered}


# --- the solution sets -------------------------------------------------------------------------


def _body(node: ast.FunctionDef, lines: list[str]) -> str:
    """The function's body as text, without its docstring and the stub lines the release already has."""
    stmts = list(node.body)
    if stmts and isinstance(stmts[0], ast.Expr) and isinstance(getattr(stmts[0], "value", None), ast.Constant):
        stmts = stmts[1:]
    while stmts and ast.unparse(stmts[0]) in _GIVEN:
        stmts = stmts[1:]
    return textwrap.dedent("\n".join(lines[stmts[0].lineno - 1: node.end_lineno])).strip("\n")


def load_solution_set(path: Path) -> dict[str, str]:
    """Unit name -> body text, read from one `set_*.py` file."""
    text = path.read_text(encoding="utf-8")
    lines, units = text.splitlines(), {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef):
            units[node.name] = _body(node, lines)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    units[f"{node.name}.{item.name}"] = _body(item, lines)
    missing = [u for u in UNITS if u not in units]
    if missing:
        raise ValueError(f"{path} lacks the unit(s) {', '.join(missing)}")
    return {u: units[u] for u in UNITS}


def load_solution_sets(directory: Path = SOLUTIONS) -> list[dict[str, str]]:
    sets = [load_solution_set(p) for p in sorted(directory.glob("set_*.py"))]
    if len(sets) != 8:
        raise ValueError(f"expected eight solution sets in {directory}, found {len(sets)}")
    return sets


# --- who takes which variant -------------------------------------------------------------------


def _gf8_mul(a: int, b: int) -> int:
    """Multiplication in GF(8) = GF(2)[x] / (x^3 + x + 1)."""
    out = 0
    for _ in range(3):
        if b & 1:
            out ^= a
        b >>= 1
        a <<= 1
        if a & 0b1000:
            a ^= 0b1011
    return out


def codeword(a: int, b: int, c: int) -> tuple[int, ...]:
    """p(x) = a + b x + c x^2 over GF(8), evaluated at x = 0 .. 6: the set each unit comes from."""
    return tuple(a ^ _gf8_mul(b, x) ^ _gf8_mul(c, _gf8_mul(x, x)) for x in range(len(UNITS)))


def independent_plans(n: int, rng: random.Random) -> list[tuple[int, ...]]:
    """`n` plans, pairwise sharing at most two units; the eight pure sets come first."""
    if n > 512:
        raise ValueError(f"at most 512 independent students (GF(8) has 8^3 polynomials of degree <= 2), not {n}")
    rest = [(a, b, c) for a in range(8) for b in range(8) for c in range(8) if (b, c) != (0, 0)]
    rng.shuffle(rest)
    return [codeword(*abc) for abc in [(a, 0, 0) for a in range(8)] + rest][:n]


# --- filling the release -----------------------------------------------------------------------


def fill_cell(release_source: str, bodies: Sequence[str]) -> str:
    """Replace the cell's stubs (`# YOUR CODE HERE` + `raise NotImplementedError()`), in order, by bodies."""
    stubs = list(_STUB.finditer(release_source))
    if len(stubs) != len(bodies):
        raise ValueError(f"the cell has {len(stubs)} stub(s) but {len(bodies)} answer(s) were given")
    out, last = [], 0
    for match, body in zip(stubs, bodies, strict=True):
        out += [release_source[last:match.start()], textwrap.indent(body, match["indent"])]
        last = match.end()
    return "".join([*out, release_source[last:]])


def student_notebook(release: Any, sets: Sequence[dict[str, str]], plan: Sequence[int], answered: int,
                     rng: random.Random) -> Any:
    nb = copy.deepcopy(release)
    filled = list(CELL_UNITS)[:answered]
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in filled:
            cell.source = fill_cell(cell.source, [sets[plan[UNITS.index(u)]][u] for u in CELL_UNITS[gid]])
    if rng.random() < 0.25:  # try the code in a cell of one's own
        at = next(i for i, c in enumerate(nb.cells) if grade_id(c) == "relu_code") + 1
        nb.cells.insert(at, new_cell(rng.choice(_SCRATCH_CELLS), rng))
    return nb


# --- the course --------------------------------------------------------------------------------


def build_course(out_dir: str | Path, *, independent: int = 266, copy_groups: Sequence[CopyGroup] = (CopyGroup(),) * 12,
                 untouched: int = 4, partial: int = 6, seed: int = 0, layout: Literal["nbgrader", "flat"] = "nbgrader",
                 release: str | Path = RELEASE, solutions: str | Path = SOLUTIONS) -> dict[str, Any]:
    """Write the course under `out_dir` (see the module docstring); returns the manifest it wrote."""
    rng = random.Random(seed)
    release_nb = nbformat.read(Path(release), as_version=4)
    sets = load_solution_sets(Path(solutions))
    release_ids = {str(c.get("id")) for c in release_nb.cells}
    if len(copy_groups) > independent:
        raise ValueError("every copy group needs an independent author: more independent students needed")
    plans = independent_plans(independent + partial, rng)
    students = [Student("", "independent", plans[i]) for i in range(independent)]
    students += [Student("", "partial", plans[independent + i], cells_answered=1)
                 for i in range(partial)]
    for s in students:
        s.notebook = student_notebook(release_nb, sets, s.plan, s.cells_answered, rng)
    students += [Student("", "untouched", notebook=copy.deepcopy(release_nb)) for _ in range(untouched)]
    authors = rng.sample(students[:independent], len(copy_groups))
    groups: list[tuple[Student, list[Student], CopyGroup]] = []
    for author, group in zip(authors, copy_groups, strict=True):
        unknown = set(group.transforms) - set(TRANSFORMS)
        if unknown or group.size < 2:
            raise ValueError(f"bad copy group {group}: size >= 2, transforms from {TRANSFORMS}")
        members = [Student("", "copy", author.plan, transforms=tuple(group.transforms),
                           notebook=copy_notebook(author.notebook, group.transforms, rng, release_ids))
                   for _ in range(group.size - 1)]
        students += members
        groups.append((author, members, group))
    order = list(range(len(students)))
    rng.shuffle(order)
    for number, i in enumerate(order, start=1):
        students[i].id = f"s{number:03d}"
    for author, members, _ in groups:
        for m in members:
            m.source = author.id
    out = Path(out_dir)
    for s in students:
        path = out / "submitted" / s.id / ASSIGNMENT / f"{ASSIGNMENT}.ipynb" if layout == "nbgrader" else out / f"{s.id}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(s.notebook, path)
    copy_pairs = sorted({tuple(sorted((a.id, b.id))) for author, members, _ in groups
                         for a in [author, *members] for b in [author, *members] if a.id != b.id})
    manifest = {
        "seed": seed, "layout": layout, "assignment": ASSIGNMENT,
        "solution_sets": [f"set_{i + 1}" for i in range(len(sets))],
        "students": {s.id: s.manifest() for s in sorted(students, key=lambda s: s.id)},
        "copy_groups": [{"author": a.id, "members": sorted([a.id, *(m.id for m in ms)]), "transforms": list(g.transforms)}
                        for a, ms, g in groups],
        "copy_pairs": [list(p) for p in copy_pairs],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--independent", type=int, default=266)
    parser.add_argument("--copy-groups", type=int, default=12)
    parser.add_argument("--group-size", type=int, default=3)
    parser.add_argument("--transforms", default=",".join(TRANSFORMS),
                        help=f"comma-separated, from {', '.join(TRANSFORMS)}; 'none' for verbatim copies")
    parser.add_argument("--untouched", type=int, default=4)
    parser.add_argument("--partial", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layout", choices=("nbgrader", "flat"), default="nbgrader")
    parser.add_argument("--release", type=Path, default=RELEASE)
    args = parser.parse_args(argv)
    transforms = () if args.transforms == "none" else tuple(t.strip() for t in args.transforms.split(",") if t.strip())
    manifest = build_course(args.out_dir, independent=args.independent,
                            copy_groups=[CopyGroup(args.group_size, transforms)] * args.copy_groups,
                            untouched=args.untouched, partial=args.partial, seed=args.seed, layout=args.layout,
                            release=args.release)
    print(f"{len(manifest['students'])} students, {len(manifest['copy_groups'])} copy groups "
          f"({len(manifest['copy_pairs'])} copy pairs) -> {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
