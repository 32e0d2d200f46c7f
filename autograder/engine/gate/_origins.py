"""What each name of the notebook may hold: import origins, aliases, library classes (`_Origins`).

The first pass over every cell (`learn`): imports and aliases in every scope merged, then the names,
attributes and functions that may hold a library class, and the methods whose first parameter is
always an instance of a notebook class.  Findings are recorded here too (`report`).
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable, Sequence

from mlp_lab.source import dotted as _dotted
from mlp_lab.source import own_nodes

from ._allowlist import (
    _ALLOWED_DUNDERS,
    _ALLOWED_MODULES,
    _D2L_MODULE_ATTRS,
    _DENIED,
    _MODULE_ALIASES,
    _MODULE_ATTRS,
    _ONLY,
    _PASS_THROUGH_BUILTINS,
    _SYS_WHY,
    _TORCH_BACK_DOORS,
)
from ._syntax import (
    _bound_names,
    _first_param,
    _is_dunder,
    _is_private,
    _literal_getattr,
    _rebinds,
    _root,
    _saves_hyperparameters,
    _Scope,
    _shown,
    _zero_arg_super,
)
from ._types import Finding, Kind


class _Origins:
    """What the notebook's names may hold (`learn`), and the findings so far."""

    def __init__(self, kit_names: Collection[str]) -> None:
        self.kit = frozenset(kit_names)
        self.findings: list[Finding] = []
        self.seen: set[tuple[int, int, str, str]] = set()
        self.origins: dict[str, set[str]] = {}      # name -> origins it may hold (imports, aliases)
        self.modules: set[str] = set()               # origins that are modules
        self.tainted: set[str] = set()               # names that may hold a library class or type(...)
        self.tainted_attrs: set[str] = set()         # attribute names that may hold one
        self.rebound: set[str] = set()               # names bound by anything but an import
        self.returns_origin: set[str] = set()        # notebook functions that may return a library class
        self.own_methods: set[int] = set()           # id() of methods whose first parameter is always an instance
        self.cell = 0

    # -- findings ------------------------------------------------------------------------------

    def report(self, node: ast.AST | None, kind: Kind, what: str, construct: str | None = None) -> None:
        line = getattr(node, "lineno", 1) if node is not None else 1
        shown = construct if construct is not None else (_shown(node) if node is not None else "")
        key = (self.cell, line, shown, kind)
        if key in self.seen:
            return
        self.seen.add(key)
        message = f"cell {self.cell}, line {line}: `{shown}` {what}"
        self.findings.append(Finding(self.cell, line, shown, kind, message))

    # -- what names may hold -------------------------------------------------------------------

    def learn(self, trees: Sequence[ast.Module]) -> None:
        """Imports and aliases (every scope merged), then the names that may hold a library class."""
        nodes = [node for tree in trees for node in ast.walk(tree)]
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self._bind(alias.asname, self._import_path(alias.name), module=True)
                    else:
                        top = alias.name.split(".")[0]
                        self._bind(top, "d2l.package" if top == "d2l" else top, module=True)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                base = self._import_path(node.module)
                for alias in node.names:
                    if alias.name != "*":
                        path = self._attribute_path(base, alias.name)
                        self._bind(alias.asname or alias.name, path, module=path in _ALLOWED_MODULES)
        for node in nodes:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                self.rebound.add(node.id)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.rebound.add(node.name)
            elif isinstance(node, ast.arg):
                self.rebound.add(node.arg)
        assignments = [n for n in nodes if isinstance(n, ast.Assign | ast.AnnAssign | ast.NamedExpr)
                       and n.value is not None and isinstance(n.value, ast.Name | ast.Attribute)]
        for _ in range(4):  # aliases of aliases: `F = torch.nn.functional`, `G = F`
            changed = False
            for node in assignments:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                paths = self.paths(node.value)  # type: ignore[arg-type]
                for t in targets:
                    if isinstance(t, ast.Name) and paths - self.origins.get(t.id, set()):
                        for p in paths:
                            self._bind(t.id, p, module=p in self.modules)
                        changed = True
            if not changed:
                break
        self._taint(nodes)
        self._methods(trees, nodes)

    def _import_path(self, module: str) -> str:
        return "d2l" if module == "d2l.torch" else "d2l.package" if module == "d2l" else module

    def _attribute_path(self, base: str, attr: str) -> str:
        only = _ONLY.get(base)
        if only is not None and only.get(attr):
            return only[attr]  # type: ignore[return-value]
        path = f"{base}.{attr}"
        return _MODULE_ALIASES.get(path, path)

    def _bind(self, name: str, path: str, module: bool) -> None:
        self.origins.setdefault(name, set()).add(path)
        if module:
            self.modules.add(path)

    def paths(self, node: ast.AST) -> set[str]:
        """The import origins a Name or attribute chain may be (a refused step ends the chain)."""
        parts = _dotted(node)
        if not parts:
            return set()
        out = set()
        for base in self.origins.get(parts[0], set()):
            path: str | None = base
            for attr in parts[1:]:
                if path is None or self._refusal(path, attr) is not None:
                    path = None
                    break
                path = self._attribute_path(path, attr) if (path in _ALLOWED_MODULES or path in self.modules) \
                    else f"{path}.{attr}"
            if path is not None:
                out.add(path)
        return out

    def _refusal(self, base: str, attr: str) -> tuple[Kind, str] | None:
        """(kind, why) when an import origin's attribute is off the allowlist, else None."""
        is_module = base in _ALLOWED_MODULES or base in self.modules
        torch = _root(base) == "torch"
        if _is_dunder(attr):
            if attr in _ALLOWED_DUNDERS:
                return None
            return "dunder", f"reads the special attribute `{attr}` of `{base}`"
        if _is_private(attr):
            if torch:
                return "torch-internals", f"reaches the private `{base}.{attr}` (PyTorch's internals)"
            return "interpreter", f"reaches the private attribute `{base}.{attr}`"
        full = self._attribute_path(base, attr) if is_module else f"{base}.{attr}"
        if full in _DENIED:
            kind, why = _DENIED[full]
            return kind, f"uses `{full}`, which {why}"
        if not is_module:
            return None
        only = _ONLY.get(base)
        if only is not None and attr not in only:
            if base == "d2l" and attr in _D2L_MODULE_ATTRS:
                return "import", (f"reaches the module `{attr}` through `d2l`, which is not on the lab's import "
                                  "allowlist")
            kind: Kind = {"sys": "interpreter", "os": "file-descriptor", "io": "file-descriptor"}.get(base, "import")
            why = {"sys": _SYS_WHY.get(attr, "reaches into the interpreter (sys allows only stdout, stderr, "
                                             "version, ...)"),
                   "os": "reaches the operating system (os allows only environ, getenv, path, write(1|2), ...)",
                   "io": "opens raw files or descriptors (io allows only StringIO, BytesIO)"}.get(
                base, f"is not one of the `{base}` names the lab allows")
            return kind, why
        module_attr = attr in _MODULE_ATTRS.get(base, frozenset()) or (only is not None and only.get(attr))
        if module_attr and full not in _ALLOWED_MODULES:
            if attr == "builtins" or attr == "bltns":
                return "builtins", f"reaches the builtins module through `{base}`: changing it changes every function"
            kind = "torch-internals" if torch and attr in _TORCH_BACK_DOORS else "import"
            return kind, f"reaches the module `{full}` through `{base}`, which is not on the lab's import allowlist"
        return None

    # -- judging an origin's attribute ---------------------------------------------------------

    def _step(self, node: ast.AST, base: str, attr: str, construct: str | None = None) -> bool:
        """Judge `base.attr` for an import origin `base`; report and return False when refused."""
        refusal = self._refusal(base, attr)
        if refusal is not None:
            self.report(node, refusal[0], refusal[1], construct or _shown(node))
        return refusal is None

    def _builtin(self, name: str, scope: _Scope) -> bool:
        """May the name be the builtin (not a parameter or local of an enclosing function)?"""
        s: _Scope | None = scope
        while s is not None:
            if s.kind == "function" and name in s.locals and name not in s.globals:
                return False
            s = s.parent
        return name not in self.origins

    # -- names that may hold a library class ---------------------------------------------------

    def _bare_origin(self, node: ast.AST) -> bool:
        """Does `node` hand a library object (not a call's result) to whatever stores it?"""
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, ast.Name | ast.Attribute) and self.paths(n):
                return True
            if isinstance(n, ast.Call):
                if isinstance(n.func, ast.Name) and (n.func.id in ("type", "super") or n.func.id in self.tainted
                                                     or n.func.id in self.returns_origin):
                    return True
                if (isinstance(n.func, ast.Attribute) and n.func.attr == "mro") or _literal_getattr(n.func) == "mro":
                    return True  # C.mro(): the notebook class's bases, library classes among them
                if self._passes_arguments_through(n.func):  # list([cls]), copy.copy(cls), helper(cls)
                    stack.extend([*n.args, *[k.value for k in n.keywords]])
                continue  # torch.randn(..., dtype=torch.float64) returns a new value
            if isinstance(n, ast.Name) and n.id in self.tainted:
                return True
            if isinstance(n, ast.Attribute):
                if n.attr in self.tainted_attrs:
                    return True
                stack.append(n.value)
                continue
            if isinstance(n, ast.Lambda):
                stack.append(n.body)  # `get = lambda: torch.Tensor`: calling get gives the class
                continue
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            stack.extend(ast.iter_child_nodes(n))
        return False

    def _passes_arguments_through(self, func: ast.AST) -> bool:
        """May a call's result be one of its arguments (so a library class it gets may come back out)?"""
        if isinstance(func, ast.Name) and func.id in _PASS_THROUGH_BUILTINS:
            return True
        if isinstance(func, ast.Name | ast.Lambda) and not self.paths(func):
            return True  # a function of the notebook, or an unknown callable
        paths = self.paths(func)
        return any(_root(p) in ("copy", "functools", "operator", "itertools", "collections", "typing") for p in paths)

    def _taint(self, nodes: Sequence[ast.AST]) -> None:
        defs: dict[str, list[ast.AST]] = {}
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                defs.setdefault(node.name, []).append(node)
        relevant = [n for n in nodes if isinstance(n, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.NamedExpr |
                                                   ast.For | ast.AsyncFor | ast.comprehension | ast.withitem)
                    or (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in defs)]
        for _ in range(4):
            before = (len(self.tainted), len(self.tainted_attrs), len(self.returns_origin))
            for name, fns in defs.items():
                for fn in fns:
                    if any(isinstance(r, ast.Return | ast.Yield | ast.YieldFrom) and r.value is not None
                           and self._bare_origin(r.value) for r in own_nodes(fn)):
                        self.returns_origin.add(name)
            for node in relevant:
                if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.NamedExpr) and node.value:
                    if self._bare_origin(node.value):
                        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                        self._taint_targets(targets)
                elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
                    if self._bare_origin(node.iter):
                        self._taint_targets([node.target])
                elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                    if self._bare_origin(node.context_expr):
                        self._taint_targets([node.optional_vars])
                elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in defs:
                    for fn in defs[node.func.id]:
                        params = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]  # type: ignore[attr-defined]
                        for i, arg in enumerate(node.args):
                            if self._bare_origin(arg):
                                self.tainted.update(params[i:i + 1] if not isinstance(arg, ast.Starred) else params)
                        for kw in node.keywords:
                            if self._bare_origin(kw.value):
                                self.tainted.update([kw.arg] if kw.arg else params)
            for fns in defs.values():  # save_hyperparameters(): every local of the caller becomes an attribute
                for fn in fns:
                    if _saves_hyperparameters(fn):
                        self.tainted_attrs.update(set(_bound_names(fn)) & (self.tainted | set(self.origins)))
            if (len(self.tainted), len(self.tainted_attrs), len(self.returns_origin)) == before:
                break

    def _methods(self, trees: Sequence[ast.Module], nodes: Sequence[ast.AST]) -> None:
        """The methods whose first parameter is always an instance of a notebook class (`own_methods`).

        A method is a def in a notebook class's body, or a def whose one decorator is
        `d2l.add_to_class(C)` for a notebook class C.

        A method is called with something else in its first parameter when it is fetched from the class
        (`C.f(torch.Tensor, ...)`, `g = C.f`, `map(C.f, ...)`), or through a decorator or the class body.
        Every fetch of a method's name but `self.f(...)`, `super().f(...)` and a call whose first argument
        is not a library object (`Base.__init__(self)`, `model.forward(X)`) disqualifies it.  A call that
        hands a library object to the first parameter of a method fetched from what may be a class also
        taints that parameter: what the method stores on it patches the library.
        """
        defs: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
        classes: set[str] = set()
        exposed: set[str] = set()
        for node in nodes:
            if isinstance(node, ast.ClassDef):
                classes.add(node.name)
                defs += [d for d in node.body if isinstance(d, ast.FunctionDef | ast.AsyncFunctionDef)
                         and _first_param(d)]
        # `@d2l.add_to_class(C)` on a def: a method of the notebook class C (the def's own name becomes None)
        added = {id(d) for d in nodes if isinstance(d, ast.FunctionDef | ast.AsyncFunctionDef) and _first_param(d)
                 and self._added_to_notebook_class(d, classes)}
        defs += [d for d in nodes if id(d) in added]
        names = {d.name for d in defs}
        firsts = {d.name: set() for d in defs}
        for d in defs:
            firsts[d.name].add(_first_param(d))
        for node in nodes:  # the class body names a method as a plain value (m = classmethod(m))
            if isinstance(node, ast.ClassDef):
                exposed |= names & {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
                                    and isinstance(n.ctx, ast.Load)}
        for _ in range(4):  # D = C: names that may hold a notebook class
            more = {t.id for n in nodes if isinstance(n, ast.Assign) and isinstance(n.value, ast.Name)
                    and n.value.id in classes for t in n.targets if isinstance(t, ast.Name)} - classes
            if not more:
                break
            classes |= more
        unbound: set[str] = set()
        aliases: dict[str, tuple[str, ast.AST]] = {}     # g = C.f: g is f fetched from C
        calls: list[tuple[str, ast.Call, ast.AST]] = []  # (method name, call, what it is fetched from)

        def fetched(name: str, receiver: ast.AST, use: ast.AST, parent: ast.AST | None, self_name: str | None) -> None:
            if (isinstance(receiver, ast.Name) and receiver.id == self_name) or _zero_arg_super(receiver):
                return  # self.f(...), super().f(...): bound to the instance
            if isinstance(parent, ast.Call) and parent.func is use:
                calls.append((name, parent, receiver))
                return
            exposed.add(name)
            if isinstance(parent, ast.Assign) and parent.value is use:
                aliases.update((t.id, (name, receiver)) for t in parent.targets if isinstance(t, ast.Name))

        for tree in trees:
            stack: list[tuple[ast.AST, ast.AST | None, str | None]] = [(tree, None, None)]
            while stack:
                node, parent, self_name = stack.pop()
                inner = self_name
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                    method = (isinstance(parent, ast.ClassDef) and node in parent.body) or id(node) in added
                    inner = _first_param(node) if method else None
                elif isinstance(node, ast.ClassDef):
                    inner = None
                elif isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
                    if self_name in _bound_names(node):
                        inner = None
                if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and node.attr in names:
                    fetched(node.attr, node.value, node, parent, self_name)
                elif isinstance(node, ast.Call) and (literal := _literal_getattr(node)) in names and literal:
                    fetched(literal, node.args[0], node, parent, self_name)
                for child in ast.iter_child_nodes(node):
                    # decorators, defaults and bases run outside the function or class
                    outside = child in getattr(node, "decorator_list", ()) or child in getattr(node, "bases", ()) or (
                        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and child is node.args)
                    stack.append((child, node, self_name if outside else inner))
        for n in nodes:
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in aliases:
                calls.append((aliases[n.func.id][0], n, aliases[n.func.id][1]))
        for name, call, receiver in calls:
            first = call.args[0] if call.args else None
            by_keyword = [k.value for k in call.keywords if k.arg is None or k.arg in firsts[name]]
            library = any(self._bare_origin(v) for v in [*call.args[:1], *by_keyword])
            if library or by_keyword or isinstance(first, ast.Starred):
                exposed.add(name)  # the first parameter may be whatever this call passes
            if library and ((isinstance(receiver, ast.Name) and receiver.id in classes) or self._bare_origin(receiver)):
                unbound.add(name)
        if unbound:  # C.f(torch.Tensor, ...): what f stores on its first parameter patches the library
            self.tainted.update(_first_param(d) for d in defs if d.name in unbound)
            self._taint(nodes)
        self.own_methods = {id(d) for d in defs if (not d.decorator_list or id(d) in added) and d.name not in exposed
                            and _first_param(d) not in self.tainted and not _rebinds(d, _first_param(d))}

    def _added_to_notebook_class(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, classes: set[str]) -> bool:
        """Is `fn`'s one decorator `d2l.add_to_class(C)`, C a class the notebook defines (and d2l not rebound)?"""
        if len(fn.decorator_list) != 1:
            return False
        deco = fn.decorator_list[0]
        parts = _dotted(deco.func) if isinstance(deco, ast.Call) else None
        return (isinstance(deco, ast.Call) and parts is not None and parts[0] not in self.rebound
                and self.paths(deco.func) == {"d2l.add_to_class"} and len(deco.args) == 1 and not deco.keywords
                and isinstance(deco.args[0], ast.Name) and deco.args[0].id in classes
                and not self._bare_origin(deco.args[0]))

    def _taint_targets(self, targets: Iterable[ast.AST]) -> None:
        stack = list(targets)
        while stack:
            t = stack.pop()
            if isinstance(t, ast.Name):
                self.tainted.add(t.id)
            elif isinstance(t, ast.Tuple | ast.List):
                stack.extend(t.elts)
            elif isinstance(t, ast.Starred):
                stack.append(t.value)
            elif isinstance(t, ast.Attribute):
                self.tainted_attrs.add(t.attr)   # self.cls = nn.Module: `.cls` may hold a library class
            elif isinstance(t, ast.Subscript):
                root = t.value
                while isinstance(root, ast.Subscript | ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name):   # L[0] = torch.Tensor: L holds one
                    self.tainted.add(root.id)
