"""Probes: call a student's functions on the grader's inputs and bring back plain numbers.

This module runs where student code runs (the sandboxed child, or the student's own Jupyter kernel
for the notebook's hidden tests).  It imports torch; the grader's parent process never imports it.
A probe never judges anything: it returns numpy arrays, shapes and names, and `checks` decides.

A probe that cannot get a number (the student's function raised, returned a list, returned a
tensor subclass ...) raises `ProbeError` with a message for the student.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

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
    "probe_concise",
    "probe_plot",
    "probe_scratch",
    "probe_trained",
    "probe_training",
    "to_numpy",
    "train_and_predict",
]

# Originals, taken when this module is imported (before any student code runs), so that a
# submission that later monkeypatches torch cannot change how the probes read its results.
_Tensor = torch.Tensor
_Parameter = torch.nn.Parameter
_type = type
_detach = torch.Tensor.detach
_cpu = torch.Tensor.cpu
_to = torch.Tensor.to
_numpy = torch.Tensor.numpy
_cross_entropy = torch.nn.functional.cross_entropy
_SGD = torch.optim.SGD
_no_grad = torch.no_grad
_randperm = torch.randperm
_manual_seed = torch.manual_seed

# Built-in activations and layers that "from scratch" code must not call (by function name).
FORBIDDEN_RUNTIME = frozenset({
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "threshold", "threshold_", "hardtanh", "hardtanh_",
    "sigmoid", "sigmoid_", "expit", "logsigmoid", "hardsigmoid", "tanh", "tanh_", "softplus", "gelu", "silu",
    "elu", "elu_", "selu", "celu", "mish", "hardswish", "prelu", "rrelu", "glu", "softsign", "tanhshrink",
    "linear", "bilinear",
})


class ProbeError(Exception):
    """The student's code did not produce a usable value; the message is for the student."""


def to_numpy(value: Any, what: str) -> np.ndarray:
    """A plain torch.Tensor (or nn.Parameter) as a float64/int numpy copy; anything else is refused."""
    if _type(value) not in (_Tensor, _Parameter):
        raise ProbeError(f"{what} must be a torch.Tensor; it is a {_type(value).__name__}.")
    t = _cpu(_detach(value))
    if t.is_complex() or t.dtype == torch.bool:
        raise ProbeError(f"{what} must hold real numbers; its dtype is {t.dtype}.")
    return np.array(_numpy(_to(t, torch.float64)), dtype=np.float64, copy=True)


def _call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise ProbeError(f"{what} raised NotImplementedError: its answer cell still holds "
                         "`raise NotImplementedError()`; replace that line with your code.") from None
    except Exception as exc:  # the student's error, reported to the student
        raise ProbeError(f"{what} raised {_type(exc).__name__}: {exc}") from None


class _Recorder(TorchFunctionMode):
    """Records the torch functions called, and the shapes of the tensors they return."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.shapes: list[tuple[int, ...]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        name = getattr(func, "__name__", "") or ""
        if name in FORBIDDEN_RUNTIME:
            module = getattr(func, "__module__", None) or "torch"
            self.names.append(f"{module}.{name}")
        out = func(*args, **(kwargs or {}))
        if isinstance(out, _Tensor):
            self.shapes.append(tuple(out.shape))
        return out


# --- probes: probe(unit, fns, inputs, ctx) -> plain values ----------------------------------------


@dataclass
class ProbeContext:
    """What a probe may need besides the student's names and the unit's inputs.

    `train` and `test_images` are callables so that the data is loaded only by the units that train.
    `labels_for_kernel` is only set in the student's own kernel (visible checks, hidden tests).
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    train: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None
    test_images: Callable[[], torch.Tensor] | None = None
    progress: Callable[[str], None] | None = None


def _activation(fn: Callable[[Any], Any], name: str, x: np.ndarray) -> dict[str, Any]:
    X = torch.tensor(x, requires_grad=True)
    rec = _Recorder()
    with rec:
        y = _call(f"{name}(X)", fn, X)
    values = to_numpy(y, f"{name}(X)")
    if not (_type(y) in (_Tensor, _Parameter) and y.requires_grad):
        raise ProbeError(f"{name}(X) is not connected to X in the autograd graph, so it has no gradient; "
                         f"compute it with torch operations on X (no .detach(), .numpy() or .item()).")
    _call(f"backward through {name}", y.backward, torch.ones_like(y))
    if X.grad is None:
        raise ProbeError(f"{name}(X).backward() left X.grad empty: compute it from X with torch operations.")
    return {"values": values, "grad": to_numpy(X.grad, f"the gradient of {name}"), "calls": rec.names}


def probe_activation(unit: Unit, fns: Mapping[str, Any], inputs: Mapping[str, Any],
                     ctx: ProbeContext) -> dict[str, Any]:
    """Values and autograd gradient (of sum) of the activation at X, plus forbidden calls seen."""
    name = unit.options["name"]
    return _activation(fns[name], name, inputs["X"])


def probe_plot(unit: Unit, fns: Mapping[str, Any], inputs: Mapping[str, Any], ctx: ProbeContext) -> dict[str, Any]:
    """Each activation and its gradient on the plotting grid (for the feedback pictures)."""
    out: dict[str, Any] = {"x": inputs["X"]}
    for name in unit.names:
        try:
            r = _activation(fns[name], name, inputs["X"])
        except ProbeError:
            continue
        out[name], out[f"{name}_grad"] = r["values"], r["grad"]
    return out


def probe_affine_collapse(unit: Unit, fns: Mapping[str, Any], inputs: Mapping[str, Any],
                          ctx: ProbeContext) -> dict[str, Any]:
    args = [torch.tensor(inputs[k]) for k in ("W1", "b1", "W2", "b2")]
    out = _call("collapse_affine(W1, b1, W2, b2)", fns["collapse_affine"], *args)
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise ProbeError("collapse_affine(W1, b1, W2, b2) must return a pair (W, b).")
    return {"W": to_numpy(out[0], "W"), "b": to_numpy(out[1], "b")}


def _param_dtype(model: torch.nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def _set_params(model: torch.nn.Module, values: Mapping[str, np.ndarray]) -> None:
    with _no_grad():
        for name, v in values.items():
            p = getattr(model, name)
            p.copy_(torch.tensor(v).reshape(p.shape).to(p.dtype))


def _forward(model: torch.nn.Module, X: torch.Tensor, what: str, rec: _Recorder | None = None) -> Any:
    X = X.to(_param_dtype(model))
    if rec is None:
        return _call(what, model, X)
    with rec:
        return _call(what, model, X)


def probe_scratch(unit: Unit, fns: Mapping[str, Any], inputs: Mapping[str, Any],
                  ctx: ProbeContext) -> dict[str, Any]:
    """Parameter shapes, forward shapes, forbidden calls and outputs on the non-linearity inputs."""
    d, h, q = int(inputs["d"]), int(inputs["h"]), int(inputs["q"])
    images = inputs["images"]
    model = _call(f"MLPScratch(num_inputs={d}, num_outputs={q}, num_hiddens={h}, lr=0.1)",
                  fns["MLPScratch"], num_inputs=d, num_outputs=q, num_hiddens=h, lr=0.1)
    if not isinstance(model, torch.nn.Module):
        raise ProbeError("MLPScratch(...) must build an nn.Module (subclass d2l.Classifier).")
    names = ("W1", "b1", "W2", "b2")
    registered_ids = {id(p) for p in model.parameters()}
    shapes: dict[str, tuple[int, ...] | None] = {}
    registered: dict[str, bool] = {}
    for name in names:
        value = getattr(model, name, None)
        is_tensor = isinstance(value, _Tensor)
        shapes[name] = tuple(value.shape) if is_tensor else None
        registered[name] = is_tensor and id(value) in registered_ids
    out: dict[str, Any] = {"shapes": shapes, "registered": registered,
                           "submodules": [f"self.{n}: {_type(m).__module__}.{_type(m).__qualname__}"
                                          for n, m in model.named_children()]}
    rec = _Recorder()
    n = images.shape[0]
    out["O_image_shape"] = out["O_flat_shape"] = None
    try:
        O = _forward(model, torch.tensor(images), "forward(X) on n x 1 x 28 x 28 images", rec)
        out["O_image_shape"] = tuple(O.shape) if isinstance(O, _Tensor) else None
        O = _forward(model, torch.tensor(images.reshape(n, -1)), "forward(X) on n x d rows", rec)
        out["O_flat_shape"] = tuple(O.shape) if isinstance(O, _Tensor) else None
    except ProbeError as err:
        out["forward_error"] = str(err)
    out["intermediate_shapes"] = rec.shapes
    out["calls"] = rec.names
    out["nonlinear"] = _nonlinear_outputs(model, inputs["nonlin"], "MLPScratch", scratch=True)
    return out


def _nonlinear_outputs(model: torch.nn.Module, nonlin: Mapping[str, np.ndarray], what: str,
                       scratch: bool) -> dict[str, np.ndarray] | str:
    """O for each parameter setting, or the student's error as a string."""
    results: dict[str, np.ndarray] = {}
    try:
        for setting, b2 in (("plain", nonlin["b2"]), ("shifted", nonlin["b2_shifted"])):
            values = {"W1": nonlin["W1"], "b1": nonlin["b1"], "W2": nonlin["W2"], "b2": b2}
            if scratch:
                _set_params(model, values)
            else:
                _set_linear_layers(model, values)
            O = _forward(model, torch.tensor(nonlin["X"]), f"{what}.forward(X)")
            results[setting] = to_numpy(O, f"{what}'s output O")
    except (ProbeError, RuntimeError, AttributeError, TypeError, ValueError) as err:
        return str(err)
    return results


def _linear_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in model.modules() if isinstance(m, torch.nn.Linear)]


def _set_linear_layers(model: torch.nn.Module, values: Mapping[str, np.ndarray]) -> None:
    layers = _linear_layers(model)
    if len(layers) != 2:
        raise ProbeError(f"MLP.net must have two linear layers; it has {len(layers)}.")
    with _no_grad():
        for layer, (w, b) in zip(layers, (("W1", "b1"), ("W2", "b2")), strict=True):
            layer.weight.copy_(torch.tensor(values[w]).T.to(layer.weight.dtype))
            layer.bias.copy_(torch.tensor(values[b]).reshape(-1).to(layer.bias.dtype))


def probe_concise(unit: Unit, fns: Mapping[str, Any], inputs: Mapping[str, Any],
                  ctx: ProbeContext) -> dict[str, Any]:
    """Layer structure of MLP.net after one forward pass, and outputs on the non-linearity inputs."""
    h, q = int(inputs["h"]), int(inputs["q"])
    model = _call(f"MLP(num_outputs={q}, num_hiddens={h}, lr=0.1)", fns["MLP"], num_outputs=q, num_hiddens=h,
                  lr=0.1)
    if not isinstance(model, torch.nn.Module):
        raise ProbeError("MLP(...) must build an nn.Module (subclass d2l.Classifier).")
    O = _forward(model, torch.tensor(inputs["images"]), "MLP.forward(X) on n x 1 x 28 x 28 images")
    leaves = [m for m in model.modules() if not list(m.children())]
    activations = [_type(m).__name__ for m in leaves
                   if not isinstance(m, torch.nn.Linear | torch.nn.Flatten | torch.nn.Dropout | torch.nn.Identity)]
    return {
        "O_shape": tuple(O.shape) if isinstance(O, _Tensor) else None,
        "linear_shapes": [tuple(m.weight.shape) for m in _linear_layers(model)],
        "has_flatten": any(isinstance(m, torch.nn.Flatten) for m in leaves),
        "activations": activations,
        "nonlinear": _nonlinear_outputs(model, inputs["nonlin"], "MLP", scratch=False),
    }


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
    model = _call(f"{what}(...)", make_model)
    if not isinstance(model, torch.nn.Module):
        raise ProbeError(f"{what}(...) must build an nn.Module.")
    _call(f"{what}.to({device})", model.to, device)
    X = train_X.to(device)
    y = train_y.to(device)
    with _no_grad():  # materialises lazy layers before the optimiser sees the parameters
        _forward(model, X[:2], f"{what}.forward(X)")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ProbeError(f"{what} has no trainable parameters (model.parameters() is empty): "
                         f"make W1, b1, W2, b2 nn.Parameter attributes.")
    dtype = _param_dtype(model)
    X = X.to(dtype)
    opt = _SGD(params, lr=budget.lr)
    n = X.shape[0]
    gen = torch.Generator(device="cpu").manual_seed(budget.seed)

    def predict(images: torch.Tensor) -> np.ndarray:
        chunks = []
        with _no_grad():
            for i in range(0, images.shape[0], 2500):
                out = _forward(model, images[i:i + 2500].to(device), f"{what}.forward(X)")
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
            out = _call(f"{what}.forward(X)", model, X[idx])
            if not isinstance(out, _Tensor):
                raise ProbeError(f"{what}.forward(X) must return a tensor O.")
            loss = _cross_entropy(out, y[idx])
            opt.zero_grad()
            _call(f"backward through {what}", loss.backward)
            opt.step()
            total += float(_detach(loss))
            batches += 1
        losses.append(total / max(batches, 1))
        if progress is not None:
            progress(f"{what}: epoch {epoch + 1}/{budget.epochs}, loss {losses[-1]:.3f}")
    assert images is not None
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
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    chunks = []
    with _no_grad():
        for i in range(0, images.shape[0], 2500):
            out = _call(f"{what}.forward(X)", model, images[i:i + 2500].to(device=device, dtype=_param_dtype(model)))
            chunks.append(to_numpy(out, f"{what}'s output O"))
    return {"name": name, "logits": np.concatenate(chunks)}


#: Every probe by the name the registry (`mlp_lab.questions.Unit.probe`) gives it.
PROBES: dict[str, Callable[..., dict[str, Any]]] = {
    f.__name__: f for f in (probe_activation, probe_plot, probe_affine_collapse, probe_scratch, probe_concise,
                            probe_training, probe_trained)
}
