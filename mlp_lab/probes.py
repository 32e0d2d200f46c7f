"""Probes: call a student's functions on the grader's inputs and bring back plain numbers.

Every probe has one signature, `probe(unit, fns, inputs, ctx) -> dict of plain values`, and is named
`probe_*`; the registry (`mlp_lab.questions.Unit.probe`) names it and `PROBES` finds it here or in
`model_probes` (the two models).  This module runs where student code runs (the sandboxed child, or
the student's own kernel); it imports torch, which the grader's parent process never does.  A probe
never judges anything: it returns numpy arrays and plain values, and the registry's judges decide.
A probe that cannot get a number (the student's function raised, returned a list, a tensor
subclass ...) raises `ProbeError` with a message for the student.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from . import model_probes
from .probing import (
    _SGD,
    FORBIDDEN_RUNTIME,
    ProbeContext,
    ProbeError,
    Recorder,
    _cross_entropy,
    _detach,
    _manual_seed,
    _no_grad,
    _Parameter,
    _randperm,
    _Tensor,
    _type,
    call,
    forward,
    param_dtype,
    to_numpy,
)

if TYPE_CHECKING:
    from .questions import Unit

__all__ = [
    "FORBIDDEN_RUNTIME",
    "PROBES",
    "ProbeContext",
    "ProbeError",
    "TrainingBudget",
    "probe_activation",
    "probe_affine_collapse",
    "probe_trained",
    "probe_training",
    "to_numpy",
    "train_and_predict",
]


def _activation(fn: Callable[[Any], Any], name: str, x: np.ndarray) -> dict[str, Any]:
    X = torch.tensor(x, requires_grad=True)
    rec = Recorder()
    with rec:
        y = call(f"{name}(X)", fn, X)
    values = to_numpy(y, f"{name}(X)")
    if not (_type(y) in (_Tensor, _Parameter) and y.requires_grad):
        raise ProbeError(f"{name}(X) is not connected to X in the autograd graph, so it has no gradient; "
                         f"compute it with torch operations on X (no .detach(), .numpy() or .item()).")
    call(f"backward through {name}", y.backward, torch.ones_like(y))
    if X.grad is None:
        raise ProbeError(f"{name}(X).backward() left X.grad empty: compute it from X with torch operations.")
    return {"values": values, "grad": to_numpy(X.grad, f"the gradient of {name}"), "calls": rec.names}


def probe_activation(unit: Unit, fns: Mapping[str, Any], inputs: Mapping[str, Any],
                     ctx: ProbeContext) -> dict[str, Any]:
    """Values and autograd gradient (of sum) of the activation at X, forbidden calls seen, and (for the
    feedback pictures, when `plot_X` is given) the values and gradient on the plotting grid."""
    name = unit.options["name"]
    out = _activation(fns[name], name, inputs["X"])
    if "plot_X" in inputs:
        try:
            plot = _activation(fns[name], name, inputs["plot_X"])
        except ProbeError:
            return out
        out["plot"] = {"x": inputs["plot_X"], "values": plot["values"], "grad": plot["grad"]}
    return out


def probe_affine_collapse(unit: Unit, fns: Mapping[str, Any], inputs: Mapping[str, Any],
                          ctx: ProbeContext) -> dict[str, Any]:
    args = [torch.tensor(inputs[k]) for k in ("W1", "b1", "W2", "b2")]
    out = call("collapse_affine(W1, b1, W2, b2)", fns["collapse_affine"], *args)
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise ProbeError("collapse_affine(W1, b1, W2, b2) must return a pair (W, b).")
    return {"W": to_numpy(out[0], "W"), "b": to_numpy(out[1], "b")}


class TrainingBudget:
    """The grader's training run: minibatch SGD on the training split only."""

    def __init__(self, epochs: int = 10, batch_size: int = 256, lr: float = 0.1, seed: int = 0,
                 final_lr: float | None = None) -> None:
        self.epochs, self.batch_size, self.lr, self.seed = epochs, batch_size, lr, seed
        # The last epoch's learning rate: a smaller step at the end takes the noise of SGD's last
        # iterate out of the final accuracy, so the threshold can sit close to what models reach.
        self.final_lr = lr if final_lr is None else final_lr

    def lr_for(self, epoch: int) -> float:
        return self.final_lr if epoch == self.epochs - 1 else self.lr


def train_and_predict(make_model: Callable[[], Any], what: str, budget: TrainingBudget,
                      train_X: torch.Tensor, train_y: torch.Tensor, test_X: Callable[[], torch.Tensor],
                      device: torch.device, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train a fresh model with the grader's seed and budget; logits on the test images before and after.

    `test_X` is a callable so that the test images are only loaded once training is over.
    """
    _manual_seed(budget.seed)
    model = call(f"{what}(...)", make_model)
    if not isinstance(model, torch.nn.Module):
        raise ProbeError(f"{what}(...) must build an nn.Module.")
    call(f"{what}.to({device})", model.to, device)
    X = train_X.to(device)
    y = train_y.to(device)
    with _no_grad():  # materialises lazy layers before the optimiser sees the parameters
        forward(model, X[:2], f"{what}.forward(X)")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ProbeError(f"{what} has no trainable parameters (model.parameters() is empty): "
                         f"make W1, b1, W2, b2 nn.Parameter attributes.")
    dtype = param_dtype(model)
    X = X.to(dtype)
    opt = _SGD(params, lr=budget.lr)
    n = X.shape[0]
    gen = torch.Generator(device="cpu").manual_seed(budget.seed)

    def predict(images: torch.Tensor) -> np.ndarray:
        chunks = []
        with _no_grad():
            for i in range(0, images.shape[0], 2500):
                out = forward(model, images[i:i + 2500].to(device), f"{what}.forward(X)")
                chunks.append(to_numpy(out, f"{what}'s output O"))
        return np.concatenate(chunks)

    losses: list[float] = []
    started = time.perf_counter()
    images = None
    for epoch in range(budget.epochs):
        if epoch == 0:
            images = test_X()
            before = predict(images)
        for group in opt.param_groups:
            group["lr"] = budget.lr_for(epoch)
        perm = _randperm(n, generator=gen).to(device)
        total, batches = 0.0, 0
        for i in range(0, n, budget.batch_size):
            idx = perm[i:i + budget.batch_size]
            out = call(f"{what}.forward(X)", model, X[idx])
            if not isinstance(out, _Tensor):
                raise ProbeError(f"{what}.forward(X) must return a tensor O.")
            loss = _cross_entropy(out, y[idx])
            opt.zero_grad()
            call(f"backward through {what}", loss.backward)
            opt.step()
            total += float(_detach(loss))
            batches += 1
        losses.append(total / max(batches, 1))
        if progress is not None:
            progress(f"{what}: epoch {epoch + 1}/{budget.epochs}, loss {losses[-1]:.3f}")
    if images is None:
        raise ProbeError(f"{what}: the training run has no epochs")
    return {"before": before, "after": predict(images), "train_loss": np.array(losses),
            "seconds": time.perf_counter() - started}


def probe_training(unit: Unit, fns: Mapping[str, Any], inputs: Mapping[str, Any],
                   ctx: ProbeContext) -> dict[str, Any]:
    """Train a fresh `unit.model` with the grader's run (`inputs`: epochs, lr, seed ...); logits before and after."""
    if ctx.train is None or ctx.test_images is None:
        raise ValueError(f"{unit.id} needs the training split and the test images")
    budget = TrainingBudget(epochs=int(inputs["epochs"]), batch_size=int(inputs["batch_size"]),
                            lr=float(inputs["lr"]), seed=int(inputs["seed"]), final_lr=float(inputs["final_lr"]))
    cls = fns[unit.names[0]]
    hp = {**unit.options["hyperparameters"], "lr": budget.lr}
    X, y = ctx.train()
    return train_and_predict(lambda: cls(**hp), unit.model or unit.id, budget, X, y, ctx.test_images,
                             ctx.device, progress=ctx.progress)


def probe_trained(unit: Unit, fns: Mapping[str, Any], inputs: Mapping[str, Any],
                  ctx: ProbeContext) -> dict[str, Any]:
    """The logits of a model the notebook trained itself, on the test images (in the student's kernel)."""
    name, what = unit.names[0], unit.model or unit.names[0]
    model = fns[name]
    if not isinstance(model, torch.nn.Module):
        raise ProbeError(f"`{name}` is not a trained {what}: run the training cell first.")
    if ctx.test_images is None:
        raise ValueError(f"{unit.id} needs the test images")
    images = ctx.test_images()
    chunks = []
    with _no_grad():
        for i in range(0, images.shape[0], 2500):
            out = forward(model, images[i:i + 2500], f"{what}.forward(X)")
            chunks.append(to_numpy(out, f"{what}'s output O"))
    return {"name": name, "logits": np.concatenate(chunks)}


#: Every probe by the name the registry (`mlp_lab.questions.Unit.probe`) gives it.
PROBES: dict[str, Callable[..., dict[str, Any]]] = {
    name: fn for module in (globals(), vars(model_probes)) for name, fn in dict(module).items()
    if name.startswith("probe_") and callable(fn)
}
