"""The reading's first layer (`_Reading`): its state, its findings, and the cells it has read.

Each top-level statement becomes scopes, module-level bindings and stores that outlive their call;
the layers above evaluate them (`_values`, `_expressions`, `_statements`, `_scan`).
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING

from ..source import own_nodes, python_source
from ._allowlist import (
    _END,
    _LAYER_WORDS,
    _LIBRARY_CALLED,
    _MAX_DEPTH,
    _forbidden_name,
    _is_dunder,
    _origin_verdict,
)
from ._program import (
    _Binding,
    _Cls,
    _Ctx,
    _declarations,
    _depth,
    _Fn,
    _function_scope,
    _params,
    _Scope,
    _shown,
    _Store,
    _target_names,
)

if TYPE_CHECKING:
    from . import Cell

_FIX = {
    "activation": "compute it yourself from tensor operations (torch.where, torch.clamp, torch.exp, X * (X > 0))",
    "layer": "store W1, b1, W2, b2 as nn.Parameter and use matrix products (X @ W1 + b1)",
    "internals": "use torch's public tensor functions instead",
}


class _Reading:
    """One reading of a notebook; the layers above it evaluate what it has read."""

    def __init__(self, cells: Sequence[Cell], graded: Collection[str]) -> None:
        self.graded = sorted(set(graded))
        self.labels: list[str] = []
        self.trees: list[ast.Module] = []
        self.findings: dict[str, tuple[int, int]] = {}  # message -> (cell, line), for notebook order
        self.module = _Scope("module", None, None, -1, 0)
        self.fns: list[_Fn] = []
        self.classes: list[_Cls] = []
        self.fn_of: dict[int, int] = {}          # id(def or lambda node) -> function id
        self.cls_of: dict[int, int] = {}         # id(class node) -> class id
        self.scope_of: dict[int, _Scope] = {}    # id(comprehension node) -> its scope
        self.literal_getattrs: dict[int, ast.Attribute] = {}  # id(getattr(x, "a") call) -> the x.a it reads
        self.self_rebound: dict[int, bool] = {}  # function id -> does its body rebind its first parameter?
        self.events: dict[str, list[_Binding]] = {}
        self.stars: list[_Binding] = []
        self.later: dict[str, list[_Binding]] = {}   # `global x; x = ...` inside functions
        self.bindings: list[_Binding] = []
        self.stores: list[_Store] = []
        self.positions: list[tuple[int, int]] = []   # top-level position -> (cell, statement index)
        # What the analysis learns; every table only grows, so the rounds reach a fixpoint.
        self.vars: dict[tuple[int, str], set[tuple]] = {}
        self.var_const: dict[tuple[int, str], bool] = {}
        self.returns: dict[int, set[tuple]] = {}
        self.class_fields: dict[int, dict[str, set[tuple]]] = {}
        self.inst_fields: dict[int, dict[str, set[tuple]]] = {}
        self.fn_fields: dict[int, dict[str, set[tuple]]] = {}
        self.wildcard: dict[str, set[tuple]] = {}
        self.method_of: dict[int, set[int]] = {}
        self.wild_methods: set[int] = set()
        self.bases: dict[int, list[int]] = {}
        self.reach_fn: dict[int, str] = {}
        self.reach_cls: dict[int, str] = {}
        self.called: set[str] = set()
        self.graded_fns: set[int] = set()    # functions a graded name is bound to (the probe calls them)
        self.changed = False
        self.binding_cache: dict[tuple[int, bool], frozenset[tuple]] = {}
        self.in_progress: set[tuple[int, bool]] = set()
        self._read(cells)

    # -- findings ----------------------------------------------------------------------------

    def _report(self, cell: int, node: ast.AST | None, message: str) -> None:
        line = getattr(node, "lineno", None)
        label = self.labels[cell] if 0 <= cell < len(self.labels) else "the notebook"
        where = label + (f", line {line}" if line else "")
        self.findings.setdefault(f"{where}: {message}", (cell, line or 0))

    def _verdict(self, path: str, node: ast.AST, ctx: _Ctx) -> None:
        """Report an imported object reachable code may not use."""
        verdict = _origin_verdict(path)
        if verdict is None or not ctx.emit:
            return
        kind, full = verdict
        shown = _shown(node)
        alias = "" if shown == full else f" (= {full})"
        if kind == "unverifiable":
            self._report(ctx.cell, node, f"`{shown}`{alias} comes from a library the from-scratch check does not "
                                         f"follow; {ctx.root} must be built from torch's tensor functions "
                                         "(torch.exp, torch.where, matmul)")
        else:
            what = {"activation": "a built-in activation", "layer": "a torch.nn layer",
                    "internals": "PyTorch's internals"}[kind]
            self._report(ctx.cell, node, f"`{shown}`{alias} is {what}; {ctx.root} must not use it: {_FIX[kind]}")

    def _unverifiable(self, ctx: _Ctx, node: ast.AST, what: str, fix: str) -> None:
        if ctx.emit:
            self._report(ctx.cell, node, f"`{_shown(node)}` {what}, which the from-scratch check cannot verify "
                                         f"({ctx.root} reaches it); {fix}")

    def _name_check(self, name: str, node: ast.AST, ctx: _Ctx) -> None:
        """A method or attribute named like an activation or layer (X.tanh(), X.relu_())."""
        if _forbidden_name(name) and ctx.emit:
            kind = "layer" if _LAYER_WORDS.search(name) or name[:1].isupper() else "activation"
            what = "a torch.nn layer" if kind == "layer" else "a built-in activation"
            self._report(ctx.cell, node, f"`{_shown(node)}` is {what}; {ctx.root} must not use it: {_FIX[kind]}")

    # -- reading the cells -------------------------------------------------------------------

    def _read(self, cells: Sequence[Cell]) -> None:
        empty = ast.Module(body=[], type_ignores=[])
        pos = 0
        for cell in cells:
            index = len(self.labels)
            self.labels.append(cell.label)
            try:
                source = python_source(cell.source)
                tree = empty if source is None else ast.parse(source)
            except SyntaxError:  # the cell does not run: the child reports its error
                tree = empty
            except Exception:
                self._report(index, None, "this cell cannot be read (too large or too deeply nested), so the "
                                          "from-scratch check cannot verify the notebook; simplify the cell")
                tree = empty
            if tree is not empty and _depth(tree) > _MAX_DEPTH:
                self._report(index, None, "this cell is nested too deeply for the from-scratch check to read; "
                                          "split long expressions over several statements")
                tree = empty
            self.trees.append(tree)
            for stmt_index, stmt in enumerate(tree.body):
                self.positions.append((index, stmt_index))
                self._build(stmt, index, pos)
                pos += 1

    def _new_fn(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, cell: int, outer: _Scope,
                pos: int) -> _Scope:
        scope = _Scope("function", node, outer, cell, pos)
        fid = len(self.fns)
        scope.fn = fid
        decorators = {d.id if isinstance(d, ast.Name) else d.attr if isinstance(d, ast.Attribute) else ""
                      for d in getattr(node, "decorator_list", [])}
        fn = _Fn(fid, node, getattr(node, "name", "<lambda>"), cell, scope, outer, _params(node.args),
                 outer.cls if outer.kind == "class" else None, static="staticmethod" in decorators,
                 classmethod="classmethod" in decorators)
        fn.generator = any(isinstance(n, ast.Yield | ast.YieldFrom) for n in own_nodes(node))
        self.fns.append(fn)
        self.fn_of[id(node)] = fid
        scope.locals.update(fn.params)
        _declarations(node, scope)
        return scope

    def _build(self, top: ast.stmt, cell: int, pos: int) -> None:
        """Scopes, module-level bindings and outliving stores of one top-level statement."""
        stack: list[tuple[ast.AST, _Scope, bool]] = [(top, self.module, False)]  # node, scope, conditional
        while stack:
            node, scope, cond = stack.pop()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                outside = [*getattr(node, "decorator_list", []), *node.args.defaults,
                           *[d for d in node.args.kw_defaults if d is not None]]
                if not isinstance(node, ast.Lambda):
                    for d in node.decorator_list:
                        self._decorator_store(d, node, scope, pos, cell)
                stack.extend((child, scope, cond) for child in outside)
                inner = self._new_fn(node, cell, scope, pos)
                if isinstance(node, ast.Lambda):
                    stack.append((node.body, inner, cond))
                else:
                    self._bind(scope, node.name, "def", cell, pos, cond, node=node)
                    stack.extend((stmt, inner, cond) for stmt in node.body)
                continue
            if isinstance(node, ast.ClassDef):
                for d in node.decorator_list:
                    self._decorator_store(d, node, scope, pos, cell)
                stack.extend((child, scope, cond) for child in (*node.decorator_list, *node.bases,
                                                                *[k.value for k in node.keywords]))
                inner = _Scope("class", node, scope, cell, pos)
                _declarations(node, inner)
                cid = len(self.classes)
                inner.cls = cid
                self.classes.append(_Cls(cid, node, cell, inner, scope))
                self.cls_of[id(node)] = cid
                self._bind(scope, node.name, "class", cell, pos, cond, node=node)
                stack.extend((stmt, inner, cond) for stmt in node.body)
                continue
            if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
                inner = _Scope("comp", node, scope, cell, pos)
                self.scope_of[id(node)] = inner
                for i, gen in enumerate(node.generators):
                    stack.append((gen.iter, scope if i == 0 else inner, cond))
                    inner.locals.update(n.id for n in _target_names(gen.target))
                    stack.extend((test, inner, cond) for test in gen.ifs)
                parts = ("key", "value") if isinstance(node, ast.DictComp) else ("elt",)
                stack.extend((getattr(node, part), inner, cond) for part in parts)
                continue
            self._bindings_of(node, scope, cell, pos, cond)
            compound = isinstance(node, ast.If | ast.For | ast.AsyncFor | ast.While | ast.Try | ast.TryStar |
                                  ast.With | ast.AsyncWith | ast.Match)
            for child in ast.iter_child_nodes(node):
                stack.append((child, scope, cond or compound))

    def _bindings_of(self, node: ast.AST, scope: _Scope, cell: int, pos: int, cond: bool) -> None:
        label = self.labels[cell]
        if isinstance(node, ast.Global):
            scope.globals.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            scope.nonlocals.update(node.names)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            self._import(node, scope, cell, pos, cond)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                self._assign(target, node.value, scope, cell, pos, cond)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self._assign(node.target, node.value, scope, cell, pos, cond)
        elif isinstance(node, ast.AugAssign):
            self._assign(node.target, node.value, scope, cell, pos, True)
        elif isinstance(node, ast.NamedExpr):
            owner = scope
            while owner.kind == "comp" and owner.parent is not None:
                owner = owner.parent
            self._assign(node.target, node.value, owner, cell, pos, True)
        elif isinstance(node, ast.For | ast.AsyncFor):
            for name in _target_names(node.target):
                self._bind(scope, name.id, "unknown", cell, pos, True,
                           why=f"`{name.id}`, bound by a `for` loop ({label}, line {node.lineno})")
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            for name in _target_names(node.optional_vars):
                self._bind(scope, name.id, "unknown", cell, pos, True,
                           why=f"`{name.id}`, bound by `with` ({label}, line {node.optional_vars.lineno})")
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self._bind(scope, node.name, "unknown", cell, pos, True,
                       why=f"`{node.name}`, bound by `except` ({label}, line {node.lineno})")
        elif isinstance(node, ast.MatchAs | ast.MatchStar | ast.MatchMapping):
            name = node.rest if isinstance(node, ast.MatchMapping) else node.name
            if name:
                self._bind(scope, name, "unknown", cell, pos, True,
                           why=f"`{name}`, bound by `match` ({label}, line {node.lineno})")
        elif isinstance(node, ast.Call):
            self._call_store(node, scope, cell, pos)

    def _bind(self, scope: _Scope, name: str, kind: str, cell: int, pos: int, cond: bool,
              node: ast.AST | None = None, target: ast.AST | None = None, path: str = "", why: str = "") -> None:
        if scope.kind != "module" and name not in scope.globals:
            scope.locals.add(name)
            return
        binding = _Binding(len(self.bindings), name, kind, cell, pos, cond, node, target, scope, path, why)
        self.bindings.append(binding)
        if scope.kind == "module":
            self.events.setdefault(name, []).append(binding)
        else:  # `global name` inside a function: it may happen at any time
            if kind == "value":
                binding.kind = "later"
            self.later.setdefault(name, []).append(binding)

    def _import(self, node: ast.Import | ast.ImportFrom, scope: _Scope, cell: int, pos: int, cond: bool) -> None:
        label = self.labels[cell]
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                self._bind(scope, name, "import", cell, pos, cond, node=node,
                           path=alias.name if alias.asname else name)
            return
        module = node.module or ""
        for alias in node.names:
            if alias.name == "*":
                star = _Binding(len(self.bindings), "*", "star", cell, pos, cond, node, None, scope, "",
                                f"a name that `from {module} import *` may bind ({label}, line {node.lineno})")
                self.bindings.append(star)
                if scope.kind == "module":
                    self.stars.append(star)
            elif node.level:
                self._bind(scope, alias.asname or alias.name, "unknown", cell, pos, cond, node=node,
                           why=f"`{alias.name}`, imported from a relative module ({label}, line {node.lineno})")
            else:
                self._bind(scope, alias.asname or alias.name, "import", cell, pos, cond, node=node,
                           path=f"{module}.{alias.name}")

    def _assign(self, target: ast.AST, value: ast.AST, scope: _Scope, cell: int, pos: int, cond: bool) -> None:
        stack = [target]
        while stack:
            t = stack.pop()
            if isinstance(t, ast.Name):
                self._bind(scope, t.id, "value", cell, pos, cond, node=value, target=target)
            elif isinstance(t, ast.Tuple | ast.List):
                stack.extend(t.elts)
            elif isinstance(t, ast.Starred):
                stack.append(t.value)
            elif isinstance(t, ast.Attribute):
                self.stores.append(_Store("attr", cell, t, t.value, t.attr, value, scope, pos))

    def _decorator_store(self, decorator: ast.AST, defined: ast.AST, scope: _Scope, pos: int, cell: int) -> None:
        # A candidate `@d2l.add_to_class(C)`: confirmed when its callee is evaluated.
        if isinstance(decorator, ast.Call) and len(decorator.args) == 1 and not decorator.keywords:
            self.stores.append(_Store("decorator", cell, decorator, decorator.args[0],
                                      getattr(defined, "name", None), None, scope, pos, defined))

    def _call_store(self, node: ast.Call, scope: _Scope, cell: int, pos: int) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) == 3:
            name = node.args[1]
            attr = name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else None
            self.stores.append(_Store("setattr", cell, node, node.args[0], attr, node.args[2], scope, pos))
        elif isinstance(func, ast.Call) and len(func.args) == 1 and len(node.args) == 1 and not func.keywords:
            arg = node.args[0]  # add_to_class(C)(f): the attribute is f's __name__ (a def's, if f names one)
            attr = arg.id if isinstance(arg, ast.Name) else None
            self.stores.append(_Store("call", cell, node, func.args[0], attr, arg, scope, pos))

    # -- what the layers share ---------------------------------------------------------------

    def _visible(self, name: str, pos: int) -> tuple[list[_Binding], bool]:
        """The module-level bindings a read at `pos` may see, and whether none of them is certain."""
        events = self.events.get(name, [])
        if self.stars:
            events = sorted([*events, *self.stars], key=lambda b: (b.pos, b.id))
        result: list[_Binding] = []
        certain = False
        for b in events:
            if b.pos > pos or (b.pos == pos and not b.conditional):
                break  # a statement's own binding happens after it reads its names
            if b.conditional or b.kind == "star":
                result.append(b)
            else:
                result, certain = [b], True
        return result + self.later.get(name, []), not certain

    def _module_pos(self, scope: _Scope) -> int:
        return _END if scope.in_function() else scope.pos

    def _self_class(self, fn: _Fn) -> set[int]:
        if fn.static:
            return set()
        classes = set(self.method_of.get(fn.id, set()))
        if fn.in_class is not None:
            classes.add(fn.in_class)
        return classes

    def _is_self(self, node: ast.AST, ctx: _Ctx) -> bool:
        owner = _function_scope(ctx.scope)
        if not isinstance(node, ast.Name) or owner is None or owner.fn is None:
            return False
        fn = self.fns[owner.fn]
        return fn.params[:1] == [node.id] and bool(self._self_class(fn)) and not fn.classmethod

    def _mark_fn(self, fid: int, root: str) -> None:
        if fid not in self.reach_fn:
            self.reach_fn[fid] = root
            self.changed = True

    def _mark_cls(self, cid: int, root: str) -> None:
        if cid not in self.reach_cls:
            self.reach_cls[cid] = root
            self.changed = True

    def _add(self, table: dict, key: object, atoms: Iterable[tuple]) -> None:
        current = table.setdefault(key, set())
        before = len(current)
        current.update(atoms)
        if len(current) != before:
            self.changed = True

    def _mention(self, atoms: frozenset[tuple], ctx: _Ctx) -> None:
        """Atoms produced by reachable code: their functions and classes become reachable."""
        if ctx.emit:
            for a in atoms:
                if a[0] in ("fn", "bound"):
                    self._mark_fn(a[1], ctx.root)
                elif a[0] in ("cls", "inst"):
                    self._mark_cls(a[1], ctx.root)

    def _describe(self, atom: tuple) -> str:
        if atom[0] in ("item", "method"):
            return "a value fetched from a container at run time"
        if atom[0] == "persist":
            return f"something held by {atom[1]}, an object other cells can change"
        return str(atom[1])

    def _library_called(self, name: str) -> bool:
        return name in _LIBRARY_CALLED or name in self.called or _is_dunder(name) or name.startswith("_")
