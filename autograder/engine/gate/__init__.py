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
                        first parameter of an undecorated method of a notebook class (or of a def
                        added to one with `@d2l.add_to_class(C)`), never rebound, read in the method
                        (or a lambda/comprehension in it), and the method is never fetched from its
                        class with something else in its place (`C.f(torch.Tensor, ...)`, `g = C.f`,
                        `f = classmethod(f)`); `Base.__init__(self, ...)` is fine
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
The tables of module-valued attributes (`_allowlist.py`) are those of the pinned packages; a test
re-derives them from the installed packages (tests/engine/test_gate.py), so an upgrade cannot open a
side door.

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

The package: `_types` (GateCell, Finding, Kind, limits), `_allowlist` (the tables), `_syntax` (names,
parameters, nesting and scopes off the syntax tree), `_origins` (first pass: what each name may hold),
`_calls` (calls and stores) and `_check` (second pass: every node judged in its scope).
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Sequence

from ._allowlist import ALLOWED_IMPORTS
from ._check import _Gate
from ._types import MAX_CELL_CHARS, MAX_DEPTH, MAX_NOTEBOOK_CHARS, Finding, GateCell, Kind

__all__ = ["ALLOWED_IMPORTS", "MAX_CELL_CHARS", "MAX_DEPTH", "MAX_NOTEBOOK_CHARS", "Finding", "GateCell", "Kind",
           "inspect_cells"]


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
