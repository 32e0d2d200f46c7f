"""What every probe shares: the torch originals, how a student's value becomes a number, the recorder.

This module runs where student code runs (the sandboxed child, or the student's own kernel).  The
torch functions the probes rely on are taken when it is imported, before any student code runs, so
that a submission that later monkeypatches torch cannot change how the probes read its results.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

__all__ = ["FORBIDDEN_RUNTIME", "ProbeContext", "ProbeError", "Recorder", "autograd_on", "call", "forward", "load",
           "param_device", "param_dtype", "to_numpy"]

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


def call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise ProbeError(f"{what} raised NotImplementedError: its answer cell still holds "
                         "`raise NotImplementedError()`; replace that line with your code.") from None
    except Exception as exc:  # the student's error, reported to the student
        raise ProbeError(f"{what} raised {_type(exc).__name__}: {exc}") from None


class Recorder(TorchFunctionMode):
    """Records the torch functions called, and the shapes of the tensors they return."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.shapes: list[tuple[int, ...]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        # `torch.ops.aten.relu.default` is named "relu.default": the op's name is before the dot.
        name = (getattr(func, "__name__", "") or "").split(".")[0]
        if name in FORBIDDEN_RUNTIME:
            module = getattr(func, "__module__", None) or "torch"
            self.names.append(f"{module}.{name}")
        out = func(*args, **(kwargs or {}))
        if isinstance(out, _Tensor):
            self.shapes.append(tuple(out.shape))
        return out


@dataclass
class ProbeContext:
    """What a probe may need besides the student's names and the unit's inputs.

    `train` and `test_images` are callables so that the data is loaded only by the units that train.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    train: Callable[[], tuple[torch.Tensor, torch.Tensor]] | None = None
    test_images: Callable[[], torch.Tensor] | None = None
    progress: Callable[[str], None] | None = None




@contextlib.contextmanager
def autograd_on() -> Iterator[None]:
    """Whatever grad mode a cell left on (no_grad, inference mode), a probe needs autograd."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def param_dtype(model: torch.nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def param_device(model: torch.nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def forward(model: torch.nn.Module, X: torch.Tensor, what: str, rec: Recorder | None = None) -> Any:
    """model(X), with X on the model's device and in its parameters' dtype (an honest float64 model)."""
    X = _to(X, device=param_device(model), dtype=param_dtype(model))
    if rec is None:
        return call(what, model, X)
    with rec:
        return call(what, model, X)


def load(target: Any, value: np.ndarray, what: str) -> str:
    """Copy the grader's `value` into the student's tensor `target`, in the lecture's layout if it can.

    Returns how: "exact", "reshaped" (a bias stored as (h,) or (1, h)) or "transposed" (a weight stored
    h x d).  ProbeError when `target` is no tensor or no layout fits.
    """
    if not isinstance(target, _Tensor):
        raise ProbeError(f"{what} is not a tensor attribute (it is a {_type(target).__name__}).")
    src = torch.tensor(value)
    shape = tuple(target.shape)
    if shape == tuple(src.shape):
        how = "exact"
    elif target.numel() == src.numel() and (src.ndim == 2 and 1 in src.shape):
        how, src = "reshaped", src.reshape(shape)
    elif src.ndim == 2 and shape == tuple(src.shape)[::-1]:
        how, src = "transposed", src.T
    else:
        dims = " x ".join(map(str, shape)) or "a scalar"
        raise ProbeError(f"{what} is {dims}, which no layout of the lecture's {' x '.join(map(str, src.shape))} fits.")
    with _no_grad():
        target.copy_(src)
    return how
