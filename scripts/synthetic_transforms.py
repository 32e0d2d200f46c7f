"""The copy transforms of the synthetic course: what a student does to disguise a copied notebook.

Used by `synthetic_course.py` (run it, not this).  Each transform takes a cell's source (or, for
`reorder`, the notebook) and a seeded `random.Random`, and returns the changed copy, still Python:

    rename      every name the student chose (locals, arguments, helpers), consistently, by ast position
    reorder     sigmoid and tanh swapped or tanh split into a cell of its own; MLPScratch's methods
                swapped; collapse_affine's answer cell moved up to the imports
    comments    comments removed, others added (whole-line and trailing)
    whitespace  spacing around operators and commas, blank lines added and dropped
    edit        one small real change: a matmul spelled out, an extra line, a result named, a literal
"""

from __future__ import annotations

import ast
import copy
import random
import re
from collections.abc import Sequence
from typing import Any

import nbformat

__all__ = ["ANSWER_CELLS", "TRANSFORMS", "comments", "copy_notebook", "edit", "grade_id", "new_cell", "rename",
           "reorder", "whitespace"]

TRANSFORMS = ("rename", "reorder", "comments", "whitespace", "edit")
# The answer cells the synthetic students fill; the deep MLP's (deep_code) came later and stays the stub.
ANSWER_CELLS = ("relu_code", "sigmoid_tanh_code", "collapse_code", "scratch_code", "concise_code")
_COMMENTS = ("# as in the lecture", "# numerically stable for large |x|", "# shapes: n x d -> n x h -> n x q",
             "# TODO: check this again", "# works, tested below", "# hidden layer first", "# see d2l 5.1")
_NEW_NAMES = ("inp", "val", "tmp", "res", "arr", "t0", "z", "u", "acc", "buf", "cur", "m", "k2", "aa")


def grade_id(cell: Any) -> str:
    return str(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", ""))


def new_cell(source: str, rng: random.Random) -> Any:
    cell = nbformat.v4.new_code_cell(source)
    cell["id"] = f"{rng.getrandbits(48):012x}"
    return cell


def _local_names(tree: ast.Module) -> set[str]:
    """Names a student chose: locals and arguments of functions (not self, not MLP's keyword arguments)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            if node.name != "__init__":
                names |= {a.arg for a in node.args.args if a.arg != "self"}
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
                elif isinstance(sub, ast.FunctionDef) and sub is not node:
                    names.add(sub.name)
    return names


def rename(source: str, rng: random.Random) -> str:
    """Rename every local name consistently (`H` -> `acc`, `X` -> `inp` ...), by its ast positions."""
    tree = ast.parse(source)
    local = sorted(_local_names(tree))
    taken = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | set(local)
    pool = [n for n in _NEW_NAMES if n not in taken]
    rng.shuffle(pool)
    mapping = {old: (pool.pop() if pool else f"{old}_{i}") for i, old in enumerate(local)}
    lines = source.splitlines(keepends=True)
    spots: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in mapping:
            spots.append((node.lineno, node.col_offset, node.id))
        elif isinstance(node, ast.arg) and node.arg in mapping:
            spots.append((node.lineno, node.col_offset, node.arg))
        elif isinstance(node, ast.FunctionDef) and node.name in mapping:
            spots.append((node.lineno, lines[node.lineno - 1].index("def ", node.col_offset) + 4, node.name))
    for row, col, old in sorted(spots, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + mapping[old] + line[col + len(old):]
    return "".join(lines)


def _split_defs(source: str) -> tuple[str, list[str]]:
    """Text before the first def, and each top-level def's text (with the blank lines after it)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    head = "\n".join(lines[: defs[0].lineno - 1])
    chunks = ["\n".join(lines[d.lineno - 1: d.end_lineno]) for d in defs]
    return head, chunks


def _swap_methods(source: str) -> str:
    """MLPScratch with forward before __init__."""
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    methods = [n for n in cls.body if isinstance(n, ast.FunctionDef)]
    lines = source.splitlines()
    head = lines[: methods[0].lineno - 1]
    texts = ["\n".join(lines[m.lineno - 1: m.end_lineno]) for m in methods]
    return "\n".join(head) + "\n" + "\n\n".join(reversed(texts)) + "\n"


def reorder(nb: Any, rng: random.Random) -> Any:
    """Swap functions and methods, split tanh into a cell of its own, move collapse_affine's cell up."""
    cells = {grade_id(c): c for c in nb.cells if grade_id(c) in ANSWER_CELLS}
    st = cells["sigmoid_tanh_code"]
    head, defs = _split_defs(st.source)
    if rng.random() < 0.5:
        st.source = head + "\n" + "\n\n\n".join(reversed(defs)) + "\n"
    else:  # sigmoid stays in the answer cell; tanh moves to a new cell right after it
        st.source = head + "\n" + defs[0] + "\n"
        nb.cells.insert(nb.cells.index(st) + 1, new_cell(defs[1] + "\n", rng))
    if rng.random() < 0.5:
        cells["scratch_code"].source = _swap_methods(cells["scratch_code"].source)
    collapse = cells["collapse_code"]
    nb.cells.remove(collapse)
    nb.cells.insert(next(i for i, c in enumerate(nb.cells) if grade_id(c) == "imports") + 1, collapse)
    return nb


def _string_rows(source: str) -> set[int]:
    """Rows (1-based) inside a multi-line string, where a comment would change the string."""
    rows: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.end_lineno != node.lineno:
            rows |= set(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return rows


def comments(source: str, rng: random.Random) -> str:
    """Drop the comments (whole-line and trailing) and add others, whole-line and trailing."""
    inside = _string_rows(source)
    out: list[str] = []
    for row, line in enumerate(source.splitlines(), start=1):
        if row not in inside:
            stripped = re.sub(r"\s+#[^'\"]*$", "", line)
            if stripped.lstrip().startswith("#"):
                continue
            line = stripped
            if line.strip() and rng.random() < 0.2:
                out.append(line[: len(line) - len(line.lstrip())] + rng.choice(_COMMENTS))
            elif line.strip() and rng.random() < 0.15:
                line += "  " + rng.choice(_COMMENTS)
        out.append(line)
    return "\n".join(out) + "\n"


_OPERATORS = re.compile(r"\s*(==|!=|<=|>=|\*\*|//|[-+*/@]=|[=+*/@<>,])\s*")


def _respace(line: str, *, tight: bool) -> str:
    """`a = b * c` -> `a=b*c` (tight) or the reverse; commas always get one space after them."""
    def spaced(m: re.Match[str]) -> str:
        return ", " if m[1] == "," else m[1] if tight else f" {m[1]} "

    indent = line[: len(line) - len(line.lstrip())]
    return indent + _OPERATORS.sub(spaced, line.strip()).replace("  ", " ").rstrip()


def whitespace(source: str, rng: random.Random) -> str:
    """Respace operators and commas on some lines ('a=b*c' or 'a = b * c'), add and drop blank lines."""
    inside = _string_rows(source)
    out: list[str] = []
    for row, line in enumerate(source.splitlines(), start=1):
        if not line.strip():
            if rng.random() < 0.5:
                continue
        elif row not in inside and "#" not in line and "'" not in line and '"' not in line and rng.random() < 0.6:
            line = _respace(line, tight=rng.random() < 0.5)
        out.append(line)
        if line.strip() and rng.random() < 0.1:
            out.append("")
    return "\n".join(out) + "\n"


def _first_code_line(pattern: str, repl: str, source: str) -> str:
    """`re.sub(pattern, repl)` on the first line that matches and holds no string or comment."""
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if not re.search("[\"'#]", line) and re.search(pattern, line):
            lines[i] = re.sub(pattern, repl, line, count=1)
            break
    return "\n".join(lines)


def edit(source: str, rng: random.Random) -> str:
    """One small real change: a matmul spelled out, an extra line, a result named, a literal rewritten."""
    def matmul(s: str) -> str:
        return _first_code_line(r"(?<![\w.*/@])([A-Za-z_][\w.]*) @ ([A-Za-z_][\w.]*)(?![\w.]*\s*[@*/])",
                                r"torch.matmul(\1, \2)", s)

    def extra_line(s: str) -> str:
        return re.sub(r"^(def \w+\((\w+)[^)]*\):\n(?:[ \t]+\"\"\".*\"\"\"\n)?)([ \t]+)",
                      r"\1\3\2 = torch.as_tensor(\2)\n\3", s, count=1, flags=re.M)

    def named_result(s: str) -> str:
        return re.sub(r"^([ \t]+)return (?!.*,)(.+)$", r"\1result = \2\n\1return result", s, count=1, flags=re.M)

    def literal(s: str) -> str:
        return _first_code_line(r"(?<![\w.])1 / ", "1.0 / ", s)

    edits = [matmul, extra_line, named_result, literal]
    rng.shuffle(edits)
    for fn in edits:
        changed = fn(source)
        if changed != source:
            ast.parse(changed)
            return changed
    return source


def copy_notebook(original: Any, transforms: Sequence[str], rng: random.Random, release_ids: set[str]) -> Any:
    """A copy of a student's notebook with `transforms` applied to the student's cells.

    `release_ids`: the release's cell ids; its cells other than the answer cells are left alone.
    """
    nb = copy.deepcopy(original)
    if "reorder" in transforms:
        nb = reorder(nb, rng)
    if "edit" in transforms:  # two small edits, in two different answer cells
        answers = [c for c in nb.cells if grade_id(c) in ANSWER_CELLS]
        rng.shuffle(answers)
        edited = 0
        for cell in answers:
            before, cell.source = cell.source, edit(cell.source, rng)
            edited += cell.source != before
            if edited == 2:
                break
    for cell in nb.cells:
        if cell.cell_type != "code" or (cell.get("id") in release_ids and grade_id(cell) not in ANSWER_CELLS):
            continue
        for name, fn in (("rename", rename), ("comments", comments), ("whitespace", whitespace)):
            if name in transforms:
                cell.source = fn(cell.source, rng)
        ast.parse(cell.source)  # a copy is still Python
    return nb
