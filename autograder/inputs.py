"""The grader's inputs: drawn fresh for every grading, in the parent, with numpy only.

Probes (`probes`) feed these to the student's code; checks (`checks`) judge what comes back.
Inputs are random per grading, so an answer keyed on the inputs cannot be hard-coded.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["affine_collapse_inputs", "draw_inputs", "nonlinear_inputs", "relu_inputs", "sigmoid_tanh_inputs"]




def relu_inputs(rng: np.random.Generator) -> np.ndarray:
    """A 2-D grid with exact zeros, tiny values of both signs and random values in [-8, 8]."""
    special = np.array([0.0, 0.0, -0.0, 1e-6, -1e-6, 1.0, -1.0, 7.5, -7.5, 0.1])
    x = np.concatenate([special, rng.uniform(-8, 8, size=110)]).astype(np.float32)
    return rng.permutation(x).reshape(6, 20)


def sigmoid_tanh_inputs(rng: np.random.Generator) -> np.ndarray:
    """Values up to |x| = 100 (where exp overflows in float32), 0 and random values in [-10, 10]."""
    special = np.array([-100.0, -88.5, -50.0, -20.0, -1.0, 0.0, 1.0, 20.0, 50.0, 88.5, 100.0])
    return np.concatenate([special, rng.uniform(-10, 10, size=89)]).astype(np.float32)


def affine_collapse_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    d, h, q = (int(v) for v in rng.choice(np.arange(3, 12), size=3, replace=False))
    return {
        "W1": rng.normal(size=(d, h)).astype(np.float32), "b1": rng.normal(size=(1, h)).astype(np.float32),
        "W2": rng.normal(size=(h, q)).astype(np.float32), "b2": rng.normal(size=(1, q)).astype(np.float32),
        "X": rng.normal(size=(16, d)).astype(np.float32),
    }


def nonlinear_inputs(rng: np.random.Generator, d: int, h: int, q: int, n: int = 256, k: int = 6) -> dict[str, np.ndarray]:
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


def draw_inputs(rng: np.random.Generator, n_images: int = 5) -> dict[str, Any]:
    """Every input the probes will see.  h is drawn too, so a hard-coded 256 shows."""
    h = int(rng.choice([48, 64, 96, 128, 160]))
    d, q = 784, 10
    return {
        "relu_x": relu_inputs(rng),
        "st_x": sigmoid_tanh_inputs(rng),
        "plot_x": np.linspace(-8, 8, 161).astype(np.float32),
        "collapse": affine_collapse_inputs(rng),
        "dims": {"d": d, "h": h, "q": q},
        "nonlin": nonlinear_inputs(rng, d, h, q),
        "images": rng.uniform(0, 1, size=(n_images, 1, 28, 28)).astype(np.float32),
    }
