"""Checks in the student's own kernel: the notebook's visible checks, and nbgrader's hidden tests.

A grade cell holds one call and no probe code::

    check("relu_grad", globals())

`check` looks the question up in the registry (`mlp_lab.questions`), runs the probes of its units on
the student's names in `namespace` with the unit's *visible* inputs (small, fixed), judges the numbers
with the same checks the grader uses, prints one line on success and raises `CheckFailed` (an
AssertionError carrying the student's message) on failure.  `evaluate` is the same with other inputs
(nbgrader's hidden tests draw the grader's kind from a fixed seed).  Because probes, checks and judges
are the grader's own, what passes here passes in the grader on the same inputs.

Whatever the student's code writes to stderr or warns while it is probed is swallowed: nbgrader 0.9.6
scores a grade cell 0 when the cell writes anything to stderr.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from .checks import CheckResult
from .errors import CheckFailed
from .questions import Evidence, Question, Unit, UnitMissing, question, unit
from .scratch import Cell, scan_from_scratch

__all__ = ["check", "evaluate"]

InputsFor = Callable[[Unit], dict[str, Any]]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Swallow Python-level and file-descriptor-level stderr, and warnings."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _visible(u: Unit) -> dict[str, Any]:
    return u.visible()


def _kernel_cells(ns: Mapping[str, Any]) -> list[Cell]:
    """The cells this kernel ran, as the student typed them.

    IPython's `In` holds each cell after its magics were rewritten into `get_ipython()` calls; the
    history manager keeps the raw text, which is what the grader reads too.  Outside IPython (a test
    that builds a namespace by hand), `In` is the list of sources.
    """
    history: Any = None
    shell = ns.get("get_ipython")
    if callable(shell):
        try:
            history = shell().history_manager.input_hist_raw
        except Exception:
            history = None
    if not isinstance(history, list):
        history = ns.get("In")
    if isinstance(history, list):
        return [Cell(f"In [{i}]", src) for i, src in enumerate(history) if isinstance(src, str)]
    return []


def _context(q: Question) -> tuple[Any, np.ndarray | None]:
    """The probe context and, for accuracy, the test labels (loaded here, in the student's kernel)."""
    from .probing import ProbeContext

    if q.kernel_units is None:
        return ProbeContext(), None
    import torch

    from .data import load_fashion_mnist

    ds = load_fashion_mnist()
    images = torch.from_numpy(ds.test_images).float().div_(255.0)
    return ProbeContext(test_images=lambda: images), ds.test_labels


def evaluate(qid: str, namespace: Mapping[str, Any], inputs_for: InputsFor = _visible) -> CheckResult:
    """The verdict on question `qid` for the names in `namespace`, with inputs from `inputs_for(unit)`."""
    from .probes import PROBES, ProbeError
    from .probing import autograd_on

    q = question(qid)
    unit_ids = q.kernel_units or q.units
    judge = q.kernel_judge or q.judge
    with _quiet():
        ctx, labels = _context(q)
        drawn: dict[str, dict[str, Any]] = {}
        values: dict[str, dict[str, Any]] = {}
        errors: dict[str, str] = {}
        for u in map(unit, unit_ids):
            drawn[u.id] = inputs_for(u)
            missing = [n for n in u.names if n not in namespace]
            if missing:
                errors[u.id] = f"{', '.join(missing)} is not defined: run the cell that defines it first."
                continue
            try:
                with autograd_on():
                    values[u.id] = PROBES[u.probe](u, {n: namespace[n] for n in u.names}, drawn[u.id], ctx)
            except ProbeError as err:
                errors[u.id] = str(err)
            except Exception as err:
                errors[u.id] = f"{type(err).__name__}: {err}"
        findings = scan_from_scratch(_kernel_cells(namespace), q.scratch_names) if q.scratch_names else []
        ev = Evidence(drawn, values, errors, test_labels=labels, findings=findings)
        try:
            return judge(ev)
        except UnitMissing as why:
            return CheckResult(False, str(why))


def check(qid: str, namespace: Mapping[str, Any]) -> None:
    """The visible checks of question `qid`: print one line when they pass, else raise CheckFailed."""
    result = evaluate(qid, namespace)
    if not result.passed:
        raise CheckFailed(f"[{qid}] {result.message}")
    print(f"{qid}: visible checks passed. {result.message}")
