"""The MLP lab's student kit: what the notebook imports, and everything the grader shares with it.

    from mlp_lab import FashionMNISTData, check

* `FashionMNISTData`: Fashion-MNIST for `d2l.Trainer`, served from memory (`mlp_lab.datamodule`);
  `load_fashion_mnist` finds, verifies and caches the dataset offline (`mlp_lab.data`);
* `check(question_id, globals())`: a grade cell's visible checks (`mlp_lab.visible`).

The rest is the machinery the grader runs with it, so that a visible check and the grader judge the
same way: the question registry (`questions`), the inputs (`inputs`), the probes that call the
student's code (`probes`), the pure checks (`checks`) and the from-scratch scan (`scratch`).
It imports torch, d2l and numpy only, and never the grader (`autograder`).  Names are loaded on
first use, so `import mlp_lab.checks` (numpy only) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["CheckFailed", "CheckResult", "DataError", "FashionMNISTData", "LabError", "check", "load_fashion_mnist"]

# The names a student's notebook imports from the kit (`from mlp_lab import ...`); the grader's
# integrity gate allows exactly these.
STUDENT_NAMES = ("FashionMNISTData", "check")

_WHERE = {
    "CheckFailed": "errors", "DataError": "errors", "LabError": "errors", "CheckResult": "checks",
    "FashionMNISTData": "datamodule", "load_fashion_mnist": "data", "check": "visible",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
