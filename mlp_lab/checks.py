"""The checks: small pure functions over plain values.

Each check takes numpy arrays, shapes and numbers (never a student's object, never torch) and
returns a `CheckResult` whose message is written for the student, in the lecture's notation:

    X in R^{n x d}, W1 = W^(1) in R^{d x h}, b1 = b^(1) in R^{1 x h}, H in R^{n x h},
    W2 = W^(2) in R^{h x q}, b2 = b^(2) in R^{1 x q}, O in R^{n x q}.

The same functions serve three callers: the hidden tests inside the nbgrader notebook, the
hardened grader (which computes every verdict from raw numbers sent back by a sandboxed child),
and the pytest graders.  Messages never print a hidden expected value: they say where the
student's numbers go wrong and what the lecture says instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import CheckFailed

__all__ = [
    "ACCURACY_THRESHOLD",
    "GRAD_ATOL",
    "ORACLE_MAX_ACCURACY",
    "VALUE_ATOL",
    "VALUE_RTOL",
    "CheckResult",
    "accuracy",
    "as_numbers",
    "check_accuracy",
    "check_affine_collapse",
    "check_no_builtin_layers",
    "check_relu_grad",
    "check_relu_values",
    "check_sigmoid_tanh",
    "check_trained_accuracy",
    "fails",
    "passes",
    "reference_sigmoid",
    "shape_text",
    "where_wrong",
]

# Tolerances, named once.  Student code runs in float32; these leave room for float32 rounding
# and for honest reformulations (clamp, where, x * (x > 0), 2 * sigmoid(2x) - 1, ...).
VALUE_ATOL = 1e-5
VALUE_RTOL = 1e-4
GRAD_ATOL = 1e-5
# Test accuracy a model must reach after the grader's training run.  Set from the measured
# distribution of the reference solution over many seeds (see README, "Accuracy threshold").
ACCURACY_THRESHOLD = 0.80
# A model this accurate before any training is reading labels, not learning them (chance is 0.10;
# the reference scored 0.05-0.19 before training).
ORACLE_MAX_ACCURACY = 0.40


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check; a failed check may still earn `fraction` of the points (0..1)."""

    passed: bool
    message: str
    fraction: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], not {self.fraction}")

    @property
    def earned(self) -> float:
        """Share of the points earned: all when passed, `fraction` as partial credit otherwise."""
        return 1.0 if self.passed else self.fraction

    def require(self) -> None:
        """Raise `CheckFailed` (an AssertionError) with the student's message unless passed."""
        if not self.passed:
            raise CheckFailed(self.message)


def passes(message: str) -> CheckResult:
    return CheckResult(True, message, 1.0)


def fails(message: str, fraction: float = 0.0) -> CheckResult:
    return CheckResult(False, message, fraction)


def shape_text(shape: Iterable[int]) -> str:
    dims = tuple(shape)
    return " x ".join(str(d) for d in dims) if dims else "a scalar (shape ())"


def as_numbers(name: str, value: Any) -> np.ndarray | CheckResult:
    """`value` as a float64 array, or a failed result saying why it is not a numeric array."""
    if not isinstance(value, np.ndarray):
        return fails(f"{name} must be a tensor of numbers; got {type(value).__name__}.")
    if value.dtype.kind not in "biuf":
        return fails(f"{name} must hold real numbers; its dtype is {value.dtype}.")
    return value.astype(np.float64, copy=False)


def where_wrong(x: np.ndarray, bad: np.ndarray, limit: int = 3) -> str:
    xs = ", ".join(f"{v:g}" for v in x[bad][:limit])
    return f"{int(bad.sum())} of {bad.size} points (e.g. x = {xs})"


# --- activation functions -------------------------------------------------------------------


def check_relu_values(x: np.ndarray, y: Any) -> CheckResult:
    """relu(x) = max(0, x), elementwise, same shape as x."""
    yv = as_numbers("relu(X)", y)
    if isinstance(yv, CheckResult):
        return yv
    if yv.shape != x.shape:
        return fails(f"relu(X) must keep the shape of X ({shape_text(x.shape)}), elementwise; "
                     f"yours is {shape_text(yv.shape)}.")
    want = np.maximum(x, 0.0)
    bad = ~np.isclose(yv, want, rtol=VALUE_RTOL, atol=VALUE_ATOL)
    if bad.any():
        neg = bad & (x < 0)
        hint = ("negative inputs must become 0" if neg.any()
                else "positive inputs must pass through unchanged")
        return fails(f"relu(x) is wrong at {where_wrong(x, bad)}: {hint} "
                     f"(lecture: ReLU(x) = max(0, x)).")
    return passes("relu(x) = max(0, x) at every point checked.")


def check_relu_grad(x: np.ndarray, grad: Any) -> CheckResult:
    """d relu / dx: 1 for x > 0, 0 for x < 0 and 0 at exactly 0 (the lecture's convention)."""
    g = as_numbers("the gradient of relu", grad)
    if isinstance(g, CheckResult):
        return g
    if g.shape != x.shape:
        return fails(f"The gradient of relu must have the shape of x ({shape_text(x.shape)}); "
                     f"yours is {shape_text(g.shape)}. Call y.backward(torch.ones_like(x)) on relu(x).")
    if not np.isfinite(g).all():
        return fails(f"The gradient of relu is not finite at {where_wrong(x, ~np.isfinite(g))}.")
    zero = x == 0
    if zero.any() and np.allclose(g[zero], 0.5, atol=GRAD_ATOL):
        return fails("At x = 0 your relu has gradient 0.5, but the lecture says the derivative is 0 "
                     "when the input is exactly 0 (it takes the left-hand derivative). "
                     "torch.max(X, torch.zeros_like(X)), as in d2l, splits the gradient evenly between "
                     "the two equal arguments, so each gets 0.5. Use an operation whose derivative at 0 "
                     "is 0, e.g. torch.clamp(X, min=0) or torch.where(X > 0, X, 0.).")
    for mask, want, where in ((x > 0, 1.0, "x > 0 (it must be 1)"),
                              (x < 0, 0.0, "x < 0 (it must be 0)"),
                              (zero, 0.0, "x = 0 (the lecture's convention: 0)")):
        bad = mask & ~np.isclose(g, want, atol=GRAD_ATOL)
        if bad.any():
            return fails(f"The gradient of relu is wrong for {where} at {where_wrong(x, bad)}.")
    return passes("relu's gradient is 1 for x > 0 and 0 for x <= 0.")


def reference_sigmoid(x: np.ndarray) -> np.ndarray:
    """sigmoid(x) = 1 / (1 + exp(-x)), evaluated without overflow."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def check_sigmoid_tanh(x: np.ndarray, sig: Any, sig_grad: Any, tanh: Any, tanh_grad: Any,
                       x_tanh: np.ndarray | None = None) -> CheckResult:
    """sigmoid and tanh values and autograd gradients, finite everywhere on x (|x| up to 100).

    `x_tanh` is where tanh was evaluated, when not at `x`.
    """
    xt = x if x_tanh is None else x_tanh
    s_want = reference_sigmoid(x)
    t_want = np.tanh(xt)
    parts = (
        (x, "sigmoid(x)", sig, s_want, "sigmoid(x) = 1 / (1 + exp(-x))"),
        (x, "the gradient of sigmoid", sig_grad, s_want * (1 - s_want),
         "d/dx sigmoid(x) = sigmoid(x) (1 - sigmoid(x))"),
        (xt, "tanh(x)", tanh, t_want, "tanh(x) = (1 - exp(-2x)) / (1 + exp(-2x))"),
        (xt, "the gradient of tanh", tanh_grad, 1 - t_want**2, "d/dx tanh(x) = 1 - tanh(x)^2"),
    )
    for where, name, value, want, formula in parts:
        v = as_numbers(name, value)
        if isinstance(v, CheckResult):
            return v
        if v.shape != where.shape:
            return fails(f"{name} must have the shape of x ({shape_text(where.shape)}); yours is {shape_text(v.shape)}.")
        finite = np.isfinite(v)
        if not finite.all():
            return fails(f"{name} is not finite (inf or nan) at {where_wrong(where, ~finite)}. exp(-x) overflows "
                         "for large negative x in float32; rewrite the formula so that exp only ever sees "
                         "a non-positive argument (one branch for x >= 0, one for x < 0), and make sure "
                         "the branch you do not select is finite too, or its gradient becomes nan.")
        bad = ~np.isclose(v, want, rtol=VALUE_RTOL, atol=VALUE_ATOL)
        if bad.any():
            return fails(f"{name} is wrong at {where_wrong(where, bad)} (lecture: {formula}).")
    return passes("sigmoid and tanh match the lecture's formulas, with finite gradients, for |x| <= 100.")


# --- linear algebra: the collapse --------------------------------------------------------


def check_affine_collapse(W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray,
                          W: Any, b: Any, X: np.ndarray) -> CheckResult:
    """(W, b) must reproduce the linear two-layer net: X W + b == (X W1 + b1) W2 + b2 for the grader's X."""
    d = W1.shape[0]
    q = W2.shape[1]
    Wv = as_numbers("W", W)
    if isinstance(Wv, CheckResult):
        return Wv
    bv = as_numbers("b", b)
    if isinstance(bv, CheckResult):
        return bv
    if Wv.shape != (d, q):
        hint = " Did you return it transposed?" if Wv.shape == (q, d) else ""
        return fails(f"W must be d x q = {d} x {q} (it maps X in R^{{n x d}} to O in R^{{n x q}}); "
                     f"yours is {shape_text(Wv.shape)}.{hint}")
    if bv.shape not in ((1, q), (q,)):
        return fails(f"b must be 1 x q = 1 x {q}; yours is {shape_text(bv.shape)}.")
    want = (X @ W1 + b1) @ W2 + b2
    got = X @ Wv + bv.reshape(1, q)
    scale = max(1.0, float(np.abs(want).max()))
    if not np.allclose(got, want, rtol=VALUE_RTOL, atol=VALUE_ATOL * scale):
        if np.allclose(X @ Wv, X @ W1 @ W2, rtol=VALUE_RTOL, atol=VALUE_ATOL * scale):
            return fails("W is right but b is not: the first layer's bias also passes through W2, "
                         "so b = b1 W2 + b2.")
        return fails("X W + b differs from (X W1 + b1) W2 + b2 on the grader's inputs. Expand the "
                     "product: an affine function of an affine function is affine, with W = W1 W2.")
    return passes("collapse_affine reproduces the two-layer linear network exactly.")




# --- from scratch -----------------------------------------------------------------------------


def check_no_builtin_layers(static_findings: Sequence[str], runtime_calls: Sequence[str],
                            submodules: Sequence[str], what: str = "the activations and MLPScratch") -> CheckResult:
    """relu, sigmoid, tanh and MLPScratch use no torch.nn layers and no built-in activations.

    `static_findings`: places in the student's source that reach a forbidden name (found by the
    grader's parser, however imported or aliased); `runtime_calls`: forbidden torch functions seen
    while the functions ran; `submodules`: types of nn.Module children of MLPScratch.
    """
    if static_findings:
        return fails(f"Implement {what} from the lecture's formulas, without "
                     "torch.nn layers or built-in activations: " + "; ".join(static_findings[:4]) + ".")
    if runtime_calls:
        return fails("While your functions ran they called built-in activations or layers: "
                     + ", ".join(sorted(set(runtime_calls))[:6])
                     + ". Write them from the formulas (max(0, x), 1 / (1 + exp(-x)), ...).")
    if submodules:
        return fails("MLPScratch must hold no torch.nn layers (found " + ", ".join(submodules[:4])
                     + "); make W1, b1, W2, b2 nn.Parameter tensors and compute X W1 + b1 yourself.")
    return passes("relu, sigmoid, tanh and MLPScratch are written from scratch.")


# --- accuracy ---------------------------------------------------------------------------------


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose arg-max matches the label."""
    return float((logits.argmax(axis=1) == labels).mean())


def check_accuracy(labels: np.ndarray, before: Any, after: Any, model: str, budget: str,
                   threshold: float = ACCURACY_THRESHOLD) -> CheckResult:
    """Test accuracy after the grader's training run >= threshold, and near chance before training."""
    n, k = labels.shape[0], 10
    for name, value in (("before training", before), ("after training", after)):
        v = as_numbers(f"{model}'s output {name}", value)
        if isinstance(v, CheckResult):
            return v
        if v.shape != (n, k):
            return fails(f"{model}'s output on the {n} test images must be n x q = {n} x {k}; "
                         f"yours is {shape_text(v.shape)} ({name}).")
        if not np.isfinite(v).all():
            return fails(f"{model}'s output is not finite {name} (nan or inf): training diverged. "
                         f"Initialise weights small (sigma = 0.01) and biases at 0.")
    acc0 = accuracy(np.asarray(before), labels)
    acc1 = accuracy(np.asarray(after), labels)
    if acc0 > ORACLE_MAX_ACCURACY:
        return fails(f"{model} scored {acc0:.3f} on the test images before any training; chance is 0.10. "
                     "A model cannot know the labels before it has learned anything, so this looks like "
                     "a label lookup, not a model.")
    if acc1 < threshold:
        return fails(f"{model} reached test accuracy {acc1:.3f} after the grader's training run ({budget}); "
                     f"at least {threshold:.2f} is needed. Check the forward pass and that every parameter "
                     f"is an nn.Parameter that the optimiser updates.")
    return passes(f"{model}: test accuracy {acc1:.3f} after the grader's training run ({budget}).")


def check_trained_accuracy(labels: np.ndarray, logits: Any, model: str, name: str,
                           threshold: float = ACCURACY_THRESHOLD) -> CheckResult:
    """The notebook's own trained model (`name`, e.g. `model`) classifies the test images well enough."""
    v = as_numbers(f"{model}'s output on the test images", logits)
    if isinstance(v, CheckResult):
        return v
    n = labels.shape[0]
    if v.shape != (n, 10):
        return fails(f"{model}'s output on the {n} test images must be n x q = {n} x 10; yours is {shape_text(v.shape)}.")
    acc = accuracy(v, labels) if np.isfinite(v).all() else 0.0
    if acc < threshold:
        return fails(f"{model} (`{name}`) reached test accuracy {acc:.3f}; at least {threshold:.2f} is needed. "
                     "Check forward (H = relu(X W1 + b1), O = H W2 + b2) and that W1, b1, W2, b2 are "
                     "nn.Parameter attributes, then run the training cell again.")
    return passes(f"{model} (`{name}`): test accuracy {acc:.3f} on the {n} test images.")
