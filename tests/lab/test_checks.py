"""The pure checks: what passes, what fails, and what the student is told."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from autograder.errors import CheckFailed
from mlp_lab import checks, model_checks
from mlp_lab.inputs import nonlinear_inputs, relu_inputs, sigmoid_tanh_inputs, structure_inputs

RNG = np.random.default_rng(7)


def _relu_grad(x: np.ndarray, at_zero: float) -> np.ndarray:
    return np.where(x > 0, 1.0, np.where(x < 0, 0.0, at_zero))


def test_relu_values_pass_for_max_zero_x() -> None:
    x = relu_inputs(RNG)["X"]
    assert checks.check_relu_values(x, np.maximum(x, 0)).passed


def test_relu_values_fail_for_abs_and_say_negatives_become_zero() -> None:
    x = relu_inputs(RNG)["X"]
    r = checks.check_relu_values(x, np.abs(x))
    assert not r.passed
    assert "negative inputs must become 0" in r.message


def test_relu_values_fail_when_shape_changes() -> None:
    x = relu_inputs(RNG)["X"]
    r = checks.check_relu_values(x, np.maximum(x, 0).ravel())
    assert not r.passed and "shape" in r.message


def test_relu_grad_is_zero_at_zero() -> None:
    x = relu_inputs(RNG)["X"]
    assert (x == 0).any(), "the grader's inputs must include exact zeros"
    assert checks.check_relu_grad(x, _relu_grad(x, 0.0)).passed
    assert not checks.check_relu_grad(x, _relu_grad(x, 1.0)).passed


def test_d2l_max_relu_gradient_half_at_zero_is_explained() -> None:
    """Is a student using d2l's torch.max(X, zeros) told why 0.5 at 0 is wrong?"""
    x = relu_inputs(RNG)["X"]
    r = checks.check_relu_grad(x, _relu_grad(x, 0.5))
    assert not r.passed
    assert "0.5" in r.message and "torch.max" in r.message and "left-hand derivative" in r.message


def test_sigmoid_tanh_pass_for_stable_formulas() -> None:
    x = sigmoid_tanh_inputs(RNG)["X"].astype(np.float64)
    s = checks.reference_sigmoid(x)
    t = np.tanh(x)
    assert checks.check_sigmoid_tanh(x, s, s * (1 - s), t, 1 - t**2).passed


def test_sigmoid_nan_gradient_at_minus_100_fails_with_overflow_hint() -> None:
    x = sigmoid_tanh_inputs(RNG)["X"].astype(np.float64)
    s = checks.reference_sigmoid(x)
    grad = s * (1 - s)
    grad[x == -100] = np.nan
    t = np.tanh(x)
    r = checks.check_sigmoid_tanh(x, s, grad, t, 1 - t**2)
    assert not r.passed and "not finite" in r.message and "x = -100" in r.message


def test_tanh_wrong_sign_fails() -> None:
    x = sigmoid_tanh_inputs(RNG)["X"].astype(np.float64)
    s = checks.reference_sigmoid(x)
    t = np.tanh(x)
    r = checks.check_sigmoid_tanh(x, s, s * (1 - s), -t, 1 - t**2)
    assert not r.passed and r.message.startswith("tanh(x) is wrong")


def test_affine_collapse_checks_the_map_and_names_a_transposed_w() -> None:
    W1, b1, W2, b2 = (RNG.normal(size=s) for s in ((5, 4), (1, 4), (4, 3), (1, 3)))
    X = RNG.normal(size=(8, 5))
    W, b = W1 @ W2, b1 @ W2 + b2
    assert checks.check_affine_collapse(W1, b1, W2, b2, W, b, X).passed
    assert checks.check_affine_collapse(W1, b1, W2, b2, W, b.ravel(), X).passed
    transposed = checks.check_affine_collapse(W1, b1, W2, b2, W.T, b, X)
    assert not transposed.passed and "transposed" in transposed.message
    wrong_b = checks.check_affine_collapse(W1, b1, W2, b2, W, b2, X)
    assert not wrong_b.passed and "b = b1 W2 + b2" in wrong_b.message


def test_param_shapes_message_uses_lecture_notation() -> None:
    shapes = {"W1": (256, 784), "b1": (256,), "W2": (256, 10), "b2": (10,)}
    registered = dict.fromkeys(shapes, True)
    r = model_checks.check_param_shapes(shapes, registered, 784, 256, 10)
    assert not r.passed
    assert r.message == ("W1 must be d x h = 784 x 256 (lecture: W^(1) in R^{d x h}); yours is 256 x 784. "
                         "Did you store it transposed?")


def test_param_shapes_accept_vector_biases_and_require_registration() -> None:
    shapes = {"W1": (784, 64), "b1": (64,), "W2": (64, 10), "b2": (1, 10)}
    assert model_checks.check_param_shapes(shapes, dict.fromkeys(shapes, True), 784, 64, 10).passed
    r = model_checks.check_param_shapes(shapes, {**dict.fromkeys(shapes, True), "W2": False}, 784, 64, 10)
    assert not r.passed and "nn.Parameter" in r.message


def test_param_shapes_catch_hard_coded_256() -> None:
    shapes = {"W1": (784, 256), "b1": (256,), "W2": (256, 10), "b2": (10,)}
    r = model_checks.check_param_shapes(shapes, dict.fromkeys(shapes, True), 784, 96, 10)
    assert not r.passed and "num_hiddens" in r.message


def _mlp(inp: dict[str, np.ndarray], act, shifted: bool = False, out_act=lambda o: o) -> np.ndarray:  # type: ignore[no-untyped-def]
    b2 = inp["b2_shifted"] if shifted else inp["b2"]
    return out_act(act(inp["X"] @ inp["W1"] + inp["b1"]) @ inp["W2"] + b2)


@pytest.mark.parametrize(("name", "act", "out_act", "passes"), [
    ("relu", lambda z: np.maximum(z, 0), lambda o: o, True),
    ("identity", lambda z: z, lambda o: o, False),
    ("leaky relu with slope 1", lambda z: np.where(z > 0, z, 1.0 * z), lambda o: o, False),
    ("x + 1e-9 x^2", lambda z: z + 1e-9 * z**2, lambda o: o, False),
    ("relu only after the last layer", lambda z: z, lambda o: np.maximum(o, 0), False),
])
def test_nonlinear_is_not_fooled_by_affine_disguises(name, act, out_act, passes) -> None:  # type: ignore[no-untyped-def]
    """Does an affine map in disguise fail, while a ReLU MLP passes?"""
    inp = nonlinear_inputs(np.random.default_rng(3), d=784, h=64, q=10)
    outputs = {"plain": _mlp(inp, act, False, out_act), "shifted": _mlp(inp, act, True, out_act)}
    r = model_checks.check_nonlinear(inp["Z"], outputs)
    assert r.passed is passes, f"{name}: {r.message}"


def test_f_2x_is_not_the_test_an_affine_map_with_bias_would_pass() -> None:
    """An affine map with a bias has f(2x) != 2 f(x), yet it must still fail."""
    inp = nonlinear_inputs(np.random.default_rng(4), d=784, h=32, q=10)
    affine = {"plain": inp["X"] @ inp["W1"] @ inp["W2"] + 3.0}
    assert not model_checks.check_nonlinear(inp["Z"], affine).passed


def test_accuracy_rejects_a_label_oracle_before_training() -> None:
    labels = RNG.integers(0, 10, size=1000)
    oracle = np.eye(10)[labels]
    r = checks.check_accuracy(labels, oracle, oracle, "MLPScratch", "budget")
    assert not r.passed and "before any training" in r.message


def test_accuracy_threshold_and_chance_start() -> None:
    labels = RNG.integers(0, 10, size=1000)
    chance = RNG.normal(size=(1000, 10))
    good = np.eye(10)[np.where(RNG.random(1000) < 0.9, labels, (labels + 1) % 10)]
    poor = np.eye(10)[np.where(RNG.random(1000) < 0.5, labels, (labels + 1) % 10)]
    assert checks.check_accuracy(labels, chance, good, "MLP", "budget").passed
    r = checks.check_accuracy(labels, chance, poor, "MLP", "budget")
    assert not r.passed and f"{checks.ACCURACY_THRESHOLD:.2f}" in r.message


def test_require_raises_check_failed_with_the_message() -> None:
    r = checks.CheckResult(False, "W1 must be d x h")
    with pytest.raises(CheckFailed, match="W1 must be d x h"):
        r.require()
    assert isinstance(CheckFailed("x"), AssertionError)


def test_non_numeric_values_are_refused_not_compared() -> None:
    x = relu_inputs(RNG)["X"]
    r = checks.check_relu_values(x, np.array(["0"] * x.size, dtype=object).reshape(x.shape))
    assert not r.passed and "real numbers" in r.message


# --- the models' structure, from the grader's own numbers ---------------------------------------------

STRUCT = structure_inputs(np.random.default_rng(5))


def _forward(act: Any, s: dict = STRUCT) -> np.ndarray:
    X = s["X"].astype(np.float64)
    return act(X @ s["W1"] + s["b1"]) @ s["W2"] + s["b2"]


def _structure(O: np.ndarray, O_rows: np.ndarray | None = None) -> checks.CheckResult:
    return model_checks.check_forward_structure(O, O if O_rows is None else O_rows, STRUCT["W2"].astype(np.float64),
                                                STRUCT["b2"].astype(np.float64), STRUCT["A_index"], 784)


@pytest.mark.parametrize("act", [lambda a: np.maximum(a, 0), np.tanh, lambda a: a, lambda a: 1 / (1 + np.exp(-a)),
                                 lambda a: np.where(a > 0, a, 0.01 * a)], ids=["relu", "tanh", "identity", "sigmoid",
                                                                              "leaky"])
def test_forward_structure_accepts_any_elementwise_activation(act: Any) -> None:
    assert _structure(_forward(act)).passed


def test_forward_structure_refuses_what_the_lectures_forward_cannot_give() -> None:
    """A softmax over the hidden units, b2 added twice, W1 ignored, a transposed O: each named."""
    def softmax(a: np.ndarray) -> np.ndarray:
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    assert "one activation applied to every entry" in _structure(_forward(softmax)).message
    assert "H W2 + b2" in _structure(_forward(np.tanh) + STRUCT["b2"]).message
    X = STRUCT["X"].astype(np.float64)
    no_w1 = np.maximum(X[:, : STRUCT["h"]] + STRUCT["b1"], 0) @ STRUCT["W2"] + STRUCT["b2"]
    assert not _structure(no_w1).passed
    assert "transposed" in _structure(_forward(np.tanh).T).message
    O = _forward(np.tanh)
    assert "different O for the same X" in _structure(O, O + 1).message


def test_registration_tells_a_step_from_no_step() -> None:
    P, G = np.ones((3, 2)), np.full((3, 2), 2.0)
    assert model_checks.registration(P, P - 0.5 * G, G, 0.5) == "updated"
    assert model_checks.registration(P, P, G, 0.5) == "unchanged"
    assert model_checks.registration(P, P + 7, G, 0.5) == "other"
    assert model_checks.registration(P, np.ones((2, 3)), G, 0.5) == "other"


# --- the deeper MLP --------------------------------------------------------------------------------


def _deep_params(seed: int = 9) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    from mlp_lab.questions import deep_inputs

    i = deep_inputs(np.random.default_rng(seed))
    return i["X"].astype(np.float64), {k: i[k].astype(np.float64) for k in ("W1", "b1", "W2", "b2", "W3", "b3")}


@pytest.mark.parametrize("second", ["relu", "sigmoid", "tanh"])
def test_deep_forward_accepts_each_lecture_activation_for_the_second_layer(second: str) -> None:
    X, p = _deep_params()
    H1 = np.maximum(X @ p["W1"] + p["b1"], 0)
    O = model_checks.SECOND_ACTIVATIONS[second](H1 @ p["W2"] + p["b2"]) @ p["W3"] + p["b3"]
    r = model_checks.check_deep_forward(X, p, O)
    assert r.passed and f"H2 = {second}(H1 W2 + b2)" in r.message


def test_deep_forward_refuses_a_missing_or_misplaced_activation() -> None:
    X, p = _deep_params()
    linear = ((X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]) @ p["W3"] + p["b3"]
    assert not model_checks.check_deep_forward(X, p, linear).passed
    H1 = np.maximum(X @ p["W1"] + p["b1"], 0)
    one_layer_skipped = H1 @ p["W2"] @ p["W3"] + p["b3"]
    assert not model_checks.check_deep_forward(X, p, one_layer_skipped).passed
    assert "n x q" in model_checks.check_deep_forward(X, p, linear.T).message


def test_deep_shapes_name_both_hidden_sizes() -> None:
    shapes = {"W1": (784, 256), "b1": (256,), "W2": (256, 128), "b2": (128,), "W3": (128, 10), "b3": (10,)}
    r = model_checks.check_deep_shapes(shapes, dict.fromkeys(shapes, True), 784, 32, 16, 10)
    assert not r.passed and "num_hiddens_1 and num_hiddens_2" in r.message and "h1 = 32" in r.message
