"""Probes of the student's two models, by behaviour: the grader's numbers go in, plain numbers come out.

A probe loads parameters the grader drew into the student's model by the lecture's names (W1, b1,
W2, b2; for MLP the two linear layers), feeds it inputs the grader chose, and returns what the model
did with them: the output O, and the parameters after one SGD step.  The grader, in its own process,
computes what the lecture's formulas give for the same numbers and compares (`mlp_lab.questions`).
What the student's code *says* about itself (shapes, layer types, names) is returned too, but only to
explain a failure in the message; no point rests on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .probing import (
    _SGD,
    ProbeContext,
    ProbeError,
    Recorder,
    _no_grad,
    _Tensor,
    _type,
    call,
    forward,
    load,
    to_numpy,
)

if TYPE_CHECKING:
    from .questions import Unit

__all__ = ["probe_concise", "probe_deep", "probe_scratch", "probe_scratch_params"]

NAMES = ("W1", "b1", "W2", "b2")


def _build(cls: Any, what: str, **hp: Any) -> torch.nn.Module:
    args = ", ".join(f"{k}={v}" for k, v in hp.items())
    model = call(f"{what}({args})", cls, **hp)
    if not isinstance(model, torch.nn.Module):
        raise ProbeError(f"{what}(...) must build an nn.Module (subclass d2l.Classifier).")
    return model


def _shape(value: Any) -> list[int] | None:
    return list(value.shape) if isinstance(value, _Tensor) else None


def _load_by_name(model: torch.nn.Module, values: Mapping[str, np.ndarray]) -> dict[str, str]:
    return {name: load(getattr(model, name, None), values[name], f"self.{name}") for name in NAMES}


def _sgd_step(model: torch.nn.Module, inputs: Mapping[str, Any], names: tuple[str, ...] = NAMES) -> dict[str, Any]:
    """Load the grader's parameters by name, take one SGD step on model.parameters() for the loss
    sum(G * P), and read them back.

    A registered parameter moves by -lr G; an attribute that is not in model.parameters() stays.
    """
    attrs = {name: getattr(model, name, None) for name in names}
    out: dict[str, Any] = {"shapes": {n: _shape(v) for n, v in attrs.items()}}
    layouts: dict[str, str] = {}
    for name, value in attrs.items():
        try:
            layouts[name] = load(value, inputs[name], f"self.{name}")
        except ProbeError as err:
            out.setdefault("load_errors", {})[name] = str(err)
    out["layouts"] = layouts
    terms = []
    for name, how in layouts.items():
        value = attrs[name]
        grad = torch.tensor(inputs[f"G_{name}"])
        grad = grad.T if how == "transposed" else grad.reshape(value.shape)
        if value.requires_grad:
            terms.append((value * grad.to(device=value.device, dtype=value.dtype)).sum())
    params = [p for p in model.parameters() if p.requires_grad]
    if terms and params:
        opt = _SGD(params, lr=float(inputs["lr"]))
        opt.zero_grad()
        loss = terms[0]
        for t in terms[1:]:
            loss = loss + t
        call("backward through the parameters", loss.backward)
        opt.step()
    out["after"] = {name: to_numpy(attrs[name], f"self.{name}") for name in layouts}
    return out


def _structure(model: torch.nn.Module, inputs: Mapping[str, Any], what: str, loader: Any) -> dict[str, Any]:
    """O for the grader's X (as images and as rows) after loading the grader's structure parameters."""
    out: dict[str, Any] = {}
    try:
        out["layouts"] = loader(model, inputs)
    except ProbeError as err:
        out["load_error"] = str(err)
        return out
    n = int(inputs["n"])
    X = torch.tensor(inputs["X"])
    rec = Recorder()
    with _no_grad():
        O_images = forward(model, X.reshape(n, 1, 28, 28), f"{what}.forward(X) on n x 1 x 28 x 28 images", rec)
        out["O_images"] = to_numpy(O_images, f"{what}'s output O")
        O_rows = forward(model, X, f"{what}.forward(X) on n x d rows", rec)
        out["O_rows"] = to_numpy(O_rows, f"{what}'s output O")
    out["calls"] = rec.names
    return out


def _nonlinear(model: torch.nn.Module, nonlin: Mapping[str, np.ndarray], what: str, loader: Any) -> dict[str, Any]:
    """O for each parameter setting of the non-linearity inputs, or the student's error as a string."""
    results: dict[str, np.ndarray] = {}
    try:
        for setting, b2 in (("plain", nonlin["b2"]), ("shifted", nonlin["b2_shifted"])):
            loader(model, {"W1": nonlin["W1"], "b1": nonlin["b1"], "W2": nonlin["W2"], "b2": b2})
            with _no_grad():
                O = forward(model, torch.tensor(nonlin["X"]), f"{what}.forward(X)")
            results[setting] = to_numpy(O, f"{what}'s output O")
    except (ProbeError, RuntimeError, AttributeError, TypeError, ValueError) as err:
        return {"error": str(err)[:1000]}
    return results


def probe_scratch_params(unit: Unit, fns: Mapping[str, Any], inputs: Mapping[str, Any],
                         ctx: ProbeContext) -> dict[str, Any]:
    """MLPScratch's parameters: one SGD step on the grader's W1..b2 (its forward never runs here)."""
    s = inputs["shapes"]
    model = _build(fns["MLPScratch"], "MLPScratch", num_inputs=int(s["d"]), num_outputs=int(s["q"]),
                   num_hiddens=int(s["h"]), lr=0.1)
    return {"step": _sgd_step(model, s)}


def probe_scratch(unit: Unit, fns: Mapping[str, Any], inputs: Mapping[str, Any],
                  ctx: ProbeContext) -> dict[str, Any]:
    """MLPScratch's forward: its output on the grader's structure inputs, and its non-linearity."""
    cls = fns["MLPScratch"]
    s = inputs["shapes"]
    shapes_model = _build(cls, "MLPScratch", num_inputs=int(s["d"]), num_outputs=int(s["q"]),
                          num_hiddens=int(s["h"]), lr=0.1)
    out: dict[str, Any] = {"submodules": [f"self.{n}: {_type(m).__module__}.{_type(m).__qualname__}"
                                          for n, m in shapes_model.named_children()]}
    out["nonlinear"] = _nonlinear(shapes_model, inputs["nonlin"], "MLPScratch", _load_by_name)
    f = inputs["structure"]
    structure_model = _build(cls, "MLPScratch", num_inputs=int(f["d"]), num_outputs=int(f["q"]),
                             num_hiddens=int(f["h"]), lr=0.1)
    try:
        out["structure"] = _structure(structure_model, f, "MLPScratch", _load_by_name)
    except ProbeError as err:
        out["structure"] = {"forward_error": str(err)}
    out["calls"] = out["structure"].pop("calls", [])
    return out


def _linear_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in model.modules() if isinstance(m, torch.nn.Linear)]


def _load_linear_layers(model: torch.nn.Module, values: Mapping[str, np.ndarray]) -> dict[str, str]:
    """The grader's W1, b1, W2, b2 into MLP.net's two linear layers (nn.Linear stores weights as W^T)."""
    layers = _linear_layers(model)
    if len(layers) != 2:
        raise ProbeError(f"MLP.net must hold exactly two linear layers; it has {len(layers)}.")
    with _no_grad():
        for layer, (w, b) in zip(layers, (("W1", "b1"), ("W2", "b2")), strict=True):
            if tuple(layer.weight.shape) != tuple(values[w].shape)[::-1]:
                raise ProbeError(f"a linear layer of MLP.net maps {layer.weight.shape[1]} -> "
                                 f"{layer.weight.shape[0]}, where the lecture's {w} needs "
                                 f"{values[w].shape[0]} -> {values[w].shape[1]}.")
            layer.weight.copy_(torch.tensor(values[w]).T)
            layer.bias.copy_(torch.tensor(values[b]).reshape(-1))
    return {"W1": "linear", "W2": "linear"}


def probe_concise(unit: Unit, fns: Mapping[str, Any], inputs: Mapping[str, Any],
                  ctx: ProbeContext) -> dict[str, Any]:
    """MLP: its output on images after loading the grader's parameters into its linear layers."""
    f = inputs["structure"]
    model = _build(fns["MLP"], "MLP", num_outputs=int(f["q"]), num_hiddens=int(f["h"]), lr=0.1)
    n = int(f["n"])
    with _no_grad():  # the first forward pass gives LazyLinear its input size
        forward(model, torch.zeros(n, 1, 28, 28), "MLP.forward(X) on n x 1 x 28 x 28 images")
    call("MLP.eval()", model.eval)  # no dropout while the grader looks at the structure
    leaves = [m for m in model.modules() if not list(m.children())]
    out: dict[str, Any] = {
        "linear_shapes": [list(m.weight.shape) for m in _linear_layers(model)],
        "has_flatten": any(isinstance(m, torch.nn.Flatten) for m in leaves),
        "activations": [_type(m).__name__ for m in leaves
                        if not isinstance(m, torch.nn.Linear | torch.nn.Flatten | torch.nn.Dropout | torch.nn.Identity)],
    }
    try:
        out["structure"] = _structure(model, f, "MLP", _load_linear_layers)
    except ProbeError as err:
        out["structure"] = {"forward_error": str(err)}
    out["structure"].pop("calls", None)
    out["nonlinear"] = _nonlinear(model, inputs["nonlin"], "MLP", _load_linear_layers)
    return out


DEEP_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def probe_deep(unit: Unit, fns: Mapping[str, Any], inputs: Mapping[str, Any], ctx: ProbeContext) -> dict[str, Any]:
    """MLPDeep: one SGD step on the grader's W1..b3, and O for the grader's X (and for the plane inputs)."""
    h1, h2, q = int(inputs["h1"]), int(inputs["h2"]), int(inputs["q"])
    model = _build(fns["MLPDeep"], "MLPDeep", num_inputs=int(inputs["d"]), num_outputs=q, num_hiddens_1=h1,
                   num_hiddens_2=h2, lr=0.1)
    out: dict[str, Any] = {"step": _sgd_step(model, inputs, DEEP_NAMES),
                           "submodules": [f"self.{n}: {_type(m).__module__}.{_type(m).__qualname__}"
                                          for n, m in model.named_children()]}
    try:
        for name in DEEP_NAMES:  # the step moved them: load the grader's values again before the forward
            load(getattr(model, name, None), inputs[name], f"self.{name}")
        rec = Recorder()
        with _no_grad():
            out["O"] = to_numpy(forward(model, torch.tensor(inputs["X"]), "MLPDeep.forward(X)", rec), "MLPDeep's O")
            out["O_plane"] = to_numpy(forward(model, torch.tensor(inputs["nonlin_X"]), "MLPDeep.forward(X)", rec),
                                      "MLPDeep's O")
        out["calls"] = rec.names
    except ProbeError as err:
        out["forward_error"] = str(err)
    return out
