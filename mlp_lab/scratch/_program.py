"""The reading's vocabulary: atoms, and the program's scopes, functions, classes and bindings.

Atoms are what a value may be; the program is what `_Reading` builds from the cells (scopes,
functions, classes, module-level bindings, stores that outlive their call) and the context an
expression is evaluated in, with the syntax helpers they need.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from ..source import own_nodes
from ._allowlist import _MAX_DEPTH

# --- atoms -----------------------------------------------------------------------------------

FRESH = ("fresh",)   # computed while the graded code runs: tensors, numbers, new containers
ITEM = ("item",)     # fetched from a container at run time
EXT = ("ext",)       # an attribute supplied by a library base class (nn.Module, d2l.Classifier)
Atom = tuple
Atoms = frozenset
_NONE: frozenset[tuple] = frozenset()
# ("method", id(node)): `node`, an attribute of an item (`name.startswith`): callable as `node(...)` only.
_UNCALLABLE = ("item", "method", "persist", "unknown", "seen")  # "seen": unknown, already reported where it arose


def _persist(where: str) -> tuple:
    return ("persist", where)


def _unknown(why: str) -> tuple:
    return ("unknown", why)


# --- the program: scopes, functions, classes, bindings ---------------------------------------

class _Scope:
    __slots__ = ("cell", "cls", "fn", "globals", "kind", "locals", "node", "nonlocals", "parent", "pos")

    def __init__(self, kind: str, node: ast.AST | None, parent: _Scope | None, cell: int, pos: int) -> None:
        self.kind, self.node, self.parent, self.cell, self.pos = kind, node, parent, cell, pos
        self.locals: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.fn: int | None = None
        self.cls: int | None = None

    def in_function(self) -> bool:
        s: _Scope | None = self
        while s is not None:
            if s.kind == "function":
                return True
            s = s.parent
        return False


@dataclass
class _Fn:
    id: int
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
    name: str
    cell: int
    scope: _Scope          # its own scope
    outer: _Scope          # where it is defined
    params: list[str]
    in_class: int | None   # the class whose body defines it
    static: bool = False
    classmethod: bool = False
    generator: bool = False


@dataclass
class _Cls:
    id: int
    node: ast.ClassDef
    cell: int
    scope: _Scope
    outer: _Scope


@dataclass
class _Binding:
    """One way a module-level name gets its value."""

    id: int
    name: str
    kind: str                     # value, def, class, import, unknown, star, later
    cell: int
    pos: int
    conditional: bool
    node: ast.AST | None = None   # the value expression, def or class
    target: ast.AST | None = None
    scope: _Scope | None = None   # where the value expression is evaluated
    path: str = ""                # import origin
    why: str = ""                 # for unknown


@dataclass
class _Store:
    """An attribute store that may outlive the call that makes it (class, module, unknown object).

    kind: "attr" (`x.a = v`, `setattr(x, "a", v)`), "decorator" (a candidate `@d2l.add_to_class(C)`
    on `defined`), "call" (a candidate `d2l.add_to_class(C)(f)`).
    """

    kind: str
    cell: int
    node: ast.AST                 # for the message's line
    receiver: ast.AST
    attr: str | None              # None: a computed name (setattr(x, name, v))
    value: ast.AST | None
    scope: _Scope
    pos: int
    defined: ast.AST | None = None


@dataclass
class _Ctx:
    scope: _Scope
    cell: int                     # the cell the evaluated code is in (for messages)
    pos: int                      # top-level position, for module-level code
    emit: bool                    # report findings and mark what is reached
    root: str                     # the graded name that reaches this code
    pessimistic: bool = False     # function-local names are unknown (a store that outlives the call)

    def quiet(self) -> _Ctx:
        return _Ctx(self.scope, self.cell, self.pos, False, self.root, self.pessimistic)

    def inside(self, scope: _Scope) -> _Ctx:
        return _Ctx(scope, self.cell, self.pos, self.emit, self.root, self.pessimistic)


def _target_names(target: ast.AST) -> Iterable[ast.Name]:
    stack = [target]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            yield node
        elif isinstance(node, ast.Tuple | ast.List):
            stack.extend(node.elts)
        elif isinstance(node, ast.Starred):
            stack.append(node.value)


def _params(args: ast.arguments) -> list[str]:
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    if args.vararg:
        names.append(args.vararg.arg)
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        names.append(args.kwarg.arg)
    return names


def _is_constant(node: ast.AST) -> bool:
    """A value that cannot hold a callable and cannot change: numbers, strings, tuples of them."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Constant):
            continue
        if isinstance(n, ast.Tuple):
            stack.extend(n.elts)
        elif isinstance(n, ast.UnaryOp):
            stack.append(n.operand)
        elif isinstance(n, ast.BinOp):
            stack += [n.left, n.right]
        else:
            return False
    return True


def _depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if d > _MAX_DEPTH:
            return d
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _shown(node: ast.AST, limit: int = 60) -> str:
    try:
        text = ast.unparse(node)
    except Exception:
        text = type(node).__name__
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --- syntax helpers --------------------------------------------------------------------------

def _order(atom: tuple) -> tuple[int, str]:
    """A fixed order of atoms (set order varies with string hashing): the most telling first."""
    rank = {"persist": 0, "unknown": 1, "seen": 2, "item": 3, "method": 3}.get(atom[0], 4)
    return rank, repr(atom)


def _function_scope(scope: _Scope | None) -> _Scope | None:
    """The function a scope's code runs in (through comprehensions), if any."""
    while scope is not None and scope.kind == "comp":
        scope = scope.parent
    return scope if scope is not None and scope.kind == "function" else None


def _declarations(node: ast.AST, scope: _Scope) -> None:
    """`global` and `nonlocal` names of a function or class body (they apply to the whole body)."""
    for n in own_nodes(node):
        if isinstance(n, ast.Global):
            scope.globals.update(n.names)
        elif isinstance(n, ast.Nonlocal):
            scope.nonlocals.update(n.names)


def _index_path(target: ast.AST, name: str) -> list[int] | None:
    """Where `name` sits in an assignment target: [] for `name = ...`, [1] for `a, name = ...`."""
    stack: list[tuple[ast.AST, list[int]]] = [(target, [])]
    while stack:
        t, path = stack.pop()
        if isinstance(t, ast.Name) and t.id == name:
            return path
        if isinstance(t, ast.Tuple | ast.List):
            if any(isinstance(e, ast.Starred) for e in t.elts):
                return None
            stack.extend((e, [*path, i]) for i, e in enumerate(t.elts))
    return None
