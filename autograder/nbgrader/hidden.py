"""The notebook's hidden tests: the grader's kind of inputs, run inside the student's own kernel.

Used by the hidden-test region of each grade cell in `source/mlp/mlp.ipynb`::

    from autograder.nbgrader import require
    require("relu_grad", globals())

`require` runs the question's probes and judge exactly as the visible checks do (`mlp_lab.visible`),
but on inputs drawn like the grader's (other sizes, exact zeros, |x| up to 100, a drawn hidden size)
from a fixed seed, prints one line on success and raises `CheckFailed` with the student's message on
failure.

This path is as trustworthy as the student's kernel, that is, not at all: the authoritative grade
comes from `autograder grade` / `grade-all`, which run the same probes and judges out of process on
inputs drawn fresh for every grading, and `grade-all --nbgrader` lists every disagreement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mlp_lab.checks import CheckResult
from mlp_lab.errors import CheckFailed
from mlp_lab.questions import Unit
from mlp_lab.visible import evaluate

__all__ = ["SEED", "hidden_check", "require"]

SEED = 20231


def hidden_check(qid: str, namespace: Mapping[str, Any], *, seed: int = SEED) -> CheckResult:
    """The verdict on `qid` for the names in `namespace`, on inputs drawn like the grader's from `seed`."""
    rng = np.random.default_rng(seed)

    def drawn(u: Unit) -> dict[str, Any]:
        return u.draw(rng)

    return evaluate(qid, namespace, drawn)


def require(qid: str, namespace: Mapping[str, Any], *, seed: int = SEED) -> None:
    """Pass silently but for one line, or raise CheckFailed with the student's message."""
    result = hidden_check(qid, namespace, seed=seed)
    if not result.passed:
        raise CheckFailed(f"[{qid}] {result.message}")
    print(f"[{qid}] {result.message}")
