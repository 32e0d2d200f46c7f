"""The layout the README describes: who imports whom, and how big a module may grow."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("autograder", "mlp_lab")
MAX_MODULE_LINES = 450  # "no module over about 400 lines"


def _modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


def _imports(name: str, path: Path, modules: frozenset[str] = frozenset()) -> set[str]:
    """Every module `name` imports at any depth (relative imports resolved).

    `from package import submodule` counts as importing the submodule only (when it is one of `modules`).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    # Imports under `if TYPE_CHECKING:` are for the type checker only; they make no cycle at run time.
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
                   for stmt in block.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
    return found


MODULES = dict(_modules())
NAMES = frozenset(MODULES)
GRAPH = {name: {m for m in _imports(name, path, NAMES) if m in MODULES and m != name} for name, path in MODULES.items()}


def test_the_kit_never_imports_the_grader() -> None:
    """Does the student kit stand alone (a student installs it without the grader)?"""
    offenders = {n: sorted(m for m in _imports(n, MODULES[n]) if m.split(".")[0] == "autograder")
                 for n in MODULES if n.startswith("mlp_lab")}
    assert {n: m for n, m in offenders.items() if m} == {}


def test_click_is_imported_by_the_cli_module_alone() -> None:
    users = sorted(n for n, p in MODULES.items() if any(m.split(".")[0] == "click" for m in _imports(n, p)))
    assert users == ["autograder.cli"]


def test_no_import_cycles_inside_the_packages() -> None:
    """Is the module graph free of cycles (no pair of modules that import each other, however hidden)?"""
    edges = GRAPH
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n, [n])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_about_400_lines(name: str) -> None:
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{name} has {lines} lines"
