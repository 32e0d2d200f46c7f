"""The inputs the student's code is probed on, with numpy only.

Two kinds for every probe unit (`questions.UNITS` names the function of each):

* drawn ones (`*_inputs(rng)`): the grader draws them fresh for every grading, in its own process,
  so an answer keyed on the inputs cannot be hard-coded; the in-kernel hidden tests draw them from a
  fixed seed;
* visible ones (`visible_*()`): small fixed inputs for the notebook's visible checks, the ones a
  student can reason about by hand.

Every function returns a plain dict of numpy arrays and Python numbers (what crosses to the child).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "HIDDEN_SIZES",
    "IMAGE_SHAPE",
    "NUM_INPUTS",
    "NUM_OUTPUTS",
    "PLOT_X",
    "TRAINING_RUN",
    "activation_inputs",
    "affine_collapse_inputs",
    "concise_inputs",
    "describe_training",
    "no_inputs",
    "nonlinear_inputs",
    "parameters",
    "relu_inputs",
    "scratch_inputs",
    "shapes_inputs",
    "sigmoid_tanh_inputs",
    "structure_inputs",
    "training_inputs",
    "visible_affine_collapse",
    "visible_concise",
    "visible_relu",
    "visible_scratch",
    "visible_sigmoid_tanh",
]

Inputs = dict[str, Any]

NUM_INPUTS = 784  # d: a 28 x 28 image, flattened
NUM_OUTPUTS = 10  # q: the ten Fashion-MNIST classes
IMAGE_SHAPE = (1, 28, 28)
# The hidden sizes the grader draws h from, so that a hard-coded 256 shows.
HIDDEN_SIZES = (48, 64, 96, 128, 160)


# --- activations ---------------------------------------------------------------------------------


#: The lecture's plotting grid, [-8, 8] in steps of 0.1: each activation is also probed on it, for
#: the feedback pictures.
PLOT_X = np.linspace(-8, 8, 161).astype(np.float32)


def relu_inputs(rng: np.random.Generator) -> Inputs:
    """A 2-D grid with exact zeros, tiny values of both signs and random values in [-8, 8]."""
    special = np.array([0.0, 0.0, -0.0, 1e-6, -1e-6, 1.0, -1.0, 7.5, -7.5, 0.1])
    x = np.concatenate([special, rng.uniform(-8, 8, size=110)]).astype(np.float32)
    return {"X": rng.permutation(x).reshape(6, 20), "plot_X": PLOT_X}


def sigmoid_tanh_inputs(rng: np.random.Generator) -> Inputs:
    """Values up to |x| = 100 (where exp overflows in float32), 0 and random values in [-10, 10]."""
    special = np.array([-100.0, -88.5, -50.0, -20.0, -1.0, 0.0, 1.0, 20.0, 50.0, 88.5, 100.0])
    return {"X": np.concatenate([special, rng.uniform(-10, 10, size=89)]).astype(np.float32), "plot_X": PLOT_X}


def activation_inputs(name: str) -> Any:
    """The drawing function for activation `name` (relu has its own grid, sigmoid and tanh share one)."""
    return relu_inputs if name == "relu" else sigmoid_tanh_inputs


def visible_relu() -> Inputs:
    return {"X": np.array([[-3.0, -0.5, 0.0], [0.25, 2.0, -1e-6], [-2.0, 0.5, 3.0]], dtype=np.float32)}


def visible_sigmoid_tanh() -> Inputs:
    return {"X": np.array([-100.0, -20.0, -1.0, 0.0, 0.5, 20.0, 100.0], dtype=np.float32)}


# --- collapse ----------------------------------------------------------------------------------


def affine_collapse_inputs(rng: np.random.Generator) -> Inputs:
    d, h, q = (int(v) for v in rng.choice(np.arange(3, 12), size=3, replace=False))
    return {
        "W1": rng.normal(size=(d, h)).astype(np.float32), "b1": rng.normal(size=(1, h)).astype(np.float32),
        "W2": rng.normal(size=(h, q)).astype(np.float32), "b2": rng.normal(size=(1, q)).astype(np.float32),
        "X": rng.normal(size=(16, d)).astype(np.float32),
    }


def visible_affine_collapse() -> Inputs:
    return affine_collapse_inputs(np.random.default_rng(0))


# --- the two-layer MLP -------------------------------------------------------------------------


def nonlinear_inputs(rng: np.random.Generator, d: int, h: int, q: int, n: int = 256, k: int = 6) -> Inputs:
    """Inputs X = Z A on a k-dimensional plane of R^d, and two parameter settings for W1, b1, W2, b2.

    Setting "shifted" adds 50 to b2, so every output of a real MLP is positive and a ReLU put after
    the last layer changes nothing.
    """
    Z = rng.normal(size=(n, k))
    A = rng.normal(size=(k, d)) / math.sqrt(k)
    W1 = rng.normal(size=(d, h)) / math.sqrt(d)
    b1 = rng.normal(scale=0.5, size=(1, h))
    W2 = rng.normal(size=(h, q)) / math.sqrt(h)
    f32 = np.float32
    return {"Z": Z, "X": (Z @ A).astype(f32), "W1": W1.astype(f32), "b1": b1.astype(f32),
            "W2": W2.astype(f32), "b2": np.zeros((1, q), f32), "b2_shifted": np.full((1, q), 50.0, f32)}


def parameters(rng: np.random.Generator, d: int, h: int, q: int) -> dict[str, np.ndarray]:
    """W1 (d x h), b1 (1 x h), W2 (h x q), b2 (1 x q), in the lecture's shapes, float32."""
    f32 = np.float32
    return {"W1": (rng.normal(size=(d, h)) / math.sqrt(d)).astype(f32), "b1": rng.normal(scale=0.5, size=(1, h)).astype(f32),
            "W2": (rng.normal(size=(h, q)) / math.sqrt(h)).astype(f32), "b2": rng.normal(scale=0.5, size=(1, q)).astype(f32)}


def structure_inputs(rng: np.random.Generator, n: int = 48, levels: int = 12) -> Inputs:
    """Parameters and inputs that let the grader see H = sigma(X W1 + b1) and O = H W2 + b2 from O alone.

    The sizes are small and q > h, so that W2 (h x q) has full row rank: O - b2 = H W2 pins H down,
    and an O that does not factor through an n x h matrix H shows.  X is solved for, so that every
    pre-activation X W1 + b1 takes one of a few values (`A_index` says which): an activation applied
    elementwise, the same for every unit, gives equal H where X W1 + b1 is equal.
    """
    h = int(rng.integers(6, 13))
    q = h + int(rng.integers(4, 9))
    q += q == NUM_OUTPUTS  # never the real 10, so that a hard-coded num_outputs shows
    params = parameters(rng, NUM_INPUTS, h, q)
    candidates = np.concatenate([np.linspace(-3.0, -0.3, 10), np.linspace(0.3, 3.0, 10)])
    values = np.sort(rng.choice(candidates, size=levels, replace=False))
    index = rng.integers(levels, size=(n, h))
    W1, b1 = params["W1"].astype(np.float64), params["b1"].astype(np.float64)
    X = (values[index] - b1) @ np.linalg.pinv(W1)  # X W1 + b1 = the chosen values, exactly in float64
    return {"d": NUM_INPUTS, "h": h, "q": q, "n": n, **params, "X": X.astype(np.float32),
            "A_index": index.astype(np.int64)}


def shapes_inputs(rng: np.random.Generator, h: int) -> Inputs:
    """The lecture's sizes (h drawn), parameters to load by name, and one SGD step's gradient and rate."""
    d, q = NUM_INPUTS, NUM_OUTPUTS
    params = parameters(rng, d, h, q)
    grads = {f"G_{k}": rng.normal(size=v.shape).astype(np.float32) for k, v in params.items()}
    return {"d": d, "h": h, "q": q, **params, **grads, "lr": 0.5}


def _scratch(rng: np.random.Generator, h: int) -> Inputs:
    return {"shapes": shapes_inputs(rng, h), "structure": structure_inputs(rng),
            "nonlin": nonlinear_inputs(rng, NUM_INPUTS, h, NUM_OUTPUTS)}


def scratch_inputs(rng: np.random.Generator) -> Inputs:
    """For MLPScratch: its parameters by name (h drawn, so a hard-coded 256 shows), its forward's
    structure, and the non-linearity inputs."""
    return _scratch(rng, int(rng.choice(HIDDEN_SIZES)))


def visible_scratch() -> Inputs:
    return _scratch(np.random.default_rng(0), 256)


def concise_inputs(rng: np.random.Generator) -> Inputs:
    """For MLP: the structure inputs, and non-linearity inputs of the same sizes."""
    structure = structure_inputs(rng)
    return {"structure": structure,
            "nonlin": nonlinear_inputs(rng, NUM_INPUTS, int(structure["h"]), int(structure["q"]))}


def visible_concise() -> Inputs:
    return concise_inputs(np.random.default_rng(0))


def no_inputs(rng: np.random.Generator | None = None) -> Inputs:
    """For units that need nothing drawn."""
    return {}


# --- the grader's training run ----------------------------------------------------------------

#: The lecture's lr and batch size, half of d2l's 10 epochs so that grading one submission stays
#: within 30 s on a 2-core runner, and a small last epoch (`final_lr`) that takes SGD's last-iterate
#: noise out of the final accuracy.  `checks.ACCURACY_THRESHOLD` is measured for exactly this run
#: (benchmarks/accuracy_threshold.py).
TRAINING_RUN: dict[str, Any] = {"epochs": 5, "batch_size": 256, "lr": 0.1, "final_lr": 0.01}


def training_inputs(rng: np.random.Generator) -> Inputs:
    """The training run with a seed drawn for this grading (initialisation and minibatch order)."""
    return {**TRAINING_RUN, "seed": int(rng.integers(2**31))}


def describe_training(run: Mapping[str, Any]) -> str:
    return (f"{run['epochs']} epochs of SGD, lr {run['lr']:g} (last epoch {run['final_lr']:g}), "
            f"batch {run['batch_size']}")
