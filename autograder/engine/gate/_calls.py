"""Calls and stores (`_Calls`): builtins that look names up, files and descriptors, monkeypatches."""

from __future__ import annotations

import ast
import re

from mlp_lab.source import own_nodes

from ._allowlist import (
    _ALLOWED_DUNDER_STORES,
    _ALLOWED_DUNDERS,
    _ALLOWED_MODULES,
    _CONFIG_STORES,
    _DYNAMIC_BUILTINS,
    _FRAME_ATTRS,
    _INTERPRETER_BUILTINS,
    _KIT,
    _PATH_METHODS,
    _RAW_ATTRS,
    _TORCH_HOOK_METHODS,
)
from ._origins import _Origins
from ._syntax import _is_dunder, _root, _Scope, _shown
from ._types import Kind


class _Calls(_Origins):
    """The judging of calls, attributes of untracked values, and stores."""

    # -- attributes of untracked values --------------------------------------------------------

    def _object_attribute(self, node: ast.AST, attr: str, store: bool) -> None:
        """An attribute of a value the gate does not track (the student's objects, results of calls)."""
        if _is_dunder(attr):
            if store and attr not in _ALLOWED_DUNDER_STORES:
                self.report(node, "dunder", f"assigns the special attribute `{attr}`")
            elif not store and attr not in _ALLOWED_DUNDERS:
                self.report(node, "dunder", f"reads the special attribute `{attr}`, a way from any object to "
                                            "the interpreter's internals")
            if attr in _TORCH_HOOK_METHODS:
                self.report(node, "torch-internals", f"reaches `{attr}`, which intercepts every torch call")
        elif attr in _FRAME_ATTRS:
            self.report(node, "interpreter", f"reaches a stack frame or code object (`{attr}`), which holds the "
                                             "grader's own variables")
        elif attr in _RAW_ATTRS:
            self.report(node, "file-descriptor", f"uses `.{attr}`, which reads or writes raw memory or files")

    @staticmethod
    def _literal_attr_base(node: ast.AST, parent: ast.AST | None) -> bool:
        """getattr(torch, "exp"): the module is the base of a (literal) attribute, not a passed-around value."""
        return (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name)
                and parent.func.id in ("getattr", "hasattr", "setattr", "delattr") and len(parent.args) >= 2
                and parent.args[0] is node and isinstance(parent.args[1], ast.Constant)
                and isinstance(parent.args[1].value, str))

    def _kit_call(self, call: ast.Call) -> bool:
        """check("relu_values", globals()): the kit's own check (never rebound) may read the namespace."""
        if not isinstance(call.func, ast.Name) or call.func.id in self.rebound:
            return False
        paths = self.paths(call.func)
        return bool(paths) and all(p.startswith(f"{_KIT}.") and p.split(".", 1)[1] in self.kit for p in paths)

    # -- calls ---------------------------------------------------------------------------------

    def _call(self, node: ast.Call, scope: _Scope, parent: ast.AST | None) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) and self._builtin(func.id, scope) else None
        if name in _DYNAMIC_BUILTINS:
            if (name == "globals" and not node.args and isinstance(parent, ast.Call) and node in parent.args
                    and self._kit_call(parent)):
                return  # check("relu_values", globals()): the kit's own check reads the namespace
            self.report(node, "dynamic-code", f"uses `{name}`, which runs or looks up code by strings the gate "
                                              "cannot read")
        elif name in _INTERPRETER_BUILTINS:
            self.report(node, "interpreter", f"uses `{name}`, which reaches the interpreter's machinery "
                                             "(debugger, module importer)")
        elif name in ("getattr", "hasattr", "setattr", "delattr"):
            self._attr_builtin(node, name, scope)
        elif name == "type" and len(node.args) > 1:
            self.report(node, "dynamic-code", "makes a class from a dictionary of names, which the gate cannot read")
        elif name == "open":
            self._path(node, 0, "open")
            mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"),
                                                                None)
            if mode is not None and not (isinstance(mode, ast.Constant) and isinstance(mode.value, str)):
                self.report(node, "file-descriptor", "opens a file with a computed mode")
        paths = self.paths(func)
        if "os.write" in paths:
            fd = node.args[0] if node.args else None
            if not (isinstance(fd, ast.Constant) and type(fd.value) is int and fd.value in (1, 2)):
                self.report(node, "file-descriptor", "writes to a file descriptor other than stdout or stderr "
                                                     "(1, 2); the grader's status pipe is one")
        if any(p in ("d2l.add_to_class",) for p in paths) and node.args:
            target = node.args[0]
            if self.paths(target) or self._bare_origin(target):
                self.report(node, "monkeypatch", "adds a method to a library class, which changes what the "
                                                 "grader's code calls")
        if isinstance(func, ast.Attribute) and func.attr in _PATH_METHODS:
            index = _PATH_METHODS[func.attr]
            if index is None:
                self.report(node, "file-descriptor", f"writes a file with `.{func.attr}`")
            else:
                self._path(node, index, func.attr)

    def _path(self, node: ast.Call, index: int, what: str) -> None:
        arg = node.args[index] if len(node.args) > index else next(
            (k.value for k in node.keywords if k.arg in ("file", "fname", "path", "path_or_buf")), None)
        if arg is None:
            return
        if isinstance(arg, ast.Constant) and type(arg.value) is int:
            self.report(node, "file-descriptor", f"calls {what} on a raw file descriptor ({arg.value})")
        elif not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            self.report(node, "file-descriptor", f"calls {what} on a computed path, which may name the grader's "
                                                 "status pipe or result files (/proc/self/fd/...)")
        else:
            path = arg.value
            if path.startswith(("/", "~", "\\")) or ".." in re.split(r"[\\/]", path) or ":" in path:
                self.report(node, "file-descriptor", f"calls {what} on `{path}`, outside the working directory "
                                                     "(the grader's descriptors and results live there)")

    def _attr_builtin(self, node: ast.Call, name: str, scope: _Scope) -> None:
        if len(node.args) < 2:
            return
        attr = node.args[1]
        if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
            if self._own_object(node.args[0], scope):
                return  # setattr(self, name, ...) in a method: the student's own object (module docstring)
            self.report(node, "dynamic-code", f"uses `{name}` with a computed attribute name, which the gate "
                                              "cannot read")
            return
        target = node.args[0]
        store = name in ("setattr", "delattr")
        bases = self.paths(target)
        if bases:
            for base in sorted(bases):
                if not self._step(node, base, attr.value):
                    return
            if store and f"{sorted(bases)[0]}.{attr.value}" not in _CONFIG_STORES:
                self.report(node, "monkeypatch", f"changes `{sorted(bases)[0]}.{attr.value}`, part of an imported "
                                                 "library the grader's own code calls")
            return
        self._object_attribute(node, attr.value, store)
        if store:
            self._check_store_root(node, target, attr.value)

    @staticmethod
    def _own_object(target: ast.AST, scope: _Scope) -> bool:
        """Is `target` the first parameter of a method it is read in (directly, or as a closure variable)?"""
        if not isinstance(target, ast.Name):
            return False
        s: _Scope | None = scope
        while s is not None and s.kind != "module":
            if s.self_param is not None and s.self_param == target.id:
                return True
            if s.kind == "function" and (target.id in s.locals or target.id in s.globals):
                return False  # a name of a nested function, lambda or comprehension
            s = s.parent
        return False

    def _hyperparameter_modules(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """d2l's save_hyperparameters() copies every local of its caller onto self: no local may be a module."""
        for n in own_nodes(fn):
            if isinstance(n, ast.Import):
                names = [(alias.asname or alias.name.split(".")[0]) for alias in n.names]
            elif isinstance(n, ast.ImportFrom) and n.module and not n.level:
                base = self._import_path(n.module)
                names = [alias.asname or alias.name for alias in n.names
                         if self._attribute_path(base, alias.name) in _ALLOWED_MODULES | self.modules]
            elif isinstance(n, ast.Assign | ast.AnnAssign) and n.value is not None and any(
                    p in _ALLOWED_MODULES or p in self.modules for p in self.paths(n.value)):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
            else:
                continue
            for local in names:
                self.report(n, "interpreter", f"binds the module `{local}` to a local of `{fn.name}`, which calls "
                                              "save_hyperparameters(): d2l copies every local onto self, so "
                                              f"`self.{local}` is a module the gate cannot follow; import it at "
                                              "the top of the cell instead")

    # -- stores --------------------------------------------------------------------------------

    def _store(self, target: ast.AST, stmt: ast.AST) -> None:
        for t in ast.walk(target):
            if isinstance(t, ast.Attribute) and isinstance(t.ctx, ast.Store | ast.Del):
                bases = self.paths(t.value)
                if bases:
                    full = sorted(self.paths(t) or {f"{sorted(bases)[0]}.{t.attr}"})[0]
                    if full not in _CONFIG_STORES:
                        verb = "is deleted" if isinstance(t.ctx, ast.Del) else "is assigned"
                        kind: Kind = "builtins" if _root(full) == "builtins" else "monkeypatch"
                        self.report(t, kind, f"{verb}: it changes `{full}`, part of an imported library the "
                                             "grader's own code calls")
                else:
                    self._check_store_root(t, t.value, t.attr)

    def _check_store_root(self, node: ast.AST, base: ast.AST, attr: str) -> None:
        """`x.attr = v` on an untracked object: refused when x may be a library class."""
        chain = base
        attrs: list[str] = []
        while isinstance(chain, ast.Attribute | ast.Subscript):
            if isinstance(chain, ast.Attribute):
                attrs.append(chain.attr)
            chain = chain.value
        if isinstance(chain, ast.Call) and isinstance(chain.func, ast.Name) and chain.func.id in ("type", "super"):
            self.report(node, "monkeypatch", f"changes `{attr}` of a class reached through {chain.func.id}(), which "
                                             "may be a library class")
        elif not isinstance(chain, ast.Name):
            self.report(node, "monkeypatch", f"changes `{attr}` of an object the gate cannot identify; assign "
                                             "attributes of names you defined")
        elif chain.id in self.tainted or any(a in self.tainted_attrs for a in attrs):
            self.report(node, "monkeypatch", f"changes `{attr}` of `{_shown(base)}`, which may hold a library "
                                             "class (it is bound from one): that patches the library")
