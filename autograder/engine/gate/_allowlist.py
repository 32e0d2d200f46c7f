"""The allowlist's tables (the package docstring says what each one allows and why).

The tables of module-valued attributes are those of the pinned packages; tests/engine/test_gate.py
re-derives them from the installed packages, so an upgrade cannot open a side door.
"""

from __future__ import annotations

import re

from ._types import Kind


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
