"""The reading's fourth layer (`_Statements`): statements, and the reachable functions and classes."""

from __future__ import annotations

import ast
from collections.abc import Sequence

from ._allowlist import _ALLOWED_BASES, _ALLOWED_METACLASSES, _END, _normalise, _origin_verdict
from ._expressions import _Expressions
from ._program import (
    _UNCALLABLE,
    FRESH,
    _Ctx,
    _function_scope,
    _is_constant,
    _order,
    _Scope,
    _shown,
    _unknown,
)


class _Statements(_Expressions):
    """Statements, and the analysis of each reachable function and class."""

    # -- statements --------------------------------------------------------------------------

    def _bind_target(self, target: ast.AST, atoms: frozenset[tuple], ctx: _Ctx, stmt: ast.AST) -> None:
        if isinstance(target, ast.Name):
            scope = ctx.scope
            if isinstance(stmt, ast.NamedExpr):
                while scope.kind == "comp" and scope.parent is not None:
                    scope = scope.parent
            if scope.kind == "module" or target.id in scope.globals:
                return  # module-level names are read through their _Binding
            owner: _Scope | None = scope
            if target.id in scope.nonlocals:
                owner = scope.parent
                while owner is not None and not (owner.kind == "function" and target.id in owner.locals):
                    owner = owner.parent
                if owner is None:
                    return
            key = (id(owner), target.id)
            self._add(self.vars, key, atoms)
            value = getattr(stmt, "value", None)
            constant = isinstance(stmt, ast.Assign | ast.AnnAssign) and value is not None and _is_constant(value)
            self.var_const[key] = self.var_const.get(key, True) and constant
            if owner.kind == "class" and owner.cls is not None:  # a class attribute: shared, outlives calls
                kept = atoms if constant or value is None else self._persistent(atoms, value, target.id, owner.cell)
                self._add(self.class_fields.setdefault(owner.cls, {}), target.id, kept)
        elif isinstance(target, ast.Tuple | ast.List):
            items = self._items(atoms) | (atoms - {FRESH})
            for e in target.elts:
                self._bind_target(e, items, ctx, stmt)
        elif isinstance(target, ast.Starred):
            self._bind_target(target.value, frozenset({FRESH}) | atoms, ctx, stmt)
        elif isinstance(target, ast.Attribute):
            receiver = self.ev(target.value, ctx)
            if self._is_self(target.value, ctx):
                for a in receiver:
                    if a[0] == "inst":
                        self._add(self.inst_fields.setdefault(a[1], {}), target.attr, atoms)
        elif isinstance(target, ast.Subscript):
            self.ev(target.value, ctx)
            self.ev(target.slice, ctx)

    def _assign_stmt(self, targets: Sequence[ast.AST], value: ast.AST, ctx: _Ctx, stmt: ast.AST) -> None:
        if (len(targets) == 1 and isinstance(targets[0], ast.Tuple | ast.List)
                and isinstance(value, ast.Tuple | ast.List) and len(targets[0].elts) == len(value.elts)
                and not any(isinstance(e, ast.Starred) for e in (*targets[0].elts, *value.elts))):
            for t, v in zip(targets[0].elts, value.elts, strict=True):  # a, b = x, y: element-wise
                self._bind_target(t, self.ev(v, ctx), ctx, ast.Assign(targets=[t], value=v))
            return
        atoms = self.ev(value, ctx)
        for target in targets:
            self._bind_target(target, atoms, ctx, stmt)

    def _block(self, body: Sequence[ast.stmt], ctx: _Ctx) -> None:
        stack: list[ast.stmt] = list(reversed(body))
        while stack:
            stack.extend(reversed(self._stmt(stack.pop(), ctx)))

    def _stmt(self, stmt: ast.stmt, ctx: _Ctx) -> list[ast.stmt]:
        """Evaluate one statement; return the statements nested in it."""
        label = self.labels[ctx.cell]
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            fid = self.fn_of[id(stmt)]
            self._defaults(fid, ctx)
            atoms = self._define(fid, ctx)
            self._bind_target(ast.Name(id=stmt.name, ctx=ast.Store()), atoms, ctx, stmt)
            if ctx.scope.kind == "class":  # the methods of a reachable class are entry points
                self._mention(frozenset(a for a in atoms if a[0] == "fn") or frozenset({("fn", fid)}), ctx)
            return []
        if isinstance(stmt, ast.ClassDef):
            atoms = self._define_class(self.cls_of[id(stmt)], ctx)
            self._bind_target(ast.Name(id=stmt.name, ctx=ast.Store()), atoms, ctx, stmt)
            return []
        if isinstance(stmt, ast.Assign):
            self._assign_stmt(stmt.targets, stmt.value, ctx, stmt)
            return []
        if isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self._assign_stmt([stmt.target], stmt.value, ctx, stmt)
            return []
        if isinstance(stmt, ast.AugAssign):
            atoms = self.ev(stmt.value, ctx)
            if isinstance(stmt.target, ast.Name):
                atoms |= self.ev(stmt.target, ctx)
            self._bind_target(stmt.target, atoms | {FRESH}, ctx, stmt)
            return []
        if isinstance(stmt, ast.For | ast.AsyncFor):
            iterable = stmt.iter
            atoms = self.ev(iterable, ctx)
            elts = iterable.elts if isinstance(iterable, ast.Tuple | ast.List) else None
            if elts is not None and not any(isinstance(e, ast.Starred) for e in elts):  # for f in (g, h): each one
                items = frozenset().union(*(self.ev(e, ctx) for e in elts)) or frozenset({FRESH})
            else:
                items = self._items(atoms)
            self._bind_target(stmt.target, items, ctx, stmt)
            return [*stmt.body, *stmt.orelse]
        if isinstance(stmt, ast.While | ast.If):
            self.ev(stmt.test, ctx)
            return [*stmt.body, *stmt.orelse]
        if isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                self.ev(item.context_expr, ctx)
                if item.optional_vars is not None:
                    why = f"a name bound by `with` ({label}, line {item.optional_vars.lineno})"
                    self._bind_target(item.optional_vars, frozenset({_unknown(why)}), ctx, stmt)
            return list(stmt.body)
        if isinstance(stmt, ast.Try | ast.TryStar):
            nested: list[ast.stmt] = [*stmt.body, *stmt.orelse, *stmt.finalbody]
            for handler in stmt.handlers:
                if handler.type is not None:
                    self.ev(handler.type, ctx)
                if handler.name:
                    why = f"`{handler.name}`, bound by `except` ({label}, line {handler.lineno})"
                    self._bind_target(ast.Name(id=handler.name, ctx=ast.Store()), frozenset({_unknown(why)}),
                                      ctx, handler)
                nested += handler.body
            return nested
        if isinstance(stmt, ast.Match):
            self.ev(stmt.subject, ctx)
            nested = []
            for case in stmt.cases:
                for sub in ast.walk(case.pattern):
                    name = sub.rest if isinstance(sub, ast.MatchMapping) else getattr(sub, "name", None)
                    if isinstance(name, str):
                        why = f"`{name}`, bound by `match` ({label}, line {case.pattern.lineno})"
                        self._bind_target(ast.Name(id=name, ctx=ast.Store()), frozenset({_unknown(why)}), ctx, stmt)
                    if isinstance(sub, ast.MatchValue):
                        self.ev(sub.value, ctx)
                if case.guard is not None:
                    self.ev(case.guard, ctx)
                nested += case.body
            return nested
        if isinstance(stmt, ast.Return):
            atoms = self.ev(stmt.value, ctx) if stmt.value is not None else frozenset({FRESH})
            owner = _function_scope(ctx.scope)
            if owner is not None and owner.fn is not None:
                self._add(self.returns, owner.fn, atoms)
            return []
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            for alias in stmt.names:
                if alias.name == "*":
                    continue
                if isinstance(stmt, ast.Import):
                    name = alias.asname or alias.name.split(".")[0]
                    atoms = frozenset({("origin", alias.name if alias.asname else name)})
                elif stmt.level:
                    name, atoms = alias.asname or alias.name, frozenset({_unknown("a relative import")})
                else:
                    name = alias.asname or alias.name
                    atoms = frozenset({("origin", f"{stmt.module}.{alias.name}")})
                self._bind_target(ast.Name(id=name, ctx=ast.Store()), atoms, ctx, stmt)
            return []
        for child in ast.iter_child_nodes(stmt):  # Expr, Raise, Assert, Delete; pass, global, ...: nothing
            if isinstance(child, ast.expr):
                self.ev(child, ctx)
        return []

    # -- reachable code ----------------------------------------------------------------------

    def _analyse_fn(self, fid: int) -> None:
        fn = self.fns[fid]
        key = id(fn.scope)
        self_classes = self._self_class(fn)
        for i, p in enumerate(fn.params):
            if i == 0 and self_classes:
                kind = "cls" if fn.classmethod else "inst"
                self._add(self.vars, (key, p), {(kind, c) for c in self_classes})
            elif i == 0 and fid in self.wild_methods:
                self._add(self.vars, (key, p), {_unknown("the object a method attached to an unknown target "
                                                         "is called on")})
            elif i > 0 and fid in self.graded_fns:
                self._add(self.vars, (key, p), {_unknown(f"`{p}`, a parameter of {fn.name} that the grader never "
                                                         "passes")})
            else:
                self._add(self.vars, (key, p), {FRESH})  # the probe's data, or library code's
        ctx = _Ctx(fn.scope, fn.cell, _END, True, self.reach_fn[fid])
        if isinstance(fn.node, ast.Lambda):
            self._add(self.returns, fid, self.ev(fn.node.body, ctx))
        else:
            self._block(fn.node.body, ctx)
            self._add(self.returns, fid, {FRESH})  # falling off the end (or a generator object)

    def _analyse_cls(self, cid: int) -> None:
        cls = self.classes[cid]
        root = self.reach_cls[cid]
        pos = self._module_pos(cls.outer) if cls.outer.kind != "module" else cls.scope.pos
        outer = _Ctx(cls.outer, cls.cell, pos, True, root)
        bases: list[int] = []
        for base in cls.node.bases:
            for a in self.ev(base, outer, inner=True):
                if a[0] == "cls":
                    bases.append(a[1])
                elif a[0] == "origin":
                    path = _normalise(a[1])
                    verdict = _origin_verdict(path)
                    if verdict is not None and verdict[0] != "unverifiable":
                        self._verdict(a[1], base, outer)
                    elif path not in _ALLOWED_BASES:
                        self._report(cls.cell, base, f"`{_shown(base)}` is a library class the from-scratch check "
                                                     f"cannot look inside; {root} must derive from d2l.Classifier "
                                                     "(or nn.Module) and build its layers itself")
                elif a[0] != "builtin":
                    self._unverifiable(outer, base, f"is a base class that is {self._describe(a)}",
                                       "derive from d2l.Classifier or from a class defined in the notebook")
        known = self.bases.setdefault(cid, [])
        for b in bases:
            if b not in known:
                known.append(b)
                self.changed = True
            self._mark_cls(b, root)
        for keyword in cls.node.keywords:
            atoms = self.ev(keyword.value, outer, inner=True)
            if not all(a[0] == "origin" and _normalise(a[1]) in _ALLOWED_METACLASSES for a in atoms):
                self._unverifiable(outer, keyword.value, f"sets the class's `{keyword.arg}`",
                                   "define the class without it")
        self._block(cls.node.body, _Ctx(cls.scope, cls.cell, cls.scope.pos, True, root))
        for fields in (self.class_fields.get(cid, {}), self.inst_fields.get(cid, {})):
            for field, atoms in list(fields.items()):
                self._mention(frozenset(atoms), outer)
                bad = sorted((a for a in atoms if a[0] in _UNCALLABLE), key=_order)
                if bad and self._library_called(field):
                    self._report(cls.cell, cls.node, f"`{cls.node.name}.{field}` may hold {self._describe(bad[0])}, "
                                                     "which the from-scratch check cannot verify; define it with "
                                                     "def in the class body")
