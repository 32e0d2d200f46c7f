"""The reading's second layer (`_Values`): what names, bindings, definitions and fields may hold.

A name is resolved through its scopes to locals or to the module-level bindings it may see; a
definition's value passes through its decorators; a field is an attribute of a notebook class, of
its instances or of a notebook function.
"""

from __future__ import annotations

import ast

from ._allowlist import _BUILTIN_NAMES, _TENSOR_ATTRS, _WRAPPER_ATTRS, _normalise
from ._program import (
    _NONE,
    EXT,
    FRESH,
    ITEM,
    _Binding,
    _Ctx,
    _index_path,
    _is_constant,
    _persist,
    _Scope,
    _unknown,
)
from ._reading import _Reading


class _Values(_Reading):
    """Names, bindings, definitions, items and fields."""

    # -- defined by the expression layer (_expressions.py), which these bindings evaluate with ---

    def ev(self, node: ast.AST, ctx: _Ctx, inner: bool = False, escape: bool = True) -> frozenset[tuple]:
        raise NotImplementedError

    def _call_atoms(self, callee: frozenset[tuple], node: ast.AST, args: list[frozenset[tuple]],
                    kwargs: dict[str | None, frozenset[tuple]], ctx: _Ctx,
                    method: ast.Attribute | None = None) -> frozenset[tuple]:
        raise NotImplementedError

    # -- name resolution ---------------------------------------------------------------------

    def _name(self, node: ast.Name, ctx: _Ctx) -> frozenset[tuple]:
        name = node.id
        scope: _Scope | None = ctx.scope
        first = True
        out: set[tuple] = set()
        while scope is not None and scope.kind != "module":
            if name in scope.globals:
                break
            if name in scope.nonlocals:
                first = False
                scope = scope.parent
                continue
            if name in scope.locals and (first or scope.kind != "class"):
                atoms = self._local(name, scope, ctx, closure=not first)
                if scope.kind != "class":
                    return atoms
                out |= atoms  # a class body falls back to the enclosing names
            if scope.kind != "comp":  # a comprehension runs where it stands: its reads are not a closure's
                first = False
            scope = scope.parent
        return frozenset(out) | self._global(name, self._module_pos(ctx.scope) if ctx.scope.kind != "module"
                                             else ctx.pos, ctx)

    def _local(self, name: str, scope: _Scope, ctx: _Ctx, closure: bool) -> frozenset[tuple]:
        key = (id(scope), name)
        owner = scope
        while owner.kind == "comp" and owner.parent is not None:
            owner = owner.parent
        if ctx.pessimistic and owner.kind == "function" and owner.fn is not None:
            fn = self.fns[owner.fn]
            if fn.params[:1] == [name] and self._self_class(fn) and scope is owner:
                return frozenset(("inst", c) for c in self._self_class(fn))
            return frozenset({_unknown(f"`{name}`, a value that callers of `{fn.name}` ({self.labels[fn.cell]}, "
                                       f"line {fn.node.lineno}) pass in")})
        atoms = frozenset(self.vars.get(key, ()))
        if closure and not self.var_const.get(key, False) and not self._constant_self(scope, name):
            where = f"`{name}` ({self.labels[scope.cell]}, line {getattr(scope.node, 'lineno', '?')})"
            atoms = frozenset(_persist(where) if a in (FRESH, ITEM, EXT) or a[0] in ("inst", "super", "method") else a
                              for a in atoms)
        return atoms

    def _constant_self(self, scope: _Scope, name: str) -> bool:
        """Is `name` the never-rebound first parameter of the method `scope` is (a closure sees that object)?"""
        if scope.kind != "function" or scope.fn is None:
            return False
        fn = self.fns[scope.fn]
        if fn.params[:1] != [name] or fn.classmethod or not self._self_class(fn):
            return False
        if scope.fn not in self.self_rebound:
            self.self_rebound[scope.fn] = any(isinstance(n, ast.Name) and n.id == name
                                              and isinstance(n.ctx, ast.Store | ast.Del) for n in ast.walk(fn.node))
        return not self.self_rebound[scope.fn]

    def _global(self, name: str, pos: int, ctx: _Ctx) -> frozenset[tuple]:
        visible, uncertain = self._visible(name, pos)
        out: set[tuple] = set()
        for b in visible:
            out |= self._binding_atoms(b, ctx.emit, ctx.root)
        if uncertain:
            if name in _BUILTIN_NAMES:
                out.add(("builtin", name))
            elif not visible:
                out.add(_unknown(f"`{name}`, which the notebook never defines"))
        return frozenset(out)

    # -- module-level bindings ---------------------------------------------------------------

    def _binding_atoms(self, b: _Binding, emit: bool, root: str, raw: bool = False) -> frozenset[tuple]:
        key = (b.id, emit)
        if key in self.binding_cache and not raw:
            return self.binding_cache[key]
        if key in self.in_progress:
            return self.binding_cache.get((b.id, False), _NONE)
        self.in_progress.add(key)
        try:
            atoms, persistent = self._evaluate_binding(b, emit, root)
        finally:
            self.in_progress.discard(key)
        self.binding_cache[key] = persistent
        return atoms if raw else persistent

    def _evaluate_binding(self, b: _Binding, emit: bool, root: str) -> tuple[frozenset[tuple], frozenset[tuple]]:
        """(atoms, atoms as a value that outlives its statement) of a module-level binding."""
        if b.kind == "import":
            atoms = frozenset({("origin", b.path)})
            return atoms, atoms
        if b.kind in ("unknown", "star"):
            atoms = frozenset({_unknown(b.why)})
            return atoms, atoms
        scope = b.scope or self.module
        ctx = _Ctx(scope, b.cell, b.pos, emit, root, pessimistic=b.kind == "later")
        if b.kind == "def":
            fid = self.fn_of[id(b.node)]
            self._defaults(fid, ctx)
            atoms = self._define(fid, ctx)
            return atoms, atoms
        if b.kind == "class":
            atoms = self._define_class(self.cls_of[id(b.node)], ctx)
            return atoms, atoms
        assert b.node is not None
        atoms = self._project(b, ctx)
        return atoms, self._persistent(atoms, b.node, b.name, b.cell)

    def _project(self, b: _Binding, ctx: _Ctx) -> frozenset[tuple]:
        """The atoms `b.name` gets from its assignment, element-wise for `a, b = x, y`."""
        value, target = b.node, b.target
        assert value is not None
        path = _index_path(target, b.name) if target is not None else []
        if path is None:  # a, *rest = ...: any element
            atoms = self.ev(value, ctx)
            return self._items(atoms) | (atoms - {FRESH})
        v: ast.AST = value
        for i in path:
            if (isinstance(v, ast.Tuple | ast.List) and i < len(v.elts)
                    and not any(isinstance(e, ast.Starred) for e in v.elts)):
                v = v.elts[i]
            else:
                atoms = self.ev(value, ctx)
                return self._items(atoms) | (atoms - {FRESH})
        if v is not value:
            self.ev(value, ctx)  # the whole right-hand side runs (and is read for mentions)
        return self.ev(v, ctx)

    def _persistent(self, atoms: frozenset[tuple], value: ast.AST, name: str, cell: int) -> frozenset[tuple]:
        """A value that outlives the call: data becomes an object other cells may change."""
        if _is_constant(value):
            return atoms
        where = f"`{name}` ({self.labels[cell]}, line {getattr(value, 'lineno', '?')})"
        return frozenset(_persist(where) if a[0] in ("fresh", "item", "method", "inst", "ext", "super") else a
                         for a in atoms)

    # -- definitions -------------------------------------------------------------------------

    def _define(self, fid: int, ctx: _Ctx) -> frozenset[tuple]:
        """A def statement's value: the function, passed through its decorators."""
        atoms: frozenset[tuple] = frozenset({("fn", fid)})
        for decorator in reversed(getattr(self.fns[fid].node, "decorator_list", [])):
            atoms = self._decorate(decorator, atoms, ctx)
        return atoms

    def _define_class(self, cid: int, ctx: _Ctx) -> frozenset[tuple]:
        atoms: frozenset[tuple] = frozenset({("cls", cid)})
        for decorator in reversed(self.classes[cid].node.decorator_list):
            atoms = self._decorate(decorator, atoms, ctx)
        return atoms

    def _decorate(self, decorator: ast.AST, atoms: frozenset[tuple], ctx: _Ctx) -> frozenset[tuple]:
        callee = self.ev(decorator, ctx)
        if self._is_add_to_class(decorator, ctx):
            return frozenset({FRESH})  # add_to_class's wrapper returns None; the method is stored (_Store)
        self._mention(atoms, ctx)
        return self._call_atoms(callee, decorator, [atoms], {}, ctx)

    def _is_add_to_class(self, call: ast.AST, ctx: _Ctx) -> bool:
        if not isinstance(call, ast.Call):
            return False
        callee = self.ev(call.func, ctx.quiet(), inner=True, escape=False)
        return any(a[0] == "origin" and _normalise(a[1]) == "d2l.add_to_class" for a in callee)

    def _defaults(self, fid: int, ctx: _Ctx) -> None:
        """Default arguments are evaluated where the function is defined; a parameter starts with them."""
        fn = self.fns[fid]
        args = fn.node.args
        positional = [*args.posonlyargs, *args.args]
        pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=True))
        pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
        for arg, default in pairs:
            atoms = self._persistent(self.ev(default, ctx), default, arg.arg, ctx.cell)
            self._add(self.vars, (id(fn.scope), arg.arg), atoms)

    # -- items and fields --------------------------------------------------------------------

    def _items(self, atoms: frozenset[tuple]) -> frozenset[tuple]:
        """What indexing or iterating a value gives: its known elements, or an item fetched at run time."""
        out: set[tuple] = set()
        for a in atoms:
            if a in (FRESH, EXT) or a[0] in ("inst", "method"):
                out.add(ITEM)
            elif a[0] == "builtin":
                out.add(FRESH)
            elif a[0] == "origin":
                out.add(_unknown(f"an item of the library object `{_normalise(a[1])}`"))
            else:
                out.add(a)
        return frozenset(out)

    def _mro(self, cid: int) -> list[int]:
        order, queue, seen = [], [cid], set()
        while queue:
            c = queue.pop(0)
            if c not in seen:
                seen.add(c)
                order.append(c)
                queue.extend(self.bases.get(c, []))
        return order

    def _field(self, cid: int, name: str, instance: bool, after: bool = False) -> frozenset[tuple]:
        """An attribute of a notebook class (or of its instances), over its whole notebook MRO."""
        mro = self._mro(cid)[1:] if after else self._mro(cid)
        out: set[tuple] = set()
        for c in mro:
            for table in (self.class_fields, self.inst_fields):
                fields = table.get(c, {})
                out |= fields.get(name, set()) | fields.get("*", set())
        out |= self.wildcard.get(name, set()) | self.wildcard.get("*", set())
        if not out:
            out = {EXT}  # from a library base class (nn.Module, d2l.Classifier), or missing
            if instance:  # d2l's save_hyperparameters(): every local of __init__ becomes an attribute
                for c in mro:
                    for init in self.class_fields.get(c, {}).get("__init__", set()):
                        if init[0] == "fn":
                            out |= self.vars.get((id(self.fns[init[1]].scope), name), set())
        if instance:
            out = {("bound", a[1]) if a[0] == "fn" and not self.fns[a[1]].static else a for a in out}
        return frozenset(out)

    def _function_attribute(self, fid: int, name: str) -> set[tuple]:
        """A non-dunder attribute of a notebook function: what a store gave it (any function's, for wraps)."""
        fields = set(self.wildcard.get(name, set()) | self.wildcard.get("*", set())
                     | self.fn_fields.get(fid, {}).get("*", set()))
        for table in self.fn_fields.values():
            fields |= table.get(name, set())
        if fields or name in _WRAPPER_ATTRS or name.startswith("_") or not (
                name in _TENSOR_ATTRS or self._library_called(name)):  # wrappers' own and private attributes
            return fields or {_unknown(f"an attribute of the function `{self.fns[fid].name}`")}
        # A function has no attribute but dunders and what stores give it, and a store of this name to any
        # object is followed (the name is called, or library code calls it): reading it raises AttributeError.
        return set()
