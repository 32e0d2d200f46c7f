"""The reading's top layer (`_Scan`): outliving stores, notebook-wide hazards, and the fixpoint.

The fixpoint grows what is reachable from the graded names until no table changes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from ..source import dotted as _dotted
from ._allowlist import (
    _END,
    _MAX_PASSES,
    _POISON_BUILTINS,
    _POISON_DUNDERS,
    _POISON_METHODS,
    _TENSOR_ATTRS,
    _is_dunder,
    _normalise,
    _poison_origin,
)
from ._program import _UNCALLABLE, _Ctx, _order, _Scope, _shown, _Store
from ._statements import _Statements


class _Scan(_Statements):
    """Build the program (`_Reading`), then grow what is reachable to a fixpoint (`run`)."""

    # -- stores that outlive their call ------------------------------------------------------

    def _store_ctx(self, store: _Store, emit: bool, root: str) -> _Ctx:
        pos = self._module_pos(store.scope) if store.scope.kind != "module" else store.pos
        return _Ctx(store.scope, store.cell, pos, emit, root, pessimistic=True)

    def _classify_stores(self) -> None:
        for store in self.stores:
            quiet = self._store_ctx(store, False, "")
            if store.kind in ("decorator", "call"):
                call = store.node if store.kind == "decorator" else store.node.func  # type: ignore[attr-defined]
                if not self._is_add_to_class(call, quiet):
                    continue
            elif self._is_self(store.receiver, quiet):
                continue  # self.x = ... in a method: that method's own reading records it
            for a in self.ev(store.receiver, quiet, inner=True, escape=False):
                self._apply_store(store, a)

    def _store_value(self, store: _Store, root: str) -> frozenset[tuple]:
        if store.kind == "decorator":
            defined = store.defined
            if isinstance(defined, ast.ClassDef):
                return frozenset({("cls", self.cls_of[id(defined)])})
            return frozenset({("fn", self.fn_of[id(defined)])})
        assert store.value is not None
        atoms = self.ev(store.value, self._store_ctx(store, True, root))
        if store.scope.kind == "module":
            atoms = self._persistent(atoms, store.value, store.attr or "attribute", store.cell)
        return atoms

    def _apply_store(self, store: _Store, receiver: tuple) -> None:
        kind = receiver[0]
        attr = store.attr or "*"
        if store.kind == "call" and store.attr is None:
            attr = "*"
        if kind == "origin":  # monkeypatching a library: every graded function may be affected
            atoms = self._store_value(store, "every graded function")
            if store.attr is None or any(a[0] in _UNCALLABLE for a in atoms):
                self._report(store.cell, store.node,
                             f"`{_shown(store.node)}` replaces part of the library `{_normalise(receiver[1])}` with "
                             "a value the from-scratch check cannot verify; do not change library modules")
        elif kind in ("cls", "inst"):
            cid = receiver[1]
            if cid in self.reach_cls:
                atoms = self._store_value(store, self.reach_cls[cid])
                self._add(self.class_fields.setdefault(cid, {}), attr, atoms)
                for a in atoms:
                    if a[0] == "fn":
                        self._add(self.method_of, a[1], {cid})
                        self._mark_fn(a[1], self.reach_cls[cid])
        elif kind in ("fn", "bound"):
            fid = receiver[1]
            if fid in self.reach_fn:
                self._add(self.fn_fields.setdefault(fid, {}), attr, self._store_value(store, self.reach_fn[fid]))
        elif (self.reach_fn or self.reach_cls) and (
                store.attr is None or self._library_called(store.attr) or store.attr in _TENSOR_ATTRS):
            # An object the reading cannot identify (a parameter, type(x), an item): it may be a
            # graded class, so the value may become one of its methods.
            atoms = self._store_value(store, "the graded code")
            bad = sorted((a for a in atoms if a[0] in _UNCALLABLE), key=_order)
            if bad:
                self._report(store.cell, store.node,
                             f"`{_shown(store.node)}` may set `{attr}` of a graded class to {self._describe(bad[0])}, "
                             "which the from-scratch check cannot verify; define methods with def in the class")
            self._add(self.wildcard, attr, atoms)
            for a in atoms:
                if a[0] == "fn" and a[1] not in self.wild_methods:
                    self.wild_methods.add(a[1])
                    self.changed = True

    # -- notebook-wide hazards ---------------------------------------------------------------

    def _walk(self, top: ast.AST) -> Iterable[tuple[ast.AST, _Scope]]:
        """Every node of a top-level statement with the scope it belongs to."""
        stack: list[tuple[ast.AST, _Scope]] = [(top, self.module)]
        while stack:
            node, scope = stack.pop()
            yield node, scope
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inner = self.fns[self.fn_of[id(node)]].scope
                outside = [*getattr(node, "decorator_list", []), *node.args.defaults,
                           *[d for d in node.args.kw_defaults if d is not None]]
                stack.extend((child, scope) for child in outside)
                body = node.body if isinstance(node.body, list) else [node.body]
                stack.extend((child, inner) for child in body)
            elif isinstance(node, ast.ClassDef):
                inner = self.classes[self.cls_of[id(node)]].scope
                stack.extend((child, scope) for child in (*node.decorator_list, *node.bases,
                                                          *[k.value for k in node.keywords]))
                stack.extend((child, inner) for child in node.body)
            else:
                inner = self.scope_of.get(id(node), scope)
                stack.extend((child, inner) for child in ast.iter_child_nodes(node))

    def _poison(self) -> None:
        """What, anywhere in the notebook, can change code behind the reading's back."""
        for pos, (cell, index) in enumerate(self.positions):
            kit_arguments: set[int] = set()
            inner: set[int] = set()  # attributes that are the base of a longer chain (judged with it)
            for node, scope in self._walk(self.trees[cell].body[index]):
                ctx = _Ctx(scope, cell, pos, False, "")
                if isinstance(node, ast.Attribute):
                    inner.add(id(node.value))
                    if id(node) in inner:
                        continue
                if isinstance(node, ast.Call):
                    for arg in (*node.args, *[k.value for k in node.keywords]):
                        if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and not arg.args:
                            callee = self.ev(node.func, ctx, inner=True, escape=False)
                            if callee and all(a[0] == "origin" for a in callee):
                                kit_arguments.add(id(arg.func))  # check("...", globals()): the kit reads it
                message = self._hazard(node, ctx, kit_arguments)
                if message:
                    self._report(cell, node, message)

    def _hazard(self, node: ast.AST, ctx: _Ctx, kit_arguments: set[int]) -> str | None:
        why = "so the from-scratch check cannot verify the graded code; remove it"
        if isinstance(node, ast.Attribute) and _is_dunder(node.attr):
            if isinstance(node.ctx, ast.Store | ast.Del) or node.attr in _POISON_DUNDERS:
                return f"`{_shown(node)}` can change functions behind the from-scratch check's back, {why}"
        elif isinstance(node, ast.Name) and node.id == "__builtins__":
            return f"`__builtins__` can change every function, {why}"
        elif isinstance(node, ast.Name) and node.id == "get_ipython" and not self._visible("get_ipython", _END)[0]:
            return f"`get_ipython()` can run any code in the kernel, {why}"
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in _POISON_BUILTINS:
            if ("builtin", node.id) in self._name(node, ctx) and id(node) not in kit_arguments:
                return f"`{node.id}` can run or change code at run time, {why}"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in _POISON_METHODS:
            return f"defining `{node.name}` changes what other code runs, {why}"
        elif isinstance(node, ast.Import | ast.ImportFrom):
            paths = [a.name if isinstance(node, ast.Import) else f"{node.module}.{a.name}" for a in node.names]
            if any(_poison_origin(p) for p in paths):
                return f"`{_shown(node)}` can change code at run time, {why}"
        elif isinstance(node, ast.Attribute) and (parts := _dotted(node)):
            root = self._name(ast.copy_location(ast.Name(id=parts[0], ctx=ast.Load()), node), ctx)
            paths = [".".join([a[1], *parts[1:]]) for a in root if a[0] == "origin"]
            if any(_poison_origin(p) or _poison_origin(p.rsplit(".", 1)[0]) for p in paths):
                return f"`{_shown(node)}` can change code at run time, {why}"
        return None

    # -- the fixpoint ------------------------------------------------------------------------

    def run(self) -> list[str]:
        try:
            self._poison()
            roots = {name: self._visible(name, _END)[0] for name in self.graded}
            for _ in range(_MAX_PASSES):
                self.changed = False
                self.binding_cache.clear()
                for name, bindings in roots.items():
                    for b in bindings:
                        atoms = self._binding_atoms(b, True, name, raw=True)
                        self.graded_fns |= {a[1] for a in atoms if a[0] == "fn"}
                        self._mention(atoms, _Ctx(self.module, b.cell, b.pos, True, name))
                        for a in atoms:
                            if a[0] in _UNCALLABLE:
                                self._report(b.cell, b.node, f"{name} is {self._describe(a)}, which the from-scratch "
                                                             f"check cannot verify; define {name} with def (or "
                                                             "class)")
                done_cls: set[int] = set()
                done_fn: set[int] = set()
                while len(done_cls) < len(self.reach_cls) or len(done_fn) < len(self.reach_fn):
                    for cid in [c for c in self.reach_cls if c not in done_cls]:
                        done_cls.add(cid)
                        self._analyse_cls(cid)
                    for fid in [f for f in self.reach_fn if f not in done_fn]:
                        done_fn.add(fid)
                        self._analyse_fn(fid)
                self._classify_stores()
                if not self.changed:
                    break
            else:
                self._report(-1, None, "the from-scratch check could not finish reading the notebook; simplify "
                                       "how the graded functions call each other")
        except RecursionError:
            self._report(-1, None, "the from-scratch check could not finish reading the notebook (nested too "
                                   "deeply); simplify the graded code")
        return sorted(self.findings, key=lambda m: (*self.findings[m], m))
