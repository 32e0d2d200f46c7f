"""The integrity gate: refuse, before any child starts, code that reaches into the grader or the interpreter.

A point is awarded only for evidence the student's process cannot produce without doing the work.
Student code runs in the same interpreter as the grader's probes, so code that can reach the
interpreter's machinery (modules, frames, live objects, file descriptors, builtins, torch's
dispatch) could rewrite the probes or forge their results.  `inspect_cells` parses every code cell
that will run (the parent never runs student code) and reports each construct outside an
allowlist of what the lab needs.  Honest notebooks never trip it.

Allowed (everything else is refused):

    imports             torch (.nn, .nn.functional, .nn.init, .optim, .optim.lr_scheduler, .utils,
                        .utils.data, .linalg, .autograd, .special, .distributions, .fft, .cuda,
                        .backends, .backends.cudnn, .random), torchvision(.transforms), d2l
                        (`from d2l import torch as d2l`), numpy (.random, .linalg), math, cmath,
                        matplotlib (.pyplot, .cm, .colors, .ticker, .style), typing, collections
                        (.abc), dataclasses, functools, itertools, random, time, warnings, copy,
                        enum, abc, numbers, statistics, string, textwrap, json, operator, re,
                        datetime, fractions, decimal, heapq, bisect, pprint, contextlib, __future__;
                        sys, os, os.path and io with the attributes below; from the kit only
                        `from mlp_lab import <kit_names>`
    sys                 stdout, stderr, version, version_info, platform, maxsize, float_info, ...
    os                  environ, getenv, cpu_count, getpid, getcwd, sep, path (os.path), and
                        os.write(1 | 2, ...) with a literal descriptor
    io                  StringIO, BytesIO
    d2l                 its classes and helpers for this chapter (Classifier, Module, Trainer,
                        FashionMNIST, add_to_class, plot, ... and the tensor aliases), and its
                        re-exports torch, nn, F, np, plt, math
    files               open() / savefig() / imsave() with a literal relative path (no "..") and a
                        literal mode; print(..., file=sys.stderr)
    attributes          anything on the student's own objects (`self._cache`, `x.grad`,
                        `model.eval()`), except the names refused below; a dunder only when it is
                        __init__, __name__, __qualname__, __doc__, __module__ or __version__
    own object          getattr/setattr/hasattr/delattr(self, <computed name>, ...) where `self` is the
                        first parameter of an undecorated method of a notebook class, never rebound,
                        read in the method (or a lambda/comprehension in it), and the method is never
                        fetched from its class with something else in its place (`C.f(x, ...)`,
                        `g = C.f`, `f = classmethod(f)`); `Base.__init__(self, ...)` is fine
    config stores       torch.backends.cudnn.{deterministic, benchmark, allow_tf32},
                        torch.backends.cuda.matmul.allow_tf32; plt.rcParams[...] = ...

Refused, and why each family is an escape:

    kind             what                                           why it escapes
    import           modules off the allowlist (threading,        threads/processes outlive the probe;
                     multiprocessing, subprocess, signal, atexit,   the others reach frames, live objects,
                     socket, inspect, gc, ctypes, importlib,        raw memory or the grader's code;
                     pickle, builtins, __main__, autograder.*,      `from X import *` binds names the gate
                     kit internals), star imports, a module         cannot see; `d2l.os`, `torch.sys`,
                     reached as an attribute (`d2l.os`,             `dataclasses.inspect` are the same
                     `torch.sys`, `np.lib`, `plt.importlib`)        modules through a side door
    interpreter      sys.modules, sys.argv, sys._getframe, ...,     the module table holds the probes; a
                     frame and traceback attributes (f_locals,      frame holds the child's locals (plan,
                     f_globals, f_back, tb_frame, gi_frame, ...),   status fd, results); a module passed
                     help(), breakpoint(), get_ipython, a module    as a plain value leaves the gate's
                     object used as a plain value; save_hyperpa-    tracking; d2l's save_hyperparameters()
                     rameters() outside a function, or in one that  copies its caller's variables onto the
                     binds a module to a local                      object (at the top level: every module)
    dynamic-code     exec, eval, compile, __import__, globals(),    they run or look up code by strings
                     locals(), vars(), non-literal getattr/setattr/ the gate cannot read; a format string
                     delattr/hasattr (but on self, above), these    with `{0.__class__}` walks attributes;
                     builtins as values, type(name, bases, dict),   typing.get_type_hints evals strings;
                     operator.attrgetter/methodcaller, format       numpy.load(allow_pickle) unpickles
                     fields with _names, typing.get_type_hints,
                     functools.singledispatch, numpy.load
    dunder           any other dunder attribute or name            __class__/__subclasses__/__globals__/
                     (`().__class__.__base__.__subclasses__()`,    __dict__/__code__/__closure__ ... walk
                     `f.__globals__`, `e.__traceback__`), any       from any object to every module and
                     dunder assignment                              frame, or rewrite functions
    torch-internals  torch._* (torch._C, DisableTorchFunction),     they pop or replace the probes'
                     torch.ops, .overrides (TorchFunctionMode),     TorchFunctionMode, register kernels,
                     .library, .utils.cpp_extension, .hub,         or load code (pickles, TorchScript,
                     .package, .jit, .fx, .compiler, .classes,     extensions)
                     torch.load, torch.save, torch.from_file,
                     defining __torch_function__/__torch_dispatch__
    builtins         `__builtins__` (any use), the builtins module  rebinding a builtin changes it for the
                                                                    grader's code too
    file-descriptor  os.write to another fd, os.open/fdopen/       the status pipe and result files are
                     listdir/dup/..., open(<int>), open() of a      open descriptors or paths in the same
                     computed or absolute path or "/proc", ".."     process: a write forges a result
                     paths, .tofile(), .ctypes, io.FileIO
    monkeypatch      assigning or deleting attributes of imported  the probes and checks call library
                     modules or their classes (numpy.isclose = .., functions; replacing them changes
                     torch.Tensor.detach = .., setattr(np, ..)),    what the grader measures
                     of `type(x)`, of `C.mro()`'s classes or of any
                     value that holds a library class (`self` too,
                     when `C.f(torch.Tensor)` passes one as self),
                     add_to_class on a library class
    unreadable       a cell over MAX_CELL_CHARS, deeper than        the gate must never crash or hang; code
                     MAX_DEPTH, or that ast.parse cannot read       it cannot read is not run
                     for any reason but a plain SyntaxError

A plain SyntaxError is not a finding: the child reports it as the cell's error, as Python would.
The tables of module-valued attributes below are those of the pinned packages; a test re-derives
them from the installed packages (tests/engine/test_gate.py), so an upgrade cannot open a side door.

Computed names on the student's own object leave one risk: `setattr(self, name, v)` may set a dunder
the gate cannot read (`__class__`, `__dict__`).  That changes only the student's object, and it is no
way into the grader: every further dunder access on what comes back is still refused, so is a computed
lookup on anything but `self`, a class reached from the object yields library classes only through
dunders (refused) or `.mro()` (its results are taken as library classes), and a library class stored
on self under a computed name comes back only as a value the gate does not track (the limit below).

What a static gate cannot see, and the run time must still hold (the child's sandbox and probes):

* library code that starts threads or processes by itself (torch's intra-op threads, the workers
  of a DataLoader inside d2l.FashionMNIST / d2l.Trainer);
* library functions that open files or import modules from data they are given (a "module://"
  backend in plt.rcParams["backend"], a dataset root): landlock and `python -I` (no cwd on sys.path);
* a library class reached through a value the gate does not track (what a method returns) and then
  patched: the probes must keep calling the originals they captured at import (probes.py does);
* private attributes of objects that library calls return (`x._version`): only chains rooted in an
  import are judged;
* the text of computed strings: `("{0.__cl" + "ass__}").format(x)` only reads values as text;
* stdout: os.write(1, ...) and print() reach it, so the parent must never read status from it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from mlp_lab.source import python_source

__all__ = ["ALLOWED_IMPORTS", "MAX_CELL_CHARS", "MAX_DEPTH", "MAX_NOTEBOOK_CHARS", "Finding", "GateCell", "Kind",
           "inspect_cells"]

Kind = Literal["import", "interpreter", "dynamic-code", "dunder", "torch-internals", "builtins",
               "file-descriptor", "monkeypatch", "unreadable"]

MAX_CELL_CHARS = 200_000        # a notebook cell of honest code is a few KB
MAX_NOTEBOOK_CHARS = 1_000_000   # all cells together (the whole lab notebook is ~50 KB)
MAX_DEPTH = 100                 # AST nesting the gate reads (honest cells stay under 30)


@dataclass(frozen=True)
class GateCell:
    """A code cell that will run: `index` is the notebook's 1-based cell number, `source` its raw text."""

    index: int
    source: str


@dataclass(frozen=True)
class Finding:
    """One refused construct; `message` is for an instructor and names the cell and line."""

    cell: int
    line: int
    construct: str
    kind: Kind
    message: str


# --- the allowlist -----------------------------------------------------------------------------

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Modules a cell may import (exactly these paths); "d2l.torch" is the d2l module the book imports.
_IMPORTABLE = _words("""
    torch torch.nn torch.nn.functional torch.nn.init torch.optim torch.optim.lr_scheduler torch.utils
    torch.utils.data torch.linalg torch.autograd torch.special torch.distributions torch.fft torch.cuda
    torch.backends torch.backends.cudnn torch.random torch.version torchvision torchvision.transforms d2l
    d2l.torch numpy numpy.random numpy.linalg numpy.fft numpy.version math cmath matplotlib
    matplotlib.pyplot matplotlib.cm matplotlib.colors matplotlib.ticker matplotlib.style typing collections collections.abc dataclasses functools itertools
    random time warnings copy enum abc numbers statistics string textwrap json operator re datetime fractions
    decimal heapq bisect pprint contextlib sys os os.path io __future__
""")
ALLOWED_IMPORTS = _IMPORTABLE
# The module-valued public attributes and the on-disk submodules (which become attributes once anything
# imports them) of every allowed module: torch 2.14.1, torchvision 0.29.1, numpy 1.23.5, matplotlib 3.7.2,
# Python 3.11; re-derived from the installed packages by the tests.  An attribute listed here is a module,
# allowed only when the module it names is allowed too.
_MODULE_ATTRS: dict[str, frozenset[str]] = {
    "torch": _words("""
        accelerator amp ao autograd backends builtins classes compiler contrib cpp cpu ctypes cuda
        distributed distributions export fft func functional functools futures fx glob hub importlib inspect
        jit library linalg masked math monitor mps mtia multiprocessing nativert nested nn numa onnx ops
        optim os overrides package platform profiler quantization quasirandom random return_types
        serialization signal sparse special storage sys testing textwrap threading torch torch_version types
        typing typing_extensions utils version warnings windows xpu
    """),
    "torch.nn": _words("""
        attention backends common_types cpp functional grad init intrinsic modules parallel parameter qat
        quantizable quantized utils
    """),
    "torch.nn.functional": _words("dataclasses grad importlib math np torch warnings"),
    "torch.nn.init": _words("math torch warnings"),
    "torch.optim": _words("""
        adadelta adagrad adam adamax adamw asgd lbfgs lr_scheduler nadam optimizer radam rmsprop rprop sgd
        sparse_adam swa_utils
    """),
    "torch.optim.lr_scheduler": _words("math types warnings"),
    "torch.utils": _words("""
        backcompat backend_registration benchmark bundled_inputs checkpoint collect_env copyreg
        cpp_backtrace cpp_extension data debug_log deterministic dlpack file_baton flop_counter hipify hooks
        jit mkldnn mobile_optimizer model_dump model_zoo module_tracker serialization show_pickle
        tensorboard throughput_benchmark torch viz weak weakref
    """),
    "torch.utils.data": _words("""
        backward_compatibility dataloader datapipes dataset distributed graph graph_settings sampler
    """),
    "torch.linalg": frozenset(),
    "torch.autograd": _words("""
        anomaly_mode forward_ad function functional grad_mode gradcheck graph profiler profiler_legacy
        profiler_util torch variable warnings
    """),
    "torch.special": _words("torch"),
    "torch.distributions": _words("""
        bernoulli beta binomial categorical cauchy chi2 constraint_registry constraints continuous_bernoulli
        dirichlet distribution exp_family exponential fishersnedecor gamma generalized_pareto geometric
        gumbel half_cauchy half_normal independent inverse_gamma kl kumaraswamy laplace lkj_cholesky
        log_normal logistic_normal lowrank_multivariate_normal mixture_same_family multinomial
        multivariate_normal negative_binomial normal one_hot_categorical pareto poisson relaxed_bernoulli
        relaxed_categorical studentT transformed_distribution transforms uniform utils von_mises weibull
        wishart
    """),
    "torch.fft": _words("torch"),
    "torch.cuda": _words("""
        amp comm gds glob graph_annotations graphs green_contexts importlib jiterator memory nccl nvtx os
        platform profiler random sparse streams threading torch traceback tunable warnings
    """),
    "torch.backends": _words("""
        cpu cuda cudnn cusparselt kleidiai m mha miopen mkl mkldnn mps nnpack openmp opt_einsum
        python_native quantized xeon xnnpack
    """),
    "torch.backends.cudnn": _words("m rnn"),
    "torch.random": _words("contextlib torch warnings"),
    "torch.version": frozenset(),
    "torchvision": _words("""
        datasets extension image_stable io models ops torch transforms tv_tensors utils version
    """),
    "torchvision.transforms": _words("autoaugment functional transforms v2"),
    "numpy": _words("""
        array_api char compat conftest core ctypeslib distutils doc dual emath f2py fft lib linalg ma math
        matlib matrixlib os polynomial random rec setup sys testing tests typing version warnings
    """),
    "numpy.random": _words("bit_generator mtrand setup tests"),
    "numpy.linalg": _words("lapack_lite linalg setup tests"),
    "numpy.fft": _words("helper setup tests"),
    "numpy.version": frozenset(),
    "math": frozenset(),
    "cmath": frozenset(),
    "matplotlib": _words("""
        afm animation artist atexit axes axis backend_bases backend_managers backend_tools backends bezier
        category cbook cm collections colorbar colors container contextlib contour dates docstring dviread
        figure font_manager fontconfig_pattern ft2font functools gridspec hatch image importlib inspect
        layout_engine legend legend_handler lines locale logging markers mathtext mlab numpy offsetbox os
        patches path patheffects pprint projections pylab pyplot quiver rcsetup re sankey scale shutil
        sphinxext spines stackplot streamplot style subprocess sys table tempfile testing tests texmanager
        text textpath ticker tight_bbox tight_layout transforms tri type1font units warnings widgets
    """),
    "matplotlib.pyplot": _words("""
        cbook cm functools importlib inspect logging matplotlib mlab np rcsetup re style sys threading time
    """),
    "matplotlib.cm": _words("cbook colors functools ma mpl np scale"),
    "matplotlib.colors": _words("""
        Image base64 cbook functools importlib inspect io itertools mpl np re scale
    """),
    "matplotlib.ticker": _words("cbook itertools locale logging math mpl mtransforms np"),
    "matplotlib.style": _words("core"),
    "typing": _words("collections contextlib functools operator stdlib_re sys types warnings"),
    "collections": _words("abc"),
    "collections.abc": frozenset(),
    "dataclasses": _words("abc builtins copy functools inspect itertools keyword re sys types"),
    "functools": frozenset(),
    "itertools": frozenset(),
    "random": frozenset(),
    "time": frozenset(),
    "warnings": _words("sys"),
    "copy": frozenset(),
    "enum": _words("bltns sys"),
    "abc": frozenset(),
    "numbers": frozenset(),
    "statistics": _words("math numbers random sys"),
    "string": frozenset(),
    "textwrap": _words("re"),
    "json": _words("codecs decoder encoder scanner tool"),
    "operator": frozenset(),
    "re": _words("copyreg enum functools"),
    "datetime": _words("sys"),
    "fractions": _words("math numbers operator re sys"),
    "decimal": frozenset(),
    "heapq": frozenset(),
    "bisect": frozenset(),
    "pprint": _words("re"),
    "contextlib": _words("abc os sys"),
    "os.path": _words("genericpath os stat sys"),
    "__future__": frozenset(),
}
# Modules whose attributes are allowlisted one by one; module-valued entries map to the module.
_ONLY: dict[str, dict[str, str | None]] = {
    "sys": dict.fromkeys(_words("""stdout stderr version version_info platform maxsize float_info int_info byteorder
        hexversion implementation getsizeof getrecursionlimit getdefaultencoding float_repr_style exit""")),
    "os": {**dict.fromkeys(_words("environ getenv cpu_count getpid getcwd sep linesep name curdir pardir extsep "
                                  "devnull write")), "path": "os.path"},
    "io": dict.fromkeys(_words("StringIO BytesIO")),
    "d2l": {**dict.fromkeys(_words("""Classifier Module HyperParameters ProgressBoard DataModule Trainer FashionMNIST
        SGD SoftmaxRegression LinearRegression LinearRegressionScratch SyntheticRegressionData add_to_class plot
        set_figsize set_axes use_svg_display show_images Timer Accumulator Animator cpu gpu num_gpus try_gpu
        try_all_gpus accuracy init_cnn nn_Module ones_like ones zeros_like zeros tensor arange meshgrid sin sinh
        cos cosh tanh linspace exp log normal rand randn matmul int32 int64 float32 concat stack abs eye sigmoid
        batch_matmul numpy size reshape to reduce_sum argmax astype transpose reduce_mean expand_dims swapaxes
        repeat""")),
        "torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional", "np": "numpy", "plt": "matplotlib.pyplot",
        "math": "math", "data": "torch.utils.data", "transforms": "torchvision.transforms",
        "torchvision": "torchvision", "d2l": "d2l",
    },
    "d2l.package": {"torch": "d2l"},   # `import d2l`: the package, whose torch module is d2l
}
# Why a sys attribute is refused (the most telling ones).
_SYS_WHY = {"modules": "reaches into the interpreter's module table (the probes are in it)",
            "argv": "reads the child's command line, which names its status pipe",
            "settrace": "installs a tracer that sees every frame", "setprofile": "installs a profiler that sees "
            "every frame", "exc_info": "returns the current traceback, whose frames are the grader's",
            "path": "changes where modules are imported from", "meta_path": "changes how modules are imported"}
_D2L_MODULE_ATTRS = _words("F Image backend_inline collections d2l data display hashlib inspect math nn np os pd "
                           "plt random re requests shutil sys tarfile time torch torchvision transforms zipfile")
# Module-valued attributes that name another allowed module.
_MODULE_ALIASES = {"matplotlib.pyplot.cm": "matplotlib.cm", "matplotlib.pyplot.style": "matplotlib.style",
                   "matplotlib.pyplot.np": "numpy"}
_ALLOWED_MODULES = frozenset(_MODULE_ATTRS) | frozenset(_ONLY)
_TORCH_BACK_DOORS = _words("ops overrides library hub package jit fx compiler classes serialization cpp "
                           "cpp_extension utils.cpp_extension utils._python_dispatch export")
# Functions of allowed modules that are refused anyway: (kind, why).
_DENIED: dict[str, tuple[Kind, str]] = {
    **{f"torch.{n}": ("torch-internals", "loads or saves pickled objects or files, which can run code")
       for n in ("load", "save", "from_file")},
    **{f"numpy.{n}": ("dynamic-code", "loads or writes pickled or raw files, which can run code or forge results")
       for n in ("load", "save", "savez", "savez_compressed", "savetxt", "fromfile", "memmap", "DataSource")},
    "typing.get_type_hints": ("dynamic-code", "evaluates annotation strings as code"),
    "typing.ForwardRef": ("dynamic-code", "evaluates a string as code"),
    "functools.singledispatch": ("dynamic-code", "evaluates annotation strings as code"),
    "functools.singledispatchmethod": ("dynamic-code", "evaluates annotation strings as code"),
    "operator.attrgetter": ("dynamic-code", "looks attributes up by strings"),
    "operator.methodcaller": ("dynamic-code", "calls methods by strings"),
    "string.Formatter": ("dynamic-code", "walks attributes named in format strings"),
    "matplotlib.use": ("dynamic-code", "imports a backend module by name"),
    "matplotlib.pyplot.switch_backend": ("dynamic-code", "imports a backend module by name"),
}
_CONFIG_STORES = _words("torch.backends.cudnn.deterministic torch.backends.cudnn.benchmark "
                        "torch.backends.cudnn.allow_tf32 torch.backends.cuda.matmul.allow_tf32")
_ALLOWED_DUNDERS = _words("__init__ __name__ __qualname__ __doc__ __module__ __version__")
_ALLOWED_DUNDER_NAMES = _words("__name__ __doc__ __debug__")           # as plain names
_ALLOWED_DUNDER_STORES = _words("__doc__ __slots__ __all__")            # `__slots__ = (...)` in a class
_TORCH_HOOK_METHODS = _words("__torch_function__ __torch_dispatch__")
# Attribute names refused on any object: frames, tracebacks, generators, code, raw memory, raw files.
_FRAME_ATTRS = _words("""f_back f_builtins f_code f_globals f_lasti f_lineno f_locals f_trace f_trace_lines
    f_trace_opcodes tb_frame tb_lasti tb_lineno tb_next gi_code gi_frame gi_running gi_yieldfrom gi_suspended
    cr_await cr_code cr_frame cr_origin cr_running cr_suspended ag_await ag_code ag_frame ag_running co_code
    co_consts co_names co_varnames co_freevars co_cellvars co_filename co_name co_qualname co_firstlineno
    co_lnotab co_linetable co_exceptiontable co_flags co_positions co_lines func_globals""")
_RAW_ATTRS = _words("ctypes tofile from_file dump")
# Builtins: those that run or find code by strings, and those that may be used only as plain calls.
_DYNAMIC_BUILTINS = _words("exec eval compile __import__ globals locals vars")
_INTERPRETER_BUILTINS = _words("breakpoint help")
_CALL_ONLY_BUILTINS = _words("getattr setattr delattr hasattr open type") | _DYNAMIC_BUILTINS | _INTERPRETER_BUILTINS
# Calls that take a file path: (callee suffix, positional index of the path).
_PATH_METHODS = {"savefig": 0, "imsave": 0, "write_text": None, "write_bytes": None, "to_csv": 0,
                 "to_pickle": None}
_PASS_THROUGH_BUILTINS = _words("list tuple dict set frozenset iter next min max sorted reversed filter map zip "
                                 "enumerate getattr vars dir")
_FORMAT_FIELD = re.compile(r"\{[^{}]*?(?:\.|\[)\s*_")          # "{0._x}" for .format / .format_map
_DUNDER_FIELD = re.compile(r"\{[^{}]*?\.\s*__\w+__")             # "{0.__class__}" in any string
_GRADER_PACKAGES = ("autograder",)
_KIT = "mlp_lab"


def _dotted(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _is_private(name: str) -> bool:
    return name.startswith("_") and not _is_dunder(name)


def _shown(node: ast.AST, limit: int = 70) -> str:
    try:
        text = " ".join(ast.unparse(node).split())
    except Exception:
        text = type(node).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _root(path: str) -> str:
    return path.split(".")[0]


def _alias(node: ast.AST, parent: ast.AST | None, scope: _Scope) -> bool:
    """`F = torch.nn.functional`: a module bound to a plain name the gate tracks (not in a class body,
    where it would become an attribute, and not onto an attribute or a subscript)."""
    if not (isinstance(parent, ast.Assign | ast.AnnAssign) and parent.value is node) or scope.kind == "class":
        return False
    targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
    return all(isinstance(t, ast.Name) for t in targets)


def _first_param(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> str:
    positional = [*fn.args.posonlyargs, *fn.args.args]
    return positional[0].arg if positional else ""


def _rebinds(fn: ast.AST, name: str) -> bool:
    """Does anything in `fn` (nested scopes included) assign or delete `name`?"""
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store | ast.Del)
               for n in ast.walk(fn))


def _zero_arg_super(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
            and not node.args and not node.keywords)


def _literal_getattr(node: ast.AST) -> str | None:
    """"mro" for getattr(C, "mro") (and hasattr): the literal attribute name such a call reads, else None."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
        return node.args[1].value
    return None


def _saves_hyperparameters(fn: ast.AST) -> bool:
    """Does the function call `<x>.save_hyperparameters(...)` (which copies its caller's locals onto self)?"""
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "save_hyperparameters"
               for n in _own(fn))


def _depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        if d > deepest:
            deepest = d
            if d > MAX_DEPTH:
                return d
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


# --- scopes (which builtins a name can still be) -----------------------------------------------

@dataclass
class _Scope:
    kind: str                       # module, function, class
    parent: _Scope | None
    locals: set[str]
    globals: set[str]
    self_param: str | None = None   # a method whose first parameter is always an instance (_Gate._methods)


def _bound_names(node: ast.AST) -> Iterable[str]:
    """Names a function, lambda or comprehension binds in its own scope."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        args = node.args
        for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if a is not None:
                yield a.arg
        body = node.body if isinstance(node.body, list) else [node.body]
    elif isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
        for gen in node.generators:
            yield from (n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name))
        return
    else:
        body = node.body  # type: ignore[attr-defined]
    stack = list(body)
    while stack:
        n = stack.pop()
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield n.name
            continue
        if isinstance(n, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            continue
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del):
            yield n.id
        elif isinstance(n, ast.Import | ast.ImportFrom):
            for alias in n.names:
                yield (alias.asname or alias.name).split(".")[0]
        elif isinstance(n, ast.ExceptHandler) and n.name:
            yield n.name
        stack.extend(ast.iter_child_nodes(n))


def _own(node: ast.AST) -> Iterable[ast.AST]:
    """The nodes of a function's own body (not of functions and classes nested in it)."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        n = stack.pop()
        yield n
        if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(n))


def _declared_globals(node: ast.AST) -> set[str]:
    out: set[str] = set()
    stack = list(ast.iter_child_nodes(node))
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Global | ast.Nonlocal):
            out.update(n.names)
        if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(n))
    return out


# --- the reading -------------------------------------------------------------------------------

class _Gate:
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

    # -- findings ---------------------------------------------------------------------------

    def report(self, node: ast.AST | None, kind: Kind, what: str, construct: str | None = None) -> None:
        line = getattr(node, "lineno", 1) if node is not None else 1
        shown = construct if construct is not None else (_shown(node) if node is not None else "")
        key = (self.cell, line, shown, kind)
        if key in self.seen:
            return
        self.seen.add(key)
        message = f"cell {self.cell}, line {line}: `{shown}` {what}"
        self.findings.append(Finding(self.cell, line, shown, kind, message))

    # -- reading cells ----------------------------------------------------------------------

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

    # -- what names may hold ----------------------------------------------------------------

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
                           and self._bare_origin(r.value) for r in _own(fn)):
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
                    inner = _first_param(node) if isinstance(parent, ast.ClassDef) and node in parent.body else None
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
        self.own_methods = {id(d) for d in defs if not d.decorator_list and d.name not in exposed
                            and _first_param(d) not in self.tainted and not _rebinds(d, _first_param(d))}

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

    # -- checking ---------------------------------------------------------------------------

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

    def _builtin(self, name: str, scope: _Scope) -> bool:
        """May the name be the builtin (not a parameter or local of an enclosing function)?"""
        s: _Scope | None = scope
        while s is not None:
            if s.kind == "function" and name in s.locals and name not in s.globals:
                return False
            s = s.parent
        return name not in self.origins

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

    def _step(self, node: ast.AST, base: str, attr: str, construct: str | None = None) -> bool:
        """Judge `base.attr` for an import origin `base`; report and return False when refused."""
        refusal = self._refusal(base, attr)
        if refusal is not None:
            self.report(node, refusal[0], refusal[1], construct or _shown(node))
        return refusal is None

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
        for n in _own(fn):
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


def inspect_cells(cells: Sequence[GateCell], *, kit_names: Collection[str]) -> list[Finding]:
    """Every construct in `cells` that reaches into the grader or the interpreter (empty: the cells may run).

    `kit_names` are the names the released notebook imports from the kit (`from mlp_lab import ...`).
    The gate never raises on a cell's content and never runs it; its work is bounded by
    MAX_CELL_CHARS and MAX_DEPTH per cell and MAX_NOTEBOOK_CHARS in all.
    """
    gate = _Gate(kit_names)
    trees: list[tuple[int, ast.Module]] = []
    budget = MAX_NOTEBOOK_CHARS
    for cell in cells:
        tree = gate.parse(cell, budget)
        budget -= min(len(cell.source), budget)
        if tree is not None:
            trees.append((cell.index, tree))
    try:
        gate.learn([t for _, t in trees])
        for index, tree in trees:
            gate.check(index, tree)
    except RecursionError:  # bounded depth makes this unreachable; refuse rather than crash if not
        gate.cell = trees[0][0] if trees else 0
        gate.report(None, "unreadable", "could not be read within the gate's limits", construct="<notebook>")
    return sorted(gate.findings, key=lambda f: (f.cell, f.line, f.construct, f.kind))
