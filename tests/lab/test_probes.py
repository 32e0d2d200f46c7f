"""The probes: they call the student's code on given inputs and bring back plain numbers, or say why not."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from autograder.course.examples import solution_namespace
from mlp_lab.probes import PROBES, ProbeContext, ProbeError, to_numpy
from mlp_lab.questions import unit

REF = solution_namespace()
CTX = ProbeContext()


def _probe(unit_id: str, fns: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    u = unit(unit_id)
    return PROBES[u.probe](u, fns, u.draw(np.random.default_rng(seed)), CTX)


def test_activation_probe_returns_values_gradient_and_calls() -> None:
    out = _probe("relu", {"relu": REF["relu"]})
    x = unit("relu").draw(np.random.default_rng(0))["X"]
    assert np.array_equal(out["values"], np.maximum(x, 0))
    assert np.array_equal(out["grad"], (x > 0).astype(np.float64))
    assert out["calls"] == []


def test_activation_probe_records_a_builtin_activation() -> None:
    out = _probe("relu", {"relu": torch.relu})
    assert any(call.endswith("relu") for call in out["calls"])


@pytest.mark.parametrize(("fn", "why"), [
    (lambda X: X.detach().numpy(), "must be a torch.Tensor"),
    (lambda X: torch.zeros_like(X), "not connected to X"),
    (lambda X: (_ for _ in ()).throw(ValueError("boom")), "raised ValueError: boom"),
])
def test_activation_probe_says_why_it_got_no_number(fn: Any, why: str) -> None:
    with pytest.raises(ProbeError, match=why):
        _probe("relu", {"relu": fn})


def test_to_numpy_refuses_tensor_subclasses() -> None:
    class Liar(torch.Tensor):
        pass

    with pytest.raises(ProbeError, match=r"must be a torch\.Tensor; it is a Liar"):
        to_numpy(torch.zeros(2).as_subclass(Liar), "relu(X)")


def test_collapse_probe_needs_a_pair() -> None:
    assert set(_probe("collapse", {"collapse_affine": REF["collapse_affine"]})) == {"W", "b"}
    with pytest.raises(ProbeError, match="must return a pair"):
        _probe("collapse", {"collapse_affine": lambda W1, b1, W2, b2: W1 @ W2})


def test_scratch_probe_steps_the_graders_parameters_and_runs_its_forward() -> None:
    """Does the probe load the grader's W1..b2 by name, take one SGD step, and return O for the grader's X?"""
    inputs = unit("scratch").draw(np.random.default_rng(0))
    out = PROBES["probe_scratch"](unit("scratch"), {"MLPScratch": REF["MLPScratch"]}, inputs, CTX)
    step = PROBES["probe_scratch_params"](unit("scratch_params"), {"MLPScratch": REF["MLPScratch"]}, inputs,
                                          CTX)["step"]
    s, f = inputs["shapes"], inputs["structure"]
    assert step["layouts"] == {"W1": "exact", "b1": "reshaped", "W2": "exact", "b2": "reshaped"}
    want = s["W1"].astype(np.float64) - s["lr"] * s["G_W1"]
    assert np.allclose(step["after"]["W1"], want, atol=1e-6)
    assert out["structure"]["O_images"].shape == (f["n"], f["q"]) and np.allclose(out["structure"]["O_images"],
                                                                                   out["structure"]["O_rows"])
    assert set(out["nonlinear"]) == {"plain", "shifted"} and out["submodules"] == [] and out["calls"] == []


def test_a_plain_tensor_attribute_is_not_moved_by_the_step() -> None:
    ns = dict(REF)
    code = "class Plain(MLPScratch):\n    def __init__(self, *a, **k):\n        super().__init__(*a, **k)\n" \
           "        W2 = self.W2.detach().clone()\n        del self.W2\n        self.W2 = W2\n"
    exec(code, ns)
    inputs = unit("scratch_params").draw(np.random.default_rng(1))
    out = PROBES["probe_scratch_params"](unit("scratch_params"), {"MLPScratch": ns["Plain"]}, inputs, CTX)
    assert np.allclose(out["step"]["after"]["W2"], inputs["shapes"]["W2"])  # SGD never saw it


def test_a_transposed_weight_is_loaded_transposed() -> None:
    ns = dict(REF)
    code = ("class T(MLPScratch):\n    def __init__(self, num_inputs, num_outputs, num_hiddens, lr):\n"
            "        super().__init__(num_inputs, num_outputs, num_hiddens, lr)\n"
            "        self.W1 = nn.Parameter(torch.randn(num_hiddens, num_inputs) * 0.01)\n"
            "    def forward(self, X):\n        X = X.reshape((-1, self.num_inputs))\n"
            "        return relu(X @ self.W1.T + self.b1) @ self.W2 + self.b2\n")
    exec(code, ns)
    inputs = unit("scratch").draw(np.random.default_rng(2))
    step = PROBES["probe_scratch_params"](unit("scratch_params"), {"MLPScratch": ns["T"]}, inputs, CTX)["step"]
    assert step["layouts"]["W1"] == "transposed"
    out = PROBES["probe_scratch"](unit("scratch"), {"MLPScratch": ns["T"]}, inputs, CTX)
    assert "O_images" in out["structure"]


def test_concise_probe_loads_the_linear_layers() -> None:
    inputs = unit("concise").draw(np.random.default_rng(0))
    out = PROBES["probe_concise"](unit("concise"), {"MLP": REF["MLP"]}, inputs, CTX)
    f = inputs["structure"]
    assert out["linear_shapes"] == [[f["h"], 784], [f["q"], f["h"]]] and out["has_flatten"]
    assert out["activations"] == ["ReLU"] and out["structure"]["O_images"].shape == (f["n"], f["q"])


def test_trained_probe_casts_images_to_the_models_dtype() -> None:
    model = REF["MLP"](num_outputs=10, num_hiddens=8, lr=0.1).double()
    model(torch.zeros(1, 1, 28, 28, dtype=torch.float64))
    u = unit("trained_concise")
    images = torch.rand(3, 1, 28, 28)
    out = PROBES[u.probe](u, {"model_concise": model}, {}, ProbeContext(test_images=lambda: images))
    assert out["logits"].shape == (3, 10) and out["name"] == "model_concise"
    with pytest.raises(ProbeError, match="not a trained MLP"):
        PROBES[u.probe](u, {"model_concise": None}, {}, ProbeContext(test_images=lambda: images))


def test_deep_probe_steps_all_six_parameters_and_returns_O() -> None:
    inputs = unit("deep").draw(np.random.default_rng(0))
    out = PROBES["probe_deep"](unit("deep"), {"MLPDeep": REF["MLPDeep"]}, inputs, CTX)
    assert set(out["step"]["after"]) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    assert np.allclose(out["step"]["after"]["W3"], inputs["W3"] - inputs["lr"] * inputs["G_W3"], atol=1e-6)
    assert out["O"].shape == (inputs["X"].shape[0], 10) and out["O_plane"].shape == (256, 10)
