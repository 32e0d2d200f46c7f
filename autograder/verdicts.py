"""From probe data to a verdict for each question: the glue between probes and checks.

The grader draws the inputs (`draw_inputs`), the sandboxed child (or the student's kernel) runs
the probes of each *unit* on them, and `verdict(qid, ...)` turns the raw numbers into a
`CheckResult` with plain numpy.  Units group what one call of the student's code yields, so that
one probe serves several questions (the ReLU probe feeds relu_values, relu_grad and from_scratch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import checks
from .checks import CheckResult

__all__ = [
    "QUESTION_UNITS",
    "UNITS",
    "UnitData",
    "verdict",
]

# Probe units, in the order the child runs them (cheap first, training last).
UNITS: tuple[str, ...] = ("relu", "sigmoid", "tanh", "plot", "collapse", "scratch", "concise",
                          "train_scratch", "train_concise")

# The units each question needs.  A question whose unit crashed or timed out gets that status.
QUESTION_UNITS: dict[str, tuple[str, ...]] = {
    "relu_values": ("relu",),
    "relu_grad": ("relu",),
    "sigmoid_tanh": ("sigmoid", "tanh"),
    "affine_collapse": ("collapse",),
    "param_shapes": ("scratch",),
    "forward_shapes": ("scratch",),
    "nonlinear": ("scratch",),
    "from_scratch": ("relu", "sigmoid", "tanh", "scratch"),
    "concise_mlp": ("concise",),
    "accuracy": ("train_scratch", "train_concise"),
}

# The student's names each unit needs.
UNIT_NAMES: dict[str, tuple[str, ...]] = {
    "relu": ("relu",), "sigmoid": ("sigmoid",), "tanh": ("tanh",), "plot": ("relu", "sigmoid", "tanh"),
    "collapse": ("collapse_affine",), "scratch": ("MLPScratch",), "concise": ("MLP",),
    "train_scratch": ("MLPScratch",), "train_concise": ("MLP",),
}


@dataclass
class UnitData:
    """What one unit brought back: plain values, or the error that stopped it."""

    values: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    status: str = "ok"  # ok | error | timeout | crashed | missing


def _missing(units: Mapping[str, UnitData], needed: Sequence[str]) -> CheckResult | None:
    for u in needed:
        data = units.get(u)
        if data is None or data.status != "ok":
            why = data.error if data is not None and data.error else "it did not run"
            return CheckResult(False, why)
    return None


def verdict(qid: str, inputs: Mapping[str, Any], units: Mapping[str, UnitData],
            static_findings: Sequence[str] = (), budget: str = "",
            test_labels: np.ndarray | None = None) -> CheckResult:
    """The verdict on question `qid` from the raw data of its units."""
    if qid == "from_scratch":
        return _from_scratch(units, static_findings)
    failed = _missing(units, QUESTION_UNITS[qid])
    if failed is not None:
        return failed
    v = {u: units[u].values for u in QUESTION_UNITS[qid]}
    dims = inputs["dims"]
    d, h, q = dims["d"], dims["h"], dims["q"]
    if qid == "relu_values":
        return checks.check_relu_values(inputs["relu_x"], v["relu"]["values"])
    if qid == "relu_grad":
        return checks.check_relu_grad(inputs["relu_x"], v["relu"]["grad"])
    if qid == "sigmoid_tanh":
        return checks.check_sigmoid_tanh(inputs["st_x"], v["sigmoid"]["values"], v["sigmoid"]["grad"],
                                         v["tanh"]["values"], v["tanh"]["grad"])
    if qid == "affine_collapse":
        c = inputs["collapse"]
        return checks.check_affine_collapse(c["W1"], c["b1"], c["W2"], c["b2"], v["collapse"]["W"],
                                            v["collapse"]["b"], c["X"])
    s = v.get("scratch", {})
    if qid == "param_shapes":
        return checks.check_param_shapes(s["shapes"], s["registered"], d, h, q)
    if qid == "forward_shapes":
        if s.get("forward_error"):
            return CheckResult(False, s["forward_error"])
        return checks.check_forward_shapes(inputs["images"].shape[0], d, h, q, s["O_image_shape"],
                                           s["O_flat_shape"], s["intermediate_shapes"])
    if qid == "nonlinear":
        return _nonlinear(inputs, s["nonlinear"], "MLPScratch")
    if qid == "concise_mlp":
        c = v["concise"]
        structure = checks.check_concise_structure(c["linear_shapes"], c["has_flatten"], c["activations"],
                                                   c["O_shape"], inputs["images"].shape[0], d, h, q)
        nonlinear = _nonlinear(inputs, c["nonlinear"], "MLP")
        return structure if not structure.passed or nonlinear.passed else nonlinear
    if qid == "accuracy":
        if test_labels is None:
            raise ValueError("the accuracy verdict needs the test labels")
        results = [checks.check_accuracy(test_labels, v[u]["before"], v[u]["after"], name, budget)
                   for u, name in (("train_scratch", "MLPScratch"), ("train_concise", "MLP"))]
        passed = sum(r.passed for r in results)
        return CheckResult(passed == len(results), " ".join(r.message for r in results),
                           fraction=passed / len(results))
    raise KeyError(qid)


def _nonlinear(inputs: Mapping[str, Any], outputs: Any, model: str) -> CheckResult:
    if isinstance(outputs, str):
        return CheckResult(False, f"{model} failed on the grader's inputs: {outputs}")
    return checks.check_nonlinear(inputs["nonlin"]["Z"], outputs, model)


def _from_scratch(units: Mapping[str, UnitData], static_findings: Sequence[str]) -> CheckResult:
    # Only code that runs can be shown to be from scratch: a stub that raises NotImplementedError
    # (the untouched release) earns nothing here.
    for u in ("relu", "sigmoid", "tanh", "scratch"):
        data = units.get(u)
        if data is None or data.status != "ok":
            name = "MLPScratch" if u == "scratch" else u
            why = data.error if data is not None and data.error else "it did not run"
            return CheckResult(False, f"{name} must run before it can be checked for built-in layers: {why}")
    calls: list[str] = []
    submodules: list[str] = []
    for u in ("relu", "sigmoid", "tanh", "scratch"):
        data = units[u]
        calls.extend(data.values.get("calls", []))
        submodules.extend(data.values.get("submodules", []))
    return checks.check_no_builtin_layers(static_findings, calls, submodules)
