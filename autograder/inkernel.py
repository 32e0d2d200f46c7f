"""The notebook's hidden tests: the same probes and checks, run inside the student's own kernel.

Used by the grade cells of `source/mlp/mlp.ipynb`::

    from autograder.inkernel import require
    require("relu_grad", globals())

`require` probes the student's names in `namespace`, applies the question's check, prints one
line on success and raises `CheckFailed` (an AssertionError carrying the student's message) on
failure.  Whatever the student's code writes to stderr or warns while it is probed is swallowed,
because nbgrader 0.9.6 scores a grade cell 0 when the cell writes anything to stderr.

This path is as trustworthy as the student's kernel, that is, not at all: the authoritative grade
comes from `autograder grade` / `grade-all`, which run the same checks out of process.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from . import static, verdicts
from .checks import ACCURACY_THRESHOLD, CheckResult, accuracy
from .errors import CheckFailed
from .inputs import draw_inputs
from .questions import question

__all__ = ["require"]

_SEED = 20231
_KERNEL_SAMPLE = 2000  # test images the kernel-side accuracy check uses (speed; the grader uses all)


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


def _probe_units(qid: str, ns: Mapping[str, Any], inputs: dict[str, Any]) -> dict[str, verdicts.UnitData]:
    from . import probes

    dims = inputs["dims"]
    d, h, q = dims["d"], dims["h"], dims["q"]
    runners = {
        "relu": lambda: probes.probe_activation(ns["relu"], "relu", inputs["relu_x"]),
        "sigmoid": lambda: probes.probe_activation(ns["sigmoid"], "sigmoid", inputs["st_x"]),
        "tanh": lambda: probes.probe_activation(ns["tanh"], "tanh", inputs["st_x"]),
        "collapse": lambda: probes.probe_affine_collapse(ns["collapse_affine"], inputs["collapse"]),
        "scratch": lambda: probes.probe_scratch(ns["MLPScratch"], d, h, q, inputs["nonlin"], inputs["images"]),
        "concise": lambda: probes.probe_concise(ns["MLP"], h, q, inputs["nonlin"], inputs["images"]),
    }
    units: dict[str, verdicts.UnitData] = {}
    for unit in verdicts.QUESTION_UNITS[qid]:
        missing = [n for n in verdicts.UNIT_NAMES[unit] if n not in ns]
        if missing:
            units[unit] = verdicts.UnitData(error=f"{', '.join(missing)} is not defined: run the cell that "
                                            "defines it first.", status="missing")
            continue
        try:
            units[unit] = verdicts.UnitData(values=runners[unit]())
        except probes.ProbeError as err:
            units[unit] = verdicts.UnitData(error=str(err), status="error")
        except Exception as err:
            units[unit] = verdicts.UnitData(error=f"{type(err).__name__}: {err}", status="error")
    return units


def _kernel_cells(ns: Mapping[str, Any]) -> list[static.Cell]:
    history = ns.get("In")
    if isinstance(history, list):
        return [static.Cell(f"input [{i}]", src) for i, src in enumerate(history) if isinstance(src, str)]
    return []


def _accuracy(ns: Mapping[str, Any]) -> CheckResult:
    import torch

    from .data import load_fashion_mnist

    ds = load_fashion_mnist()
    idx = np.random.default_rng(_SEED).choice(ds.test_labels.shape[0], _KERNEL_SAMPLE, replace=False)
    X = torch.from_numpy(ds.test_images[idx]).float().div_(255.0)
    messages, ok = [], True
    for name, what in (("model", "MLPScratch"), ("model_concise", "MLP")):
        model = ns.get(name)
        if not isinstance(model, torch.nn.Module):
            return CheckResult(False, f"`{name}` is not a trained {what}: run the training cell first.")
        try:
            dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
            device = next((p.device for p in model.parameters()), torch.device("cpu"))
            with torch.no_grad():
                out = model(X.to(device=device, dtype=dtype))
            logits = out.detach().cpu().double().numpy()
        except Exception as err:
            return CheckResult(False, f"{what}.forward failed on test images: {type(err).__name__}: {err}")
        acc = accuracy(logits, ds.test_labels[idx])
        ok &= acc >= ACCURACY_THRESHOLD
        messages.append(f"{what} ({name}): test accuracy {acc:.3f} on {_KERNEL_SAMPLE} test images "
                        f"(needs {ACCURACY_THRESHOLD:.2f})")
    return CheckResult(ok, "; ".join(messages) + ".", 1.0 if ok else 0.0)


def check(qid: str, namespace: Mapping[str, Any], *, seed: int = _SEED) -> CheckResult:
    """The verdict on question `qid` for the names in `namespace` (no exception for a failure)."""
    question(qid)  # KeyError for an unknown id
    with _quiet():
        if qid == "accuracy":
            return _accuracy(namespace)
        inputs = draw_inputs(np.random.default_rng(seed))
        units = _probe_units(qid, namespace, inputs)
        findings = static.scan_from_scratch(_kernel_cells(namespace)) if qid == "from_scratch" else []
        return verdicts.verdict(qid, inputs, units, findings)


def require(qid: str, namespace: Mapping[str, Any], *, seed: int = _SEED) -> None:
    """Pass silently but for one line, or raise CheckFailed with the student's message."""
    result = check(qid, namespace, seed=seed)
    if not result.passed:
        raise CheckFailed(f"[{qid}] {result.message}")
    print(f"[{qid}] {result.message}")
