"""The static from-scratch scan: built-in activations are found however they are imported."""

from __future__ import annotations

import pytest

from autograder.course.examples import solution_code
from mlp_lab.questions import GRADED_FROM_SCRATCH
from mlp_lab.scratch import Cell, scan_from_scratch
from mlp_lab.source import python_source

HONEST = solution_code()


def _scan(*sources: str) -> list[str]:
    return scan_from_scratch([Cell(f"cell {i}", s) for i, s in enumerate(sources, start=1)], GRADED_FROM_SCRATCH)


def test_honest_code_has_no_findings() -> None:
    assert _scan(HONEST) == []


@pytest.mark.parametrize("cheat", [
    "import torch\ndef relu(X):\n    return torch.relu(X)",
    "import torch.nn.functional as F\ndef relu(X):\n    return F.relu(X)",
    "from torch.nn.functional import relu as r\ndef relu(X):\n    return r(X)",
    "from torch import sigmoid as s\ndef sigmoid(X):\n    return s(X)",
    "import torch\nact = torch.tanh\ndef tanh(X):\n    return act(X)",
    "def tanh(X):\n    return X.tanh()",
    "import torch\ndef relu(X):\n    return getattr(torch, 'relu')(X)",
    "import torch\nrelu = torch.relu",
    "import torch\nfrom torch import nn\nclass MLPScratch:\n    def __init__(self):\n        self.lin = nn.Linear(784, 10)",
    "import torch\nclass MLPScratch:\n    def forward(self, X):\n        return torch.nn.functional.linear(X, self.W1)",
    "import torch as T\ndef sigmoid(X):\n    return T.special.expit(X)",
])
def test_builtin_activation_is_found_however_imported(cheat: str) -> None:
    """Is each way of reaching a built-in activation or layer reported?"""
    assert _scan(cheat), f"not caught:\n{cheat}"


def test_imports_in_an_earlier_cell_are_followed() -> None:
    findings = _scan("import torch.nn.functional as F", "def relu(X):\n    return F.relu(X)")
    assert findings and "cell 2" in findings[0] and "torch.nn.functional.relu" in findings[0]


def test_magics_do_not_break_parsing() -> None:
    assert python_source("%matplotlib inline\nx = 1\n!ls").split("\n")[1] == "x = 1"  # line numbers kept
    assert _scan("%matplotlib inline\nimport torch\ndef relu(X):\n    return torch.relu(X)")
