"""The reading's third layer (`_Expressions`): the atoms of an expression, calls above all."""

from __future__ import annotations

import ast

from ._allowlist import (
    _ALLOWED_DUNDERS,
    _CONTAINER_OPS,
    _DYNAMIC_BUILTINS,
    _ITEM_BUILTINS,
    _TENSOR_ATTRS,
    _WRAPPER_BUILTINS,
    _WRAPPERS,
    _is_dunder,
    _normalise,
    _torchlike,
)
from ._program import EXT, FRESH, ITEM, _Ctx, _function_scope, _order, _Scope, _shown
from ._values import _Values


class _Expressions(_Values):
    """Expressions and calls (which evaluate each other)."""

    # -- defined by the statement layer (_statements.py): a walrus or a comprehension binds names --

    def _bind_target(self, target: ast.AST, atoms: frozenset[tuple], ctx: _Ctx, stmt: ast.AST) -> None:
        raise NotImplementedError

    # -- expressions -------------------------------------------------------------------------

    def ev(self, node: ast.AST, ctx: _Ctx, inner: bool = False, escape: bool = True) -> frozenset[tuple]:
        """The atoms of an expression.  `inner`: the base of an attribute (judged with the attribute)."""
        atoms = self._ev(node, ctx, inner)
        if escape:
            self._mention(atoms, ctx)
        return atoms

    def _ev(self, node: ast.AST, ctx: _Ctx, inner: bool) -> frozenset[tuple]:
        if isinstance(node, ast.Constant):
            return frozenset({FRESH})
        if isinstance(node, ast.Name):
            atoms = self._name(node, ctx)
            if not inner:
                for a in atoms:
                    if a[0] == "origin":
                        self._verdict(a[1], node, ctx)
            return atoms
        if isinstance(node, ast.Attribute):
            return self._attribute(node, ctx, inner)
        if isinstance(node, ast.Call):
            return self._call(node, ctx)
        if isinstance(node, ast.Subscript):
            base = self.ev(node.value, ctx)
            self.ev(node.slice, ctx)
            return self._items(base)
        if isinstance(node, ast.BinOp):
            operands = self.ev(node.left, ctx) | self.ev(node.right, ctx)
            out = {FRESH}
            if isinstance(node.op, _CONTAINER_OPS):  # list + list, list * n, dict | dict keep their items
                out |= {a for a in operands if a not in (FRESH, EXT) and a[0] not in ("builtin", "inst")}
            return frozenset(out)
        if isinstance(node, ast.BoolOp):
            return frozenset().union(*(self.ev(v, ctx) for v in node.values))
        if isinstance(node, ast.IfExp):
            self.ev(node.test, ctx)
            return self.ev(node.body, ctx) | self.ev(node.orelse, ctx)
        if isinstance(node, ast.Lambda):
            fid = self.fn_of[id(node)]
            self._defaults(fid, ctx)
            return frozenset({("fn", fid)})
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return frozenset({FRESH}).union(*(self.ev(e, ctx) for e in node.elts))
        if isinstance(node, ast.Dict):
            out = {FRESH}
            for k, v in zip(node.keys, node.values, strict=True):
                if k is not None:
                    self.ev(k, ctx)
                    out |= self.ev(v, ctx)
                else:
                    out |= self._items(self.ev(v, ctx))
            return frozenset(out)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            return self._comprehension(node, ctx)
        if isinstance(node, ast.Starred):
            return self._items(self.ev(node.value, ctx))
        if isinstance(node, ast.NamedExpr):
            atoms = self.ev(node.value, ctx)
            self._bind_target(node.target, atoms, ctx, node)
            return atoms
        if isinstance(node, ast.Await):
            return self.ev(node.value, ctx)
        if isinstance(node, ast.Yield | ast.YieldFrom):
            value = self.ev(node.value, ctx) if node.value is not None else frozenset({FRESH})
            owner = _function_scope(ctx.scope)
            if owner is not None and owner.fn is not None and ctx.emit:
                self._add(self.returns, owner.fn, self._items(value) if isinstance(node, ast.YieldFrom) else value)
            return frozenset({FRESH})
        for child in ast.iter_child_nodes(node):  # UnaryOp, Compare, JoinedStr, Slice, ...: data
            self.ev(child, ctx)
        return frozenset({FRESH})

    def _comprehension(self, node: ast.AST, ctx: _Ctx) -> frozenset[tuple]:
        scope = self.scope_of[id(node)]
        inner = ctx.inside(scope)
        for i, gen in enumerate(node.generators):  # type: ignore[attr-defined]
            items = self._items(self.ev(gen.iter, ctx if i == 0 else inner))
            self._bind_target(gen.target, items, inner, gen)
            for test in gen.ifs:
                self.ev(test, inner)
        if isinstance(node, ast.DictComp):
            self.ev(node.key, inner)
            return frozenset({FRESH}) | self.ev(node.value, inner)
        return frozenset({FRESH}) | self.ev(node.elt, inner)  # type: ignore[attr-defined]

    def _attribute(self, node: ast.Attribute, ctx: _Ctx, inner: bool) -> frozenset[tuple]:
        name = node.attr
        receiver = self.ev(node.value, ctx, inner=True)
        if _is_dunder(name) and name not in _ALLOWED_DUNDERS:
            self._unverifiable(ctx, node, f"reads the special attribute `{name}`",
                               "use the object's ordinary attributes and methods")
        out: set[tuple] = set()
        for a in receiver:
            kind = a[0]
            if kind == "origin":
                out.add(("origin", f"{a[1]}.{name}"))
            elif kind in ("cls", "inst"):
                out |= self._field(a[1], name, instance=kind == "inst")
            elif kind == "super":
                out |= self._field(a[1], name, instance=True, after=True)
            elif kind in ("fn", "bound"):
                if name in _ALLOWED_DUNDERS:
                    out.add(FRESH)
                else:
                    out |= self._function_attribute(a[1], name)
            elif kind == "builtin":
                out.add(FRESH)
            elif kind in ("item", "method"):  # X[0].sum(), name.startswith(...): its own methods and attributes
                self._name_check(name, node, ctx)
                out.add(FRESH if name in _TENSOR_ATTRS else ("method", id(node)))
            else:  # fresh, ext, persist, unknown: the same kind of value
                self._name_check(name, node, ctx)
                out.add(a)
        if not inner:
            for a in out:
                if a[0] == "origin":
                    self._verdict(a[1], node, ctx)
        return frozenset(out)

    # -- calls -------------------------------------------------------------------------------

    def _call(self, node: ast.Call, ctx: _Ctx) -> frozenset[tuple]:
        func = node.func
        if isinstance(func, ast.Attribute) and ctx.emit:
            self.called.add(func.attr)
        callee = self.ev(func, ctx)
        builtin = {a[1] for a in callee if a[0] == "builtin"}
        if builtin & {"isinstance", "issubclass", "hasattr", "callable", "id", "len", "print", "repr"}:
            for arg in (*node.args, *[k.value for k in node.keywords]):
                self.ev(arg, ctx, escape=False)  # looked at, not called
            if builtin <= {"isinstance", "issubclass", "hasattr", "callable", "id", "len", "print", "repr"}:
                return frozenset({FRESH})
        if "super" in builtin and not node.args:
            return frozenset(("super", c) for c in self._enclosing_class(ctx.scope)) or frozenset({FRESH})
        if "getattr" in builtin:
            return self._getattr(node, ctx)
        if "type" in builtin and len(node.args) == 1:
            arg = self.ev(node.args[0], ctx)
            out = {("cls", a[1]) for a in arg if a[0] == "inst"}
            return frozenset(out | ({FRESH} if any(a[0] != "inst" for a in arg) else set()))
        args: list[frozenset[tuple]] = []
        kwargs: dict[str | None, frozenset[tuple]] = {}
        for arg in node.args:
            atoms = self.ev(arg, ctx)
            if isinstance(arg, ast.Starred):
                kwargs[None] = kwargs.get(None, frozenset()) | atoms
            else:
                args.append(atoms)
        for kw in node.keywords:
            kwargs[kw.arg] = kwargs.get(kw.arg, frozenset()) | self.ev(kw.value, ctx)
        if "setattr" in builtin and len(node.args) == 3 and len(args) == 3:
            self._instance_setattr(node, args, ctx)
        method = func if isinstance(func, ast.Attribute) else None
        return self._call_atoms(callee, node, args, kwargs, ctx, method)

    def _enclosing_class(self, scope: _Scope | None) -> set[int]:
        owner = _function_scope(scope)
        if owner is None or owner.fn is None:
            return set()
        fn = self.fns[owner.fn]
        return self._self_class(fn) or ({fn.in_class} if fn.in_class is not None else set())

    def _getattr(self, node: ast.Call, ctx: _Ctx) -> frozenset[tuple]:
        if len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
            attr = self.literal_getattrs.setdefault(id(node), ast.copy_location(  # one node: atoms name it
                ast.Attribute(value=node.args[0], attr=node.args[1].value, ctx=ast.Load()), node))
            out = set(self._attribute(attr, ctx, inner=False))
            for extra in node.args[2:]:
                out |= self.ev(extra, ctx)
            return frozenset(out)
        atoms = [self.ev(arg, ctx) for arg in node.args]
        if atoms and atoms[0] and all(a[0] in ("inst", "cls") for a in atoms[0]):
            # getattr(self, name): some attribute of the model, whichever the name is (its methods bound)
            out: set[tuple] = {EXT}
            for a in atoms[0]:
                names = {name for c in self._mro(a[1]) for table in (self.class_fields, self.inst_fields)
                         for name in table.get(c, {})}
                for name in names:
                    out |= self._field(a[1], name, instance=a[0] == "inst")
            return frozenset(out | set().union(*atoms[2:]))
        self._unverifiable(ctx, node, "looks an attribute up by a computed name",
                           "write the attribute out (e.g. torch.exp(X), self.W1)")
        return frozenset({("seen", f"a value looked up by a computed name (`{_shown(node)}`)")})

    def _instance_setattr(self, node: ast.Call, args: list[frozenset[tuple]], ctx: _Ctx) -> None:
        """setattr(self, name, value) inside a method sets an instance attribute."""
        if not self._is_self(node.args[0], ctx):
            return
        name = node.args[1]
        attr = name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else "*"
        for a in args[0]:
            if a[0] == "inst":
                self._add(self.inst_fields.setdefault(a[1], {}), attr, args[2])

    def _call_atoms(self, callee: frozenset[tuple], node: ast.AST, args: list[frozenset[tuple]],
                    kwargs: dict[str | None, frozenset[tuple]], ctx: _Ctx,
                    method: ast.Attribute | None = None) -> frozenset[tuple]:
        """What calling `callee` gives; `method`: the call is `method(...)`, a method called where it is read."""
        every: frozenset[tuple] = frozenset().union(*args, *kwargs.values())
        callables = frozenset(a for a in every if a[0] in ("fn", "bound", "cls", "origin", "inst"))
        out: set[tuple] = set()
        reported = False
        for a in sorted(callee, key=_order):
            kind = a[0]
            if kind in ("fn", "bound"):
                self._mention(frozenset({a}), ctx)
                if ctx.emit:
                    self._propagate(a[1], args, kwargs, skip_self=kind == "bound")
                out |= self.returns.get(a[1], set()) | {FRESH}
            elif kind == "cls":
                self._mention(frozenset({a}), ctx)
                for init in self._field(a[1], "__init__", instance=True):
                    if init[0] == "bound" and ctx.emit:
                        self._propagate(init[1], args, kwargs, skip_self=True)
                out.add(("inst", a[1]))
            elif kind == "inst":  # nn.Module.__call__ runs forward
                for method in ("__call__", "forward"):
                    for m in self._field(a[1], method, instance=True):
                        if m[0] == "bound":
                            self._mention(frozenset({m}), ctx)
                            if ctx.emit:
                                self._propagate(m[1], args, kwargs, skip_self=True)
                            out |= self.returns.get(m[1], set())
                out.add(FRESH)
            elif kind == "builtin":
                out |= self._builtin_call(a[1], node, every, callables, ctx)
            elif kind == "origin":  # reported where it is named (_verdict)
                self._escape(callables, every, ctx)
                out |= {FRESH} | callables
                path = _normalise(a[1])
                if path in _WRAPPERS:  # torch.compile(f), partial(f, ...): calling the result calls f
                    out |= every - {FRESH}
                elif not _torchlike(path):
                    out |= self._items(every) - {FRESH}
            elif kind in ("fresh", "ext", "super") or (kind == "method" and method is not None
                                                       and a[1] == id(method)):
                self._escape(callables, every, ctx)
                # What a method of a run-time value returns (d.get("relu"), fns.pop()) may be what it holds;
                # tensor methods return tensors.  Library base classes' methods are trusted.
                held = method is not None and method.attr not in _TENSOR_ATTRS and kind in ("fresh", "method")
                out |= {ITEM if held else FRESH} | callables
            else:  # item, method (fetched and called elsewhere), persist, unknown
                if not reported:
                    self._uncallable(a, node, ctx)
                    reported = True
                out.add(FRESH)
        return frozenset(out)

    def _uncallable(self, atom: tuple, node: ast.AST, ctx: _Ctx) -> None:
        if atom[0] == "seen":
            return
        if atom[0] in ("item", "method"):
            self._unverifiable(ctx, node, "calls a value fetched from a container at run time",
                               "call the function by its name")
        elif atom[0] == "persist":
            self._unverifiable(ctx, node, f"calls something held by {atom[1]}, an object built outside the "
                                          "function that other cells can change",
                               "call torch functions, or functions defined with def, directly")
        else:
            self._unverifiable(ctx, node, f"calls {atom[1]}",
                               "call torch functions, or functions defined with def, by their names")

    def _builtin_call(self, name: str, node: ast.AST, every: frozenset[tuple], callables: frozenset[tuple],
                      ctx: _Ctx) -> frozenset[tuple]:
        if name in _DYNAMIC_BUILTINS:
            self._unverifiable(ctx, node, f"uses `{name}`, which can run or change code at run time",
                               "call the functions you need directly")
            return frozenset({("seen", f"the result of `{name}(...)`")})
        if name == "type":
            self._unverifiable(ctx, node, "makes a class at run time", "define the class with a class statement")
            return frozenset({("seen", "a class made by type(...)")})
        self._escape(callables, every, ctx)
        if name in _WRAPPER_BUILTINS:
            return frozenset({FRESH}) | callables
        if name in _ITEM_BUILTINS:
            return frozenset({FRESH}) | self._items(every)
        return frozenset({FRESH})

    def _escape(self, callables: frozenset[tuple], every: frozenset[tuple], ctx: _Ctx) -> None:
        """A function handed to library code may be called by it with any of the other arguments."""
        if ctx.emit:
            for a in callables:
                if a[0] in ("fn", "bound"):
                    fn = self.fns[a[1]]
                    self._propagate(a[1], [every - {a} | {FRESH}] * len(fn.params), {}, skip_self=a[0] == "bound")

    def _propagate(self, fid: int, args: list[frozenset[tuple]], kwargs: dict[str | None, frozenset[tuple]],
                   skip_self: bool) -> None:
        """Arguments of a reachable call flow into the callee's parameters."""
        fn = self.fns[fid]
        spec = fn.node.args
        positional = [a.arg for a in (*spec.posonlyargs, *spec.args)]
        params = list(fn.params)
        if skip_self and positional:
            positional, params = positional[1:], [p for p in params if p != positional[0]]
        key = id(fn.scope)
        for i, atoms in enumerate(args):
            if i < len(positional):
                self._add(self.vars, (key, positional[i]), atoms)
            elif spec.vararg:
                self._add(self.vars, (key, spec.vararg.arg), atoms | {FRESH})
        for name, atoms in kwargs.items():
            if name is None:  # *args or **kwargs at the call: any parameter
                for p in params:
                    self._add(self.vars, (key, p), atoms)
            elif name in params:
                self._add(self.vars, (key, name), atoms)
            elif spec.kwarg:
                self._add(self.vars, (key, spec.kwarg.arg), atoms | {FRESH})
