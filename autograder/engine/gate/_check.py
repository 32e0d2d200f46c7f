"""The second pass (`_Gate`): parse each cell within the limits, then judge every node in its scope."""

from __future__ import annotations

import ast

from mlp_lab.source import python_source

from ._allowlist import (
    _ALLOWED_DUNDER_NAMES,
    _ALLOWED_DUNDER_STORES,
    _ALLOWED_MODULES,
    _CALL_ONLY_BUILTINS,
    _DUNDER_FIELD,
    _DYNAMIC_BUILTINS,
    _FORMAT_FIELD,
    _GRADER_PACKAGES,
    _IMPORTABLE,
    _KIT,
    _TORCH_BACK_DOORS,
    _TORCH_HOOK_METHODS,
)
from ._calls import _Calls
from ._syntax import (
    _alias,
    _bound_names,
    _declared_globals,
    _depth,
    _first_param,
    _is_dunder,
    _is_private,
    _saves_hyperparameters,
    _Scope,
)
from ._types import MAX_CELL_CHARS, MAX_DEPTH, MAX_NOTEBOOK_CHARS, GateCell, Kind


class _Gate(_Calls):
    """The integrity gate's reading of one notebook: `learn` every cell, then `check` each."""

    # -- reading cells -------------------------------------------------------------------------

    def parse(self, cell: GateCell, budget: int) -> ast.Module | None:
        self.cell = cell.index
        if len(cell.source) > MAX_CELL_CHARS:
            self.report(None, "unreadable", f"is {len(cell.source):,} characters long, over the gate's limit of "
                                            f"{MAX_CELL_CHARS:,}; the cell is not run", construct="<cell>")
            return None
        if len(cell.source) > budget:
            self.report(None, "unreadable", f"takes the notebook past the gate's limit of {MAX_NOTEBOOK_CHARS:,} "
                                            "characters in all; the cell is not run", construct="<cell>")
            return None
        try:
            source = python_source(cell.source)
            if source is None:
                return None  # a %%bash or %%writefile cell: not Python, not run
            tree = ast.parse(source)
        except SyntaxError as exc:
            if "too many nested" in str(exc) or "too many statically nested" in str(exc):
                self.report(None, "unreadable", f"exceeds the parser's nesting limit ({exc.msg}); the cell is "
                                                "not run", construct="<cell>")
            return None  # a plain syntax error: the child reports it as the cell's error
        except BaseException as exc:
            self.report(None, "unreadable", f"cannot be parsed within the gate's limits ({type(exc).__name__}); "
                                            "the cell is not run", construct="<cell>")
            return None
        if _depth(tree) > MAX_DEPTH:
            self.report(None, "unreadable", f"is nested deeper than the gate's limit of {MAX_DEPTH} levels; the "
                                            "cell is not run", construct="<cell>")
            return None
        return tree

    # -- checking ------------------------------------------------------------------------------

    def check(self, cell: int, tree: ast.Module) -> None:
        self.cell = cell
        module = _Scope("module", None, set(), set())
        stack: list[tuple[ast.AST, _Scope, ast.AST | None]] = [(tree, module, None)]  # node, scope, parent
        while stack:
            node, scope, parent = stack.pop()
            inner = scope
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ListComp | ast.SetComp |
                          ast.DictComp | ast.GeneratorExp):
                declared = _declared_globals(node) if not isinstance(node, ast.Lambda) else set()
                inner = _Scope("function", scope, set(_bound_names(node)) - declared, declared)
                if id(node) in self.own_methods:
                    inner.self_param = _first_param(node)  # type: ignore[arg-type]
            elif isinstance(node, ast.ClassDef):
                inner = _Scope("class", scope, set(), set())
            self._node(node, scope, parent)
            for child in ast.iter_child_nodes(node):
                # decorators, defaults and bases belong to the enclosing scope
                outside = child in getattr(node, "decorator_list", ()) or child in getattr(node, "bases", ()) or (
                    isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and child is node.args)
                stack.append((child, scope if outside else inner, node))

    def _node(self, node: ast.AST, scope: _Scope, parent: ast.AST | None) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            self._import(node)
        elif isinstance(node, ast.Name):
            self._name(node, scope, parent)
        elif isinstance(node, ast.Attribute):
            self._attribute(node, parent, scope)
        elif isinstance(node, ast.Call):
            self._call(node, scope, parent)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in _TORCH_HOOK_METHODS:
            self.report(node, "torch-internals", f"defines `{node.name}`, which intercepts every torch call "
                                                 "(including the probes' own)", construct=f"def {node.name}")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for t in targets:
                self._store(t, node)
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            self._store(node.target, node)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            self._store(node.optional_vars, node)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _saves_hyperparameters(node):
            self._hyperparameter_modules(node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            self._string(node, parent)

    def _string(self, node: ast.Constant, parent: ast.AST | None) -> None:
        text = node.value
        assert isinstance(text, str)
        formatted = isinstance(parent, ast.Attribute) and parent.attr in ("format", "format_map")
        if _DUNDER_FIELD.search(text) or (formatted and _FORMAT_FIELD.search(text)):
            self.report(node, "dynamic-code", "is a format string whose fields walk to special or private "
                                              "attributes (str.format follows them)")
        elif isinstance(parent, ast.Subscript) and parent.slice is node and _is_dunder(text):
            self.report(parent, "dunder", f"looks up the special name `{text}` by a string")

    # -- imports -------------------------------------------------------------------------------

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self._import_module(node, alias.name)
            return
        module = node.module or ""
        if node.level:
            self.report(node, "import", "is a relative import, which the gate cannot follow")
            return
        if module == _KIT:
            for alias in node.names:
                if alias.name not in self.kit:
                    self.report(node, "import", f"imports `{alias.name}` from the kit; the notebook may import only "
                                                f"{', '.join(sorted(self.kit)) or 'nothing'} from {_KIT}")
            return
        if not self._import_module(node, module):
            return
        base = self._import_path(module)
        for alias in node.names:
            if alias.name == "*":
                self.report(node, "import", "binds names the gate cannot see (a star import); import the names "
                                            "you use")
            else:
                self._step(node, base, alias.name, construct=f"from {module} import {alias.name}")

    def _import_module(self, node: ast.AST, module: str) -> bool:
        top = module.split(".")[0]
        if top in _GRADER_PACKAGES:
            self.report(node, "import", f"imports the grader's own module `{module}`")
        elif top == _KIT:
            self.report(node, "import", f"imports the kit's module `{module}`; the notebook may only write "
                                        f"`from {_KIT} import {', '.join(sorted(self.kit))}`")
        elif module not in _IMPORTABLE:
            parts = module.split(".")
            if top == "torch" and len(parts) > 1 and (parts[1] in _TORCH_BACK_DOORS or _is_private(parts[1])
                                                      or ".".join(parts[1:3]) in _TORCH_BACK_DOORS):
                self.report(node, "torch-internals", f"imports `{module}`, one of PyTorch's back doors into its "
                                                     "dispatch, kernels or serialisation")
            elif top == "builtins":
                self.report(node, "builtins", "imports the builtins module: changing it changes every function, "
                                              "the grader's too")
            else:
                self.report(node, "import", f"imports `{module}`, which is not on the lab's import allowlist")
        else:
            return True
        return False

    # -- names and attributes ------------------------------------------------------------------

    def _name(self, node: ast.Name, scope: _Scope, parent: ast.AST | None) -> None:
        name = node.id
        if name == "__builtins__":
            self.report(node, "builtins", "is the builtins namespace: changing it changes every function, the "
                                          "grader's too")
            return
        if _is_dunder(name):
            if isinstance(node.ctx, ast.Load) and name not in _ALLOWED_DUNDER_NAMES:
                self.report(node, "dunder", f"reads the special name `{name}`")
            elif isinstance(node.ctx, ast.Store) and name in _TORCH_HOOK_METHODS:
                self.report(node, "torch-internals", f"defines `{name}`, which intercepts every torch call")
            elif isinstance(node.ctx, ast.Store) and name not in _ALLOWED_DUNDER_STORES:
                self.report(node, "dunder", f"assigns the special name `{name}`")
            return
        if not isinstance(node.ctx, ast.Load):
            return
        if name == "get_ipython" and self._builtin(name, scope):
            self.report(node, "interpreter", "reaches the IPython kernel, which can run any code")
            return
        callee = isinstance(parent, ast.Call) and parent.func is node
        if name in _CALL_ONLY_BUILTINS and self._builtin(name, scope) and not callee:
            kind: Kind = "dynamic-code" if name in _DYNAMIC_BUILTINS | {"getattr", "setattr", "delattr", "hasattr",
                                                                         "type"} else "interpreter"
            if name == "open":
                kind = "file-descriptor"
            self.report(node, kind, f"uses the builtin `{name}` as a value, which the gate cannot follow")
            return
        paths = self.paths(node)
        if not paths:
            return
        attr_base = ((isinstance(parent, ast.Attribute) and parent.value is node)
                     or self._literal_attr_base(node, parent))
        alias = _alias(node, parent, scope)
        if not attr_base and not alias and any(p in self.modules or p in _ALLOWED_MODULES for p in paths):
            self.report(node, "interpreter", "passes a module around as a plain value, which the gate cannot "
                                             f"follow; write `{name}.<name>` where it is used")
        if not callee and not attr_base and any(p == "os.write" for p in paths):
            self.report(node, "file-descriptor", "uses `os.write` as a value; call os.write(1, ...) or "
                                                 "os.write(2, ...) directly")

    def _attribute(self, node: ast.Attribute, parent: ast.AST | None, scope: _Scope) -> None:
        attr = node.attr
        if attr == "save_hyperparameters" and not (isinstance(parent, ast.Call) and parent.func is node
                                                   and scope.kind == "function"):
            self.report(node, "interpreter", "copies every variable of the code that calls it onto the object (at "
                                             "the top of a cell: every module the notebook imported), which the "
                                             "gate cannot follow; call self.save_hyperparameters() in __init__")
        bases = self.paths(node.value)
        if bases:
            for base in sorted(bases):
                if not self._step(node, base, attr):
                    return
            full = self.paths(node)
            attr_base = (isinstance(parent, ast.Attribute) and parent.value is node) or self._literal_attr_base(
                node, parent)
            alias = _alias(node, parent, scope)
            callee = isinstance(parent, ast.Call) and parent.func is node
            modules = {p for p in full if p in _ALLOWED_MODULES or p in self.modules}
            if modules and not (attr_base or alias):
                self.report(node, "interpreter", "passes a module around as a plain value, which the gate cannot "
                                                 "follow")
            if "os.write" in full and not callee and not attr_base:
                self.report(node, "file-descriptor", "uses `os.write` as a value; call os.write(1, ...) or "
                                                     "os.write(2, ...) directly")
            return
        self._object_attribute(node, attr, isinstance(node.ctx, ast.Store | ast.Del))
