"""Checks of the two models, from the numbers the grader's own parameters and inputs produced.

Pure functions over numpy arrays, like `mlp_lab.checks` (whose result type and helpers they use).
The grader loads W1, b1, W2, b2 of its own into the student's model and compares what comes out with
what the lecture's formulas give for the same numbers:

* parameters: after one SGD step on model.parameters() for the loss sum(G * P), a registered
  parameter P has moved to P - lr G; an attribute SGD does not know has stayed (`registration`);
* forward: with q > h, O - b2 = H W2 pins H down; O must factor through an n x h matrix H, and H must
  be one function of X W1 + b1, applied to every entry (`check_forward_structure`);
* non-linearity: O is far from every affine map of the input (`check_nonlinear`).

Messages speak the lecture's notation: X in R^{n x d}, W1 = W^(1) in R^{d x h}, b1 in R^{1 x h},
H in R^{n x h}, W2 = W^(2) in R^{h x q}, b2 in R^{1 x q}, O in R^{n x q}.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from .checks import CheckResult, as_numbers, fails, passes, shape_text

__all__ = [
    "NONLINEAR_MIN_RESIDUAL",
    "STRUCTURE_TOL",
    "affine_residual",
    "check_concise_structure",
    "check_deep_forward",
    "check_deep_shapes",
    "check_forward_structure",
    "check_nonlinear",
    "check_param_shapes",
    "registration",
]

# Relative distance from the best affine fit below which a network counts as affine in disguise.
# An affine map scores ~1e-7 (float32 rounding); x + 1e-9 x^2 about 1e-9; a ReLU MLP about 0.1 or more.
NONLINEAR_MIN_RESIDUAL = 1e-3
# How far (relative) O may be from H W2 + b2, and H from one value per pre-activation value: float32
# rounding of the student's forward gives about 1e-6; anything structural is 1e-2 or more.
STRUCTURE_TOL = 1e-3
# How closely a parameter must match P - lr G (or P) after the SGD step (float32 arithmetic).
STEP_RTOL, STEP_ATOL = 1e-4, 1e-5


def registration(before: np.ndarray, after: Any, grad: np.ndarray, lr: float) -> Literal["updated", "unchanged", "other"]:
    """What one SGD step did to a parameter: moved by -lr G (registered), nothing, or something else."""
    a = as_numbers("parameter", after)
    if isinstance(a, CheckResult) or a.shape != before.shape:
        return "other"
    if np.allclose(a, before - lr * grad, rtol=STEP_RTOL, atol=STEP_ATOL):
        return "updated"
    if np.allclose(a, before, rtol=STEP_RTOL, atol=STEP_ATOL):
        return "unchanged"
    return "other"


_PARAM_DOCS = {
    "W1": ("d x h", "W^(1) in R^{d x h}"),
    "b1": ("1 x h", "b^(1) in R^{1 x h}"),
    "W2": ("h x q", "W^(2) in R^{h x q}"),
    "b2": ("1 x q", "b^(2) in R^{1 x q}"),
}
_DEEP_DOCS = {
    "W1": ("d x h1", "W^(1) in R^{d x h1}"),
    "b1": ("1 x h1", "b^(1) in R^{1 x h1}"),
    "W2": ("h1 x h2", "W^(2) in R^{h1 x h2}"),
    "b2": ("1 x h2", "b^(2) in R^{1 x h2}"),
    "W3": ("h2 x q", "W^(3) in R^{h2 x q}"),
    "b3": ("1 x q", "b^(3) in R^{1 x q}"),
}


def _check_shapes(shapes: Mapping[str, Sequence[int] | None], registered: Mapping[str, bool],
                  dims: Mapping[str, int], docs: Mapping[str, tuple[str, str]], built: str) -> CheckResult:
    """Each parameter in `docs` has its lecture shape (a bias may be 1 x k or k) and is registered."""
    hidden = {k: v for k, v in dims.items() if k.startswith("h")}
    for name, (sym, lecture) in docs.items():
        shape = shapes.get(name)
        rows, cols = sym.split(" x ")
        want = (dims.get(rows, 1), dims[cols])
        words = f"{name} must be {sym} = {want[0]} x {want[1]} (lecture: {lecture})"
        if shape is None:
            return fails(f"{words}, but {built} has no tensor attribute self.{name}.")
        got = tuple(shape)
        ok = {want} | ({(want[1],)} if name.startswith("b") else set())
        if got not in ok:
            hint = " Did you store it transposed?" if got == want[::-1] and want[0] != 1 else ""
            if got and got[-1] == 256 and 256 not in hidden.values():
                args = " and ".join("num_hiddens" + k[1:].replace("1", "_1").replace("2", "_2") for k in hidden)
                sizes = ", ".join(f"{k} = {v}" for k, v in hidden.items())
                hint += f" Use {args}, not a fixed 256 (the grader built it with {sizes})."
            return fails(f"{words}; yours is {shape_text(got)}.{hint}")
        if not registered.get(name, False):
            return fails(f"self.{name} is not a registered parameter, so model.parameters() misses it and "
                         f"training never updates it. Wrap it: self.{name} = nn.Parameter(...).")
    listed = ", ".join(f"{n} {' x '.join(str(dims.get(p, 1)) for p in sym.split(' x '))}" for n, (sym, _) in docs.items())
    return passes(f"{listed}: all registered parameters.")


def check_param_shapes(shapes: Mapping[str, Sequence[int] | None], registered: Mapping[str, bool],
                       d: int, h: int, q: int) -> CheckResult:
    """W1 d x h, b1 1 x h (or h), W2 h x q, b2 1 x q (or q), each an nn.Parameter of the model.

    `shapes[name]` is None when the model has no tensor attribute of that name.
    """
    return _check_shapes(shapes, registered, {"d": d, "h": h, "q": q}, _PARAM_DOCS,
                         f"MLPScratch(num_inputs={d}, num_outputs={q}, num_hiddens={h}, ...)")


def check_deep_shapes(shapes: Mapping[str, Sequence[int] | None], registered: Mapping[str, bool],
                      d: int, h1: int, h2: int, q: int) -> CheckResult:
    """W1 d x h1, b1, W2 h1 x h2, b2, W3 h2 x q, b3 (biases 1 x k or k), each an nn.Parameter."""
    return _check_shapes(shapes, registered, {"d": d, "h1": h1, "h2": h2, "q": q}, _DEEP_DOCS,
                         f"MLPDeep(num_inputs={d}, num_outputs={q}, num_hiddens_1={h1}, num_hiddens_2={h2}, ...)")


# --- non-linearity ---------------------------------------------------------------------------


def affine_residual(Z: np.ndarray, O: np.ndarray) -> float:
    """Relative distance of O from the best affine function of Z (least squares; 0 = exactly affine)."""
    A = np.hstack([Z, np.ones((Z.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(A, O, rcond=None)
    centred = O - O.mean(axis=0, keepdims=True)
    denom = float(np.linalg.norm(centred))
    if denom == 0.0:
        return 0.0
    return float(np.linalg.norm(O - A @ coef)) / denom


def check_nonlinear(Z: np.ndarray, outputs: Mapping[str, Any], model: str = "MLPScratch") -> CheckResult:
    """The network is no affine map in disguise.

    `Z` (N x k, N >> k) are low-dimensional coordinates of the grader's inputs X = Z A; each entry of
    `outputs` is O for one parameter setting chosen by the grader (one of them keeps every output
    positive, so that a ReLU placed after the last layer does nothing).  A real MLP is far from affine
    in Z under every setting; an affine map, an identity activation or x + 1e-9 x^2 is not.
    """
    for setting, O in outputs.items():
        Ov = as_numbers(f"{model}'s output O", O)
        if isinstance(Ov, CheckResult):
            return Ov
        if Ov.ndim != 2 or Ov.shape[0] != Z.shape[0]:
            return fails(f"{model}'s output O must be n x q with n = {Z.shape[0]}; yours is {shape_text(Ov.shape)}.")
        if not np.isfinite(Ov).all():
            return fails(f"{model}'s output O is not finite on the grader's inputs ({setting}).")
        r = affine_residual(Z, Ov)
        if r < NONLINEAR_MIN_RESIDUAL:
            return fails(f"{model} is still a linear model: on the grader's inputs its output is one affine "
                         f"map of X (distance from affine {r:.1e}; a network with a real activation is far "
                         f"from it). Apply the non-linear activation to the hidden layer, "
                         f"H = sigma(X W1 + b1), before the output layer O = H W2 + b2.")
    return passes(f"{model} is non-linear: no single affine map reproduces it.")


def check_concise_structure(linear_shapes: Sequence[Sequence[int]], has_flatten: bool,
                            activations: Sequence[str], O_shape: Sequence[int] | None,
                            n: int, d: int, h: int, q: int) -> CheckResult:
    """MLP.net = nn.Sequential(Flatten, Linear(d -> h), ReLU, Linear(h -> q)) (LazyLinear allowed)."""
    if O_shape is None:
        return fails("MLP's forward raised an error on n x 1 x 28 x 28 images; self.net must start with "
                     "nn.Flatten().")
    if tuple(O_shape) != (n, q):
        return fails(f"MLP's output must be n x q = {n} x {q}; yours is {shape_text(O_shape)}.")
    shapes = [tuple(s) for s in linear_shapes]
    if shapes != [(h, d), (q, h)]:
        return fails(f"MLP.net must hold exactly two linear layers, {d} -> {h} (num_hiddens) and {h} -> {q} "
                     f"(num_outputs); yours map " + (", ".join(f"{s[1]} -> {s[0]}" for s in shapes) or "nothing")
                     + ".")
    if not has_flatten:
        return fails("MLP.net must flatten each image to a row of d = 784 numbers (nn.Flatten()) first.")
    if not activations:
        return fails("MLP.net has no activation between its two linear layers, so it collapses to one "
                     "affine map. Put nn.ReLU() between them.")
    return passes(f"MLP: Flatten -> Linear({d} -> {h}) -> {activations[0]} -> Linear({h} -> {q}).")




def _residual(R: np.ndarray, W2: np.ndarray) -> tuple[float, np.ndarray]:
    """How far R is from the row space of W2 (relative), and the H with H W2 closest to R."""
    H = R @ np.linalg.pinv(W2)
    scale = max(float(np.linalg.norm(R)), 1e-12)
    return float(np.linalg.norm(R - H @ W2)) / scale, H


def check_forward_structure(O_images: Any, O_rows: Any, W2: np.ndarray, b2: np.ndarray, A_index: np.ndarray,
                            d: int, model: str = "MLPScratch") -> CheckResult:
    """O = H W2 + b2 with an n x h H, and H = sigma(X W1 + b1) for one sigma applied entrywise.

    The grader chose X so that the pre-activations X W1 + b1 take a few values only (`A_index[i, j]`
    says which); W2 is h x q with q > h, so that H is determined by O.
    """
    n, h = A_index.shape
    q = W2.shape[1]
    outs = {}
    for label, value in (("n x 1 x 28 x 28 images", O_images), (f"an n x d = {n} x {d} matrix", O_rows)):
        O = as_numbers(f"{model}'s output O", value)
        if isinstance(O, CheckResult):
            return O
        if O.shape != (n, q):
            hint = " It looks transposed: compute X W1, not W1 X." if O.shape == (q, n) else ""
            return fails(f"O must be n x q = {n} x {q} (lecture: O in R^{{n x q}}) for X given as {label}, with "
                         f"num_hiddens = {h} and num_outputs = {q}; yours is {shape_text(O.shape)}.{hint}")
        if not np.isfinite(O).all():
            return fails(f"{model}'s output O is not finite for X given as {label}.")
        outs[label] = O
    O, O_flat = outs.values()
    scale = 1.0 + float(np.abs(O).max())
    if not np.allclose(O, O_flat, rtol=STRUCTURE_TOL, atol=STRUCTURE_TOL * scale):
        return fails("forward(X) gives a different O for the same X as n x 1 x 28 x 28 images and as n x d rows. "
                     "Reshape X to n x d first: X = X.reshape((-1, self.num_inputs)).")
    resid, H = _residual(O - b2.reshape(1, q), W2)
    if resid > STRUCTURE_TOL:
        return fails(f"O must be H W2 + b2 (lecture: O = H W^(2) + b^(2), H in R^{{n x h}}) with the model's own W2 "
                     f"and b2; on the grader's parameters yours is not (relative distance {resid:.1e}). Use "
                     "self.W2 and self.b2 exactly once, after the hidden layer.")
    spread = max(float(np.ptp(H[A_index == k])) for k in np.unique(A_index))
    if spread > STRUCTURE_TOL * (1.0 + float(np.abs(H).max())):
        return fails("H must be sigma(X W1 + b1) (lecture: H = sigma(X W^(1) + b^(1))), one activation applied to "
                     "every entry: where X W1 + b1 has the same value, H must too, but yours differs by "
                     f"{spread:.2g}. Compute H from X @ self.W1 + self.b1 with your relu, nothing else.")
    return passes(f"X ({n} x {d}) -> H = sigma(X W1 + b1) ({n} x {h}) -> O = H W2 + b2 ({n} x {q}), "
                  "for images and for flat rows.")


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


#: The activations the second hidden layer may use: the student's relu, sigmoid or tanh.
SECOND_ACTIVATIONS = {"relu": _relu, "sigmoid": _sigmoid, "tanh": np.tanh}


def check_deep_forward(X: np.ndarray, params: Mapping[str, np.ndarray], O: Any, model: str = "MLPDeep") -> CheckResult:
    """O = sigma2(relu(X W1 + b1) W2 + b2) W3 + b3 on the grader's parameters, sigma2 one of relu, sigmoid, tanh."""
    n, q = X.shape[0], params["W3"].shape[1]
    h1, h2 = params["W1"].shape[1], params["W2"].shape[1]
    Ov = as_numbers(f"{model}'s output O", O)
    if isinstance(Ov, CheckResult):
        return Ov
    if Ov.shape != (n, q):
        return fails(f"O must be n x q = {n} x {q} (lecture: O in R^{{n x q}}), with num_hiddens_1 = {h1} and "
                     f"num_hiddens_2 = {h2}; yours is {shape_text(Ov.shape)}.")
    H1 = _relu(X @ params["W1"] + params["b1"])
    scale = 1.0 + float(np.abs(Ov).max()) if np.isfinite(Ov).all() else 1.0
    for name, sigma in SECOND_ACTIVATIONS.items():
        want = sigma(H1 @ params["W2"] + params["b2"]) @ params["W3"] + params["b3"]
        if np.allclose(Ov, want, rtol=STRUCTURE_TOL, atol=STRUCTURE_TOL * scale):
            return passes(f"X ({n} x {X.shape[1]}) -> H1 = relu(X W1 + b1) ({n} x {h1}) -> H2 = {name}(H1 W2 + b2) "
                          f"({n} x {h2}) -> O = H2 W3 + b3 ({n} x {q}).")
    return fails("On the grader's parameters O is not H2 W3 + b3 with H1 = relu(X W1 + b1) and H2 = sigma2(H1 W2 + b2) "
                 "for sigma2 = relu, sigmoid or tanh (lecture: H^(1) = sigma_1(X W^(1) + b^(1)), "
                 "H^(2) = sigma_2(H^(1) W^(2) + b^(2))). Apply your relu to the first hidden layer and one of your "
                 "activations to the second, in that order, with self.W1 ... self.b3 (if relu_values or sigmoid_tanh "
                 "failed, fix those first).")
