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
    "TRAINING_RUN",
    "activation_inputs",
    "affine_collapse_inputs",
    "describe_training",
    "mlp_inputs",
    "no_inputs",
    "nonlinear_inputs",
    "plot_inputs",
    "relu_inputs",
    "sigmoid_tanh_inputs",
    "training_inputs",
    "visible_affine_collapse",
    "visible_mlp",
    "visible_plot",
    "visible_relu",
    "visible_sigmoid_tanh",
]

Inputs = dict[str, Any]

NUM_INPUTS = 784  # d: a 28 x 28 image, flattened
NUM_OUTPUTS = 10  # q: the ten Fashion-MNIST classes
IMAGE_SHAPE = (1, 28, 28)
# The hidden sizes the grader draws h from, so that a hard-coded 256 shows.
HIDDEN_SIZES = (48, 64, 96, 128, 160)


# --- activations ---------------------------------------------------------------------------------


def relu_inputs(rng: np.random.Generator) -> Inputs:
    """A 2-D grid with exact zeros, tiny values of both signs and random values in [-8, 8]."""
    special = np.array([0.0, 0.0, -0.0, 1e-6, -1e-6, 1.0, -1.0, 7.5, -7.5, 0.1])
    x = np.concatenate([special, rng.uniform(-8, 8, size=110)]).astype(np.float32)
    return {"X": rng.permutation(x).reshape(6, 20)}


def sigmoid_tanh_inputs(rng: np.random.Generator) -> Inputs:
    """Values up to |x| = 100 (where exp overflows in float32), 0 and random values in [-10, 10]."""
    special = np.array([-100.0, -88.5, -50.0, -20.0, -1.0, 0.0, 1.0, 20.0, 50.0, 88.5, 100.0])
    return {"X": np.concatenate([special, rng.uniform(-10, 10, size=89)]).astype(np.float32)}


def activation_inputs(name: str) -> Any:
    """The drawing function for activation `name` (relu has its own grid, sigmoid and tanh share one)."""
    return relu_inputs if name == "relu" else sigmoid_tanh_inputs


def visible_relu() -> Inputs:
    return {"X": np.array([[-3.0, -0.5, 0.0], [0.25, 2.0, -1e-6], [-2.0, 0.5, 3.0]], dtype=np.float32)}


def visible_sigmoid_tanh() -> Inputs:
    return {"X": np.array([-100.0, -20.0, -1.0, 0.0, 0.5, 20.0, 100.0], dtype=np.float32)}


def plot_inputs(rng: np.random.Generator | None = None) -> Inputs:
    """The lecture's plotting grid, [-8, 8] in steps of 0.1 (for the feedback pictures)."""
    return {"X": np.linspace(-8, 8, 161).astype(np.float32)}


def visible_plot() -> Inputs:
    return plot_inputs()


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


def _mlp(rng: np.random.Generator, h: int, n_images: int) -> Inputs:
    d, q = NUM_INPUTS, NUM_OUTPUTS
    nonlin = nonlinear_inputs(rng, d, h, q)
    return {"d": d, "h": h, "q": q,
            "images": rng.uniform(0, 1, size=(n_images, *IMAGE_SHAPE)).astype(np.float32),
            "nonlin": nonlin}


def mlp_inputs(rng: np.random.Generator, n_images: int = 5) -> Inputs:
    """Sizes (h drawn, so a hard-coded 256 shows), images, and the non-linearity inputs."""
    return _mlp(rng, int(rng.choice(HIDDEN_SIZES)), n_images)


def visible_mlp() -> Inputs:
    return _mlp(np.random.default_rng(0), 256, 5)


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
