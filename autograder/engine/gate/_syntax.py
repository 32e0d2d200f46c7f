"""What the gate reads off the syntax tree: dotted names, parameters, nesting, and scopes."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from mlp_lab.source import own_nodes

from ._types import MAX_DEPTH


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not _is_dunder(name)


def _shown(node: ast.AST, limit: int = 70) -> str:
    try:
        text = " ".join(ast.unparse(node).split())
    except Exception:
        text = type(node).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _root(path: str) -> str:
    return path.split(".")[0]


def _alias(node: ast.AST, parent: ast.AST | None, scope: _Scope) -> bool:
    """`F = torch.nn.functional`: a module bound to a plain name the gate tracks (not in a class body,
    where it would become an attribute, and not onto an attribute or a subscript)."""
    if not (isinstance(parent, ast.Assign | ast.AnnAssign) and parent.value is node) or scope.kind == "class":
        return False
    targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
    return all(isinstance(t, ast.Name) for t in targets)


def _first_param(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> str:
    positional = [*fn.args.posonlyargs, *fn.args.args]
    return positional[0].arg if positional else ""


def _rebinds(fn: ast.AST, name: str) -> bool:
    """Does anything in `fn` (nested scopes included) assign or delete `name`?"""
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store | ast.Del)
               for n in ast.walk(fn))


def _zero_arg_super(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
            and not node.args and not node.keywords)


def _literal_getattr(node: ast.AST) -> str | None:
    """"mro" for getattr(C, "mro") (and hasattr): the literal attribute name such a call reads, else None."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
        return node.args[1].value
    return None


def _saves_hyperparameters(fn: ast.AST) -> bool:
    """Does the function call `<x>.save_hyperparameters(...)` (which copies its caller's locals onto self)?"""
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "save_hyperparameters"
               for n in own_nodes(fn))


def _depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        if d > deepest:
            deepest = d
            if d > MAX_DEPTH:
                return d
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


# --- scopes (which builtins a name can still be) -----------------------------------------------

@dataclass
class _Scope:
    kind: str                       # module, function, class
    parent: _Scope | None
    locals: set[str]
    globals: set[str]
    self_param: str | None = None   # a method whose first parameter is always an instance (_Gate._methods)


def _bound_names(node: ast.AST) -> Iterable[str]:
    """Names a function, lambda or comprehension binds in its own scope."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        args = node.args
        for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if a is not None:
                yield a.arg
        body = node.body if isinstance(node.body, list) else [node.body]
    elif isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
        for gen in node.generators:
            yield from (n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name))
        return
    else:
        body = node.body  # type: ignore[attr-defined]
    stack = list(body)
    while stack:
        n = stack.pop()
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield n.name
            continue
        if isinstance(n, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            continue
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del):
            yield n.id
        elif isinstance(n, ast.Import | ast.ImportFrom):
            for alias in n.names:
                yield (alias.asname or alias.name).split(".")[0]
        elif isinstance(n, ast.ExceptHandler) and n.name:
            yield n.name
        stack.extend(ast.iter_child_nodes(n))


def _declared_globals(node: ast.AST) -> set[str]:
    out: set[str] = set()
    stack = list(ast.iter_child_nodes(node))
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Global | ast.Nonlocal):
            out.update(n.names)
        if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(n))
    return out
