"""What graded code may use: the forbidden and allowed names and modules, and each origin's verdict."""

from __future__ import annotations

import ast
import builtins
import re

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
# Attributes of the stdlib wrappers the reading models as the function they wrap (partial, property, lru_cache).
_WRAPPER_ATTRS = frozenset({"func", "args", "keywords", "fget", "fset", "fdel", "getter", "setter", "deleter",
                            "cache_info", "cache_clear", "cache_parameters", "attrname"})
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
