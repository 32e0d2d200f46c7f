"""Is the from-scratch part really from scratch?  A sound static reading of the notebook's cells.

`scan_from_scratch(cells, graded)` returns student-facing messages, one for every place where code
reachable from a graded name (`relu`, `sigmoid`, `tanh`, `MLPScratch`, ...) uses a built-in
activation or a torch.nn layer, and for every place the reading cannot follow soundly.  It parses
the cells (`mlp_lab.source.python_source`), it never runs them, and it imports only the standard
library.

How it reads a notebook (an abstract interpretation, flow-insensitive inside a function):

* Module-level names follow the notebook's order: an unconditional top-level binding replaces the
  earlier ones, a binding inside `if`/`for`/`try`/... is added to them, and a `global` assignment
  inside a function may happen at any time.  Function bodies run when the grader probes, after
  every cell, so they see the last bindings; class bodies, decorators and defaults see the
  bindings of their own point in the notebook.
* Every value is a set of *atoms*: an imported object (`torch.nn.functional.relu`), a function,
  lambda or class of the notebook, an instance of such a class, a value computed while the graded
  code runs (tensors, numbers), an item fetched from a container, an object that lives outside the
  call (module-level data, class attributes, mutable defaults, closures; a comprehension is not a
  closure, it runs where it stands), or something unknown (bound by `for`/`with`/`except`/`match`/
  star-import, a computed attribute name ...).  What a method of a run-time value returns
  (`d.get("relu")`, `fns.pop()`) may be what the value holds: an item (tensor methods give tensors).
  `getattr(self, name)` is any attribute of the model, its methods bound; a function has no
  attribute but dunders and what stores give it.
* Reachable = a notebook function or class whose atom shows up while evaluating reachable code,
  starting from the graded names: helpers and lambdas they call or mention, decorators, default
  arguments, base classes, class attributes, every method of a reachable class, methods attached
  from any cell (`@d2l.add_to_class(MLPScratch)`, `MLPScratch.forward = f`, `setattr(...)`), and
  values passed to them (arguments are propagated into parameters).
* In reachable code it reports: imported objects on the forbidden list (activations, torch.nn
  layers and functionals, torch internals), forbidden methods on values (`X.tanh()`), calls it
  cannot resolve (an item of a container, an attribute of a module-level object, a name bound by a
  loop, a parameter the probe does not pass ...; a method called where it is read on an item,
  `name.startswith("W")`, is an ordinary method call, but the item itself or a method of it
  called elsewhere is not), dynamic lookups (`getattr` with a computed name,
  `eval`, `globals()`, ...) and unfamiliar dunder attributes.  Anywhere in the notebook it reports
  what can change code behind the scan's back (`exec`, `__dict__`, `sys.modules`, torch.library,
  `__torch_function__`, ...), and assignments to attributes whose target it cannot identify when
  the attribute is one that the graded code or the library may call.

What is allowed in graded code: tensor arithmetic and torch's public functions that are not
activations or layers (`torch.exp`, `torch.where`, `torch.clamp`, `torch.maximum`, matmul, ...),
`nn.Parameter`, `nn.Module`, `nn.init`, `torch.autograd`, `math`, `numpy` (same rules), d2l's
`Classifier`/`Module`/`add_to_class` and its tensor aliases, `functools.partial`, builtins such as
`len`/`range`/`print`, printing and logging (`sys.stdout`/`sys.stderr`, `os.write`, `warnings.warn`:
no more of sys, os and io than the integrity gate allows) and the standard library's data helpers
(`copy`, `json`, `pprint`, `statistics`, ...), and code outside the graded names may use anything.

Limits (the sandboxed run's recorder, `probes.FORBIDDEN_RUNTIME`, stays the second look):

* library base classes (nn.Module, d2l.Classifier) are trusted, not read;
* a container or object built at module level may be changed by method calls the reading does not
  track (`acts.append(f)`, `m.add_module(...)`), so calling anything fetched from one is reported;
* attribute stores to an object the reading cannot identify count only for names that graded or
  library code calls (forward, loss, dunders, ...), and a value passed to a notebook function by a
  call the reading cannot resolve is taken as data unless it is stored where graded code reads it.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from .source import python_source

__all__ = ["Cell", "scan_from_scratch"]


@dataclass(frozen=True)
class Cell:
    """One notebook code cell: `label` names it in messages (e.g. "cell 17")."""

    label: str
    source: str


# --- what graded code may use ---------------------------------------------------------------

# Names of built-in activations, layers and their functionals, whatever object they hang off.
_FORBIDDEN_EXACT = frozenset({
    "elu", "elu_", "celu", "celu_", "selu", "selu_", "expit", "threshold", "threshold_", "mish",
    "glu", "prelu", "rrelu", "rrelu_", "hardshrink", "softshrink", "swish", "functional",
    "Sequential", "ModuleList", "ModuleDict", "Flatten", "Identity", "ELU", "CELU", "SELU", "GLU",
    "PReLU", "RReLU", "Threshold", "Mish", "Hardshrink", "Softshrink",
})
_FORBIDDEN_PARTS = re.compile(
    r"relu|sigmoid|softmax|softmin|softplus|softsign|gelu|silu|tanh|hardswish|linear|rnn|lstm|gru",
    re.IGNORECASE)
_NOT_ACTIVATIONS = frozenset({"atanh", "atanh_", "arctanh", "arctanh_"})  # inverse functions
_LAYER_WORDS = re.compile(r"linear|sequential|module(list|dict)|flatten|identity|rnn|lstm|gru", re.IGNORECASE)

# torch.nn members a from-scratch model may use.
_ALLOWED_NN = frozenset({"Parameter", "Module", "init", "ParameterList", "ParameterDict", "parameter",
                         "Buffer", "UninitializedParameter"})
# torch's submodules (torch 2.x, `types.ModuleType` attributes of `torch`), and those graded code may use.
_TORCH_SUBMODULES = frozenset({
    "accelerator", "amp", "ao", "autograd", "backends", "builtins", "classes", "compiler", "cpp", "cpu",
    "ctypes", "cuda", "distributed", "distributions", "export", "fft", "func", "functional", "functools",
    "futures", "fx", "glob", "hub", "importlib", "inspect", "jit", "library", "linalg", "masked", "math",
    "monitor", "mps", "mtia", "multiprocessing", "nested", "nn", "ops", "optim", "os", "overrides",
    "package", "platform", "profiler", "quantization", "quasirandom", "random", "return_types",
    "serialization", "signal", "sparse", "special", "storage", "sys", "testing", "textwrap", "threading",
    "torch", "torch_version", "types", "typing", "typing_extensions", "utils", "version", "warnings",
    "windows", "xpu", "onnx", "quantized",
})
_TORCH_ALLOWED_SUBMODULES = frozenset({"nn", "autograd", "linalg", "cuda", "backends", "random", "cpu",
                                       "mps", "types", "fft", "version"})
_TORCH_ACTIVATION_SUBMODULES = frozenset({"special", "functional", "ao", "quantization", "quantized"})
_NUMPY_ALLOWED_SUBMODULES = frozenset({"random", "linalg"})
_NUMPY_SUBMODULES = frozenset({"ctypeslib", "lib", "ma", "testing", "polynomial", "fft", "char", "rec",
                               "core", "compat", "distutils", "f2py", "typing", "matrixlib", "emath",
                               "random", "linalg", "os", "sys"})
# d2l's torch module: its module aliases, and the tensor aliases it defines (`tanh = torch.tanh` ...).
_D2L_MODULES = {"torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional", "np": "numpy",
                "math": "math", "nn_Module": "torch.nn.Module", "d2l": "d2l"}
_D2L_TORCH_ALIASES = {
    "ones_like": "ones_like", "ones": "ones", "zeros_like": "zeros_like", "zeros": "zeros",
    "tensor": "tensor", "arange": "arange", "meshgrid": "meshgrid", "sin": "sin", "sinh": "sinh",
    "cos": "cos", "cosh": "cosh", "tanh": "tanh", "linspace": "linspace", "exp": "exp", "log": "log",
    "normal": "normal", "rand": "rand", "randn": "randn", "matmul": "matmul", "int32": "int32",
    "int64": "int64", "float32": "float32", "concat": "cat", "stack": "stack", "abs": "abs", "eye": "eye",
    "sigmoid": "sigmoid", "batch_matmul": "bmm",
}
_D2L_ALLOWED = frozenset({
    "Classifier", "Module", "HyperParameters", "add_to_class", "ProgressBoard", "plot", "set_figsize",
    "use_svg_display", "numpy", "size", "reshape", "to", "reduce_sum", "argmax", "astype", "transpose",
    "reduce_mean", "expand_dims", "swapaxes", "repeat", "cpu", "gpu", "try_gpu", "num_gpus", "Timer",
})
# Other modules graded code may use, with the members that are allowed ("*": all public ones).
_OTHER_ALLOWED = {
    "math": "*", "builtins": "*", "typing": "*", "numbers": "*", "abc": "*", "time": "*", "random": "*",
    "warnings": {"warn"}, "functools": {"partial", "wraps", "lru_cache", "cache", "cached_property",
                                       "reduce", "total_ordering"},
    "itertools": "*", "dataclasses": {"dataclass", "field"}, "enum": "*", "collections": {
        "namedtuple", "OrderedDict", "defaultdict", "deque", "Counter"},
    "matplotlib": "*", "matplotlib.pyplot": "*",
    "operator": {"add", "sub", "mul", "truediv", "matmul", "neg", "pos", "pow", "gt", "ge", "lt", "le",
                 "eq", "ne", "and_", "or_", "not_", "abs", "mod", "floordiv"},
    # printing and logging (the integrity gate allows no more of sys, os and io), and data helpers
    "sys": {"stdout", "stderr", "version", "version_info", "platform", "maxsize", "float_info", "getsizeof",
            "exit"},
    "os": {"write", "environ", "getenv", "cpu_count", "getpid", "getcwd", "sep", "linesep", "path"},
    "io": {"StringIO", "BytesIO"}, "pprint": "*", "json": {"dumps", "loads"}, "string": "*", "textwrap": "*",
    "copy": {"copy", "deepcopy"}, "heapq": "*", "bisect": "*", "statistics": "*", "datetime": "*",
    "fractions": "*", "decimal": "*",
}
# Library base classes a graded class may derive from.
_ALLOWED_BASES = frozenset({"torch.nn.Module", "torch.nn.modules.module.Module", "d2l.Module", "d2l.Classifier",
                            "d2l.HyperParameters", "torch.autograd.Function", "abc.ABC", "typing.Generic"})
_ALLOWED_METACLASSES = frozenset({"abc.ABCMeta"})
# Library functions that return a callable wrapping their callable arguments.
_WRAPPERS = frozenset({"functools.partial", "functools.wraps", "functools.lru_cache", "functools.cache",
                       "functools.cached_property", "functools.total_ordering", "torch.compile",
                       "torch.no_grad", "torch.enable_grad", "torch.inference_mode", "torch.set_grad_enabled",
                       "dataclasses.dataclass", "torch.vmap"})
# Builtins by what their result can hold.
_DYNAMIC_BUILTINS = frozenset({"eval", "exec", "compile", "__import__", "globals", "locals", "vars",
                               "breakpoint", "input", "open", "help", "memoryview", "delattr"})
_ITEM_BUILTINS = frozenset({"iter", "next", "list", "tuple", "dict", "set", "frozenset", "sorted",
                            "reversed", "filter", "map", "zip", "enumerate", "min", "max", "sum", "aiter",
                            "anext"})
_WRAPPER_BUILTINS = frozenset({"staticmethod", "classmethod", "property"})
_BUILTIN_NAMES = frozenset(dir(builtins))
# Dunder attributes honest graded code reads.
_ALLOWED_DUNDERS = frozenset({"__init__", "__name__", "__qualname__", "__doc__", "__module__", "__class__"})
# Names library code calls on a model or tensor by itself (so an unknown store to them matters).
_LIBRARY_CALLED = frozenset({
    "forward", "training_step", "validation_step", "loss", "configure_optimizers", "accuracy", "apply_init",
    "layer_summary", "plot", "parameters", "named_parameters", "children", "named_children", "modules",
    "named_modules", "state_dict", "load_state_dict", "train", "eval", "to", "cuda", "cpu", "apply",
    "zero_grad", "extra_repr", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_backward_hook", "save_hyperparameters", "get_scratch_params",
    "set_scratch_params_device", "net", "backward", "step", "prepare_batch", "fit",
})
# Tensor methods and attributes: callable (or readable) on an item of a container, e.g. X[0].sum().
_TENSOR_ATTRS = frozenset("""
    T H mT abs abs_ add add_ all any argmax argmin backward bool ceil clamp clamp_ clamp_min clamp_max
    clamp_min_ clamp_max_ clip clone contiguous copy_ cos cpu cuda cumsum data detach detach_ device dim
    div div_ double dtype eq exp exp_ expand expand_as expm1 fill_ flatten float floor ge grad grad_fn gt
    half int is_leaf item le log log1p log_ long lt masked_fill masked_fill_ matmul max maximum mean min
    minimum mm mul mul_ ndim ne neg neg_ new_ones new_tensor new_zeros norm numel numpy permute pow
    prod reciprocal requires_grad requires_grad_ reshape reshape_as round rsqrt shape sign
    sin size sqrt square squeeze std sub sub_ sum t to tolist transpose type type_as unsqueeze var view
    view_as where zero_
""".split())
_CONTAINER_OPS = (ast.Add, ast.Mult, ast.BitOr, ast.BitAnd, ast.BitXor, ast.Sub)

# What anywhere in the notebook can change code behind the scan's back.
_POISON_DUNDERS = frozenset({"__dict__", "__globals__", "__builtins__", "__code__", "__closure__",
                             "__defaults__", "__kwdefaults__", "__subclasses__", "__getattribute__",
                             "__setattr__", "__delattr__", "__func__", "__self__", "__bases__", "__mro__",
                             "__wrapped__", "__reduce__", "__reduce_ex__", "__setstate__", "__import__",
                             "__loader__", "__spec__"})
_POISON_METHODS = frozenset({"__torch_function__", "__torch_dispatch__", "__getattr__", "__set_name__",
                             "__init_subclass__", "__class_getitem__", "__instancecheck__"})
_POISON_ORIGINS = (
    "sys.modules", "sys._getframe", "sys.settrace", "sys.setprofile", "sys.addaudithook", "sys.meta_path",
    "sys.path_hooks", "sys.path_importer_cache", "sys.excepthook", "sys.displayhook", "importlib", "ctypes",
    "gc", "inspect", "pickle", "marshal", "shelve", "dill", "copyreg", "types.FunctionType", "types.CodeType",
    "torch.library", "torch.overrides", "torch.ops", "torch.utils.cpp_extension", "torch.hub", "torch.package",
    "torch.load", "torch.jit.load", "numpy.load", "numpy.ctypeslib", "threading.settrace",
    "torch.nn.modules.module", "torch.nn.utils.parametrize", "torch.nn.utils.parametrizations",
    "threading.setprofile", "atexit", "builtins",
)
_POISON_BUILTINS = frozenset({"eval", "exec", "compile", "__import__", "globals", "locals", "vars"})

_MAX_DEPTH = 120          # AST nesting the reading follows; deeper cells are reported, not read
_MAX_PASSES = 60          # rounds of the fixpoint
_END = 1 << 60            # "after every cell": where function bodies look names up

# --- atoms -----------------------------------------------------------------------------------

FRESH = ("fresh",)   # computed while the graded code runs: tensors, numbers, new containers
ITEM = ("item",)     # fetched from a container at run time
EXT = ("ext",)       # an attribute supplied by a library base class (nn.Module, d2l.Classifier)
Atom = tuple
Atoms = frozenset
_NONE: frozenset[tuple] = frozenset()
# ("method", id(node)): `node`, an attribute of an item (`name.startswith`): callable as `node(...)` only.
_UNCALLABLE = ("item", "method", "persist", "unknown", "seen")  # "seen": unknown, already reported where it arose
# Attributes of the stdlib wrappers the reading models as the function they wrap (partial, property, lru_cache).
_WRAPPER_ATTRS = frozenset({"func", "args", "keywords", "fget", "fset", "fdel", "getter", "setter", "deleter",
                            "cache_info", "cache_clear", "cache_parameters", "attrname"})


def _persist(where: str) -> tuple:
    return ("persist", where)


def _unknown(why: str) -> tuple:
    return ("unknown", why)


# --- origin verdicts -------------------------------------------------------------------------

def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not _is_dunder(name)


def _forbidden_name(name: str) -> bool:
    if name in _NOT_ACTIVATIONS:
        return False
    return name in _FORBIDDEN_EXACT or bool(_FORBIDDEN_PARTS.search(name))


def _normalise(path: str) -> str:
    """d2l's re-exports as what they are (`d2l.tanh` is torch.tanh, `d2l.F` is torch.nn.functional)."""
    parts = path.split(".")
    if parts[0] == "d2l":
        while len(parts) > 1 and parts[1] in ("torch", "d2l"):
            parts.pop(1)
        if len(parts) > 1 and parts[1] in _D2L_MODULES:
            return ".".join([_D2L_MODULES[parts[1]], *parts[2:]])
        if len(parts) > 1 and parts[1] in _D2L_TORCH_ALIASES:
            return ".".join(["torch", _D2L_TORCH_ALIASES[parts[1]], *parts[2:]])
    if parts[0] == "torch" and len(parts) > 1 and parts[1] in ("torch",):
        parts.pop(1)
    return ".".join(parts)


def _origin_verdict(path: str) -> tuple[str, str] | None:
    """(kind, detail) when graded code may not use the imported object at `path`, else None.

    kind: "activation", "layer", "internals" or "unverifiable".
    """
    parts = _normalise(path).split(".")
    for part in parts:
        if _is_private(part):
            return "internals", ".".join(parts)
        if _is_dunder(part) and part not in _ALLOWED_DUNDERS:
            return "unverifiable", ".".join(parts)
    for part in parts[1:]:
        if _forbidden_name(part):
            return ("layer" if _LAYER_WORDS.search(part) or part[:1].isupper() else "activation"), ".".join(parts)
    root = parts[0]
    if root == "torch":
        if len(parts) == 1:
            return None
        sub = parts[1]
        if sub in _TORCH_ACTIVATION_SUBMODULES:
            return "activation", ".".join(parts)
        if sub == "nn":
            if len(parts) > 2 and parts[2] not in _ALLOWED_NN:
                return "layer", ".".join(parts)
            return None
        if sub in _TORCH_SUBMODULES and sub not in _TORCH_ALLOWED_SUBMODULES:
            return ("internals" if sub in ("ops", "library", "overrides", "fx", "jit", "compiler") else
                    "unverifiable"), ".".join(parts)
        return None
    if root == "numpy":
        if len(parts) > 1 and parts[1] in _NUMPY_SUBMODULES and parts[1] not in _NUMPY_ALLOWED_SUBMODULES:
            return "unverifiable", ".".join(parts)
        return None
    if root == "d2l":
        if len(parts) > 1 and parts[1] not in _D2L_ALLOWED:
            return "unverifiable", ".".join(parts)
        return None
    for module, members in _OTHER_ALLOWED.items():
        mparts = module.split(".")
        if parts[:len(mparts)] == mparts:
            rest = parts[len(mparts):]
            if not rest or members == "*" or rest[0] in members:
                return None
            return "unverifiable", ".".join(parts)
    return "unverifiable", ".".join(parts)


def _poison_origin(path: str) -> bool:
    path = _normalise(path)
    if any(_is_private(p) for p in path.split(".")[1:]) and path.startswith("torch."):
        return True
    return any(path == p or path.startswith(p + ".") for p in _POISON_ORIGINS)


def _torchlike(path: str) -> bool:
    root = _normalise(path).split(".")[0]
    return root in ("torch", "numpy", "math")


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


_FIX = {
    "activation": "compute it yourself from tensor operations (torch.where, torch.clamp, torch.exp, X * (X > 0))",
    "layer": "store W1, b1, W2, b2 as nn.Parameter and use matrix products (X @ W1 + b1)",
    "internals": "use torch's public tensor functions instead",
}


class _Scan:
    """One reading of a notebook: build the program, then grow what is reachable to a fixpoint."""

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

    # -- findings --------------------------------------------------------------------------

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

    # -- reading the cells -----------------------------------------------------------------

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
        fn.generator = any(isinstance(n, ast.Yield | ast.YieldFrom) for n in _own_nodes(node))
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

    # -- name resolution -------------------------------------------------------------------

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
        if closure and not self.var_const.get(key, False):
            where = f"`{name}` ({self.labels[scope.cell]}, line {getattr(scope.node, 'lineno', '?')})"
            atoms = frozenset(_persist(where) if a in (FRESH, ITEM, EXT) or a[0] in ("inst", "super", "method") else a
                              for a in atoms)
        return atoms

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

    def _self_class(self, fn: _Fn) -> set[int]:
        if fn.static:
            return set()
        classes = set(self.method_of.get(fn.id, set()))
        if fn.in_class is not None:
            classes.add(fn.in_class)
        return classes

    # -- module-level bindings -------------------------------------------------------------

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

    # -- definitions -----------------------------------------------------------------------

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

    # -- expressions -----------------------------------------------------------------------

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

    # -- calls -----------------------------------------------------------------------------

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

    def _is_self(self, node: ast.AST, ctx: _Ctx) -> bool:
        owner = _function_scope(ctx.scope)
        if not isinstance(node, ast.Name) or owner is None or owner.fn is None:
            return False
        fn = self.fns[owner.fn]
        return fn.params[:1] == [node.id] and bool(self._self_class(fn)) and not fn.classmethod

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

    # -- statements ------------------------------------------------------------------------

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

    # -- reachable code --------------------------------------------------------------------

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

    def _describe(self, atom: tuple) -> str:
        if atom[0] in ("item", "method"):
            return "a value fetched from a container at run time"
        if atom[0] == "persist":
            return f"something held by {atom[1]}, an object other cells can change"
        return str(atom[1])

    def _library_called(self, name: str) -> bool:
        return name in _LIBRARY_CALLED or name in self.called or _is_dunder(name) or name.startswith("_")

    # -- stores that outlive their call ----------------------------------------------------

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

    # -- notebook-wide hazards -------------------------------------------------------------

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

    # -- the fixpoint ----------------------------------------------------------------------

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


def _order(atom: tuple) -> tuple[int, str]:
    """A fixed order of atoms (set order varies with string hashing): the most telling first."""
    rank = {"persist": 0, "unknown": 1, "seen": 2, "item": 3, "method": 3}.get(atom[0], 4)
    return rank, repr(atom)


def _function_scope(scope: _Scope | None) -> _Scope | None:
    """The function a scope's code runs in (through comprehensions), if any."""
    while scope is not None and scope.kind == "comp":
        scope = scope.parent
    return scope if scope is not None and scope.kind == "function" else None


def _dotted(node: ast.AST) -> list[str] | None:
    """["torch", "nn", "functional"] for torch.nn.functional; None unless a chain of names."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _declarations(node: ast.AST, scope: _Scope) -> None:
    """`global` and `nonlocal` names of a function or class body (they apply to the whole body)."""
    for n in _own_nodes(node):
        if isinstance(n, ast.Global):
            scope.globals.update(n.names)
        elif isinstance(n, ast.Nonlocal):
            scope.nonlocals.update(n.names)


def _own_nodes(node: ast.AST) -> Iterable[ast.AST]:
    """The nodes of a function's own body, not of the functions and classes nested in it."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        n = stack.pop()
        yield n
        if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(n))


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


def scan_from_scratch(cells: Sequence[Cell], graded: Collection[str]) -> list[str]:
    """Student-facing messages for every place where code reachable from `graded` is not from scratch.

    Empty when every function, method and value the graded names can reach uses tensor operations
    only, and the reading could follow all of it.
    """
    return _Scan(cells, graded).run()
