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


def test_scratch_probe_reports_shapes_registration_and_outputs() -> None:
    out = _probe("scratch", {"MLPScratch": REF["MLPScratch"]})
    h = int(unit("scratch").draw(np.random.default_rng(0))["h"])
    assert out["shapes"] == {"W1": (784, h), "b1": (h,), "W2": (h, 10), "b2": (10,)}
    assert all(out["registered"].values()) and out["submodules"] == []
    assert out["O_image_shape"] == out["O_flat_shape"] == (5, 10)
    assert set(out["nonlinear"]) == {"plain", "shifted"}


def test_concise_probe_reports_layers() -> None:
    out = _probe("concise", {"MLP": REF["MLP"]})
    h = int(unit("concise").draw(np.random.default_rng(0))["h"])
    assert out["linear_shapes"] == [(h, 784), (10, h)] and out["has_flatten"] and out["activations"] == ["ReLU"]


def test_trained_probe_casts_images_to_the_models_dtype() -> None:
    model = REF["MLP"](num_outputs=10, num_hiddens=8, lr=0.1).double()
    model(torch.zeros(1, 1, 28, 28, dtype=torch.float64))
    u = unit("trained_concise")
    images = torch.rand(3, 1, 28, 28)
    out = PROBES[u.probe](u, {"model_concise": model}, {}, ProbeContext(test_images=lambda: images))
    assert out["logits"].shape == (3, 10) and out["name"] == "model_concise"
    with pytest.raises(ProbeError, match="not a trained MLP"):
        PROBES[u.probe](u, {"model_concise": None}, {}, ProbeContext(test_images=lambda: images))
