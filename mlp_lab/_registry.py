"""The registry's types: a probe `Unit`, a `Question`, and the `Evidence` a judge reads.

The registry itself, every unit and question of the lab, is `mlp_lab.questions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .checks import CheckResult

__all__ = ["Draw", "Evidence", "Question", "Unit", "UnitMissing", "Visible"]

Draw = Callable[[np.random.Generator], dict[str, Any]]
Visible = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Unit:
    """One probe of the student's code.

    `probe` names a function of `mlp_lab.probes`; `options` are passed to it as they are.  `kind`
    chooses the time budget: a probe gets `budget` seconds (an honest one takes milliseconds; the
    budget only bounds a hang), a training unit the grader's training limit.  `after`
    lists units that call the same student code first: when one of them timed out or crashed, this
    unit is not started (a forward that hangs costs its own probe's seconds, not a training run).
    `model` names the student's class a training unit trains (the unit -> model mapping, once).
    """

    id: str
    names: tuple[str, ...]
    probe: str
    draw: Draw
    visible: Visible
    kind: Literal["probe", "training"] = "probe"
    budget: float = 8.0
    options: Mapping[str, Any] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    model: str | None = None
    # What the probe returns, as the parent checks it before any judge sees it: key -> kind, one of
    # "array" (numbers), "shape" (a list of ints or None), "list", "dict", "str", "bool", "number".
    returns: Mapping[str, str] = field(default_factory=dict)

    def returns_problem(self, values: Any) -> str | None:
        """Why `values` is not what this unit's probe returns, or None when it is."""
        if not isinstance(values, dict):
            return f"{self.id} sent {type(values).__name__}, not a mapping"
        for key, kind in self.returns.items():
            if key not in values:
                return f"{self.id} sent no {key}"
            if not _KINDS[kind](values[key]):
                return f"{self.id} sent a {type(values[key]).__name__} as {key}, not a {kind}"
        return None

    @property
    def what(self) -> str:
        """How a message names this unit's work: "training MLPScratch", "checking relu"."""
        return f"training {self.model}" if self.kind == "training" else f"checking {', '.join(self.names)}"


def _is_shape(v: Any) -> bool:
    return v is None or (isinstance(v, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in v))


_KINDS: dict[str, Callable[[Any], bool]] = {
    "array": lambda v: isinstance(v, np.ndarray) and v.dtype.kind in "biuf",
    "shape": _is_shape,
    "list": lambda v: isinstance(v, list),
    "dict": lambda v: isinstance(v, dict),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


class UnitMissing(Exception):
    """A unit a judge needs brought back no values; the message says why (for the student)."""


@dataclass(frozen=True)
class Evidence:
    """What a judge sees: per unit, the inputs drawn for it and the plain values its probe returned.

    `errors` holds, for each unit that brought back nothing, the reason; `test_labels` are the
    test labels in the order the test images were given (the grader keeps them in its own process);
    `findings` are the from-scratch scan's findings for the question's `scratch_names`.
    """

    inputs: Mapping[str, Mapping[str, Any]]
    values: Mapping[str, Mapping[str, Any]]
    errors: Mapping[str, str] = field(default_factory=dict)
    test_labels: np.ndarray | None = None
    findings: Sequence[str] = ()

    def of(self, unit_id: str) -> Mapping[str, Any]:
        """The values of `unit_id`; `UnitMissing` with the reason when it brought back none."""
        if unit_id in self.values:
            return self.values[unit_id]
        raise UnitMissing(self.errors.get(unit_id) or f"{unit_id} did not run")


@dataclass(frozen=True)
class Question:
    id: str
    points: float
    title: str
    units: tuple[str, ...]
    judge: Callable[[Evidence], CheckResult]
    # In the student's own kernel (visible checks, nbgrader's hidden tests) a question may need other
    # units than in the grader: the accuracy of the models the notebook trained, not a training run.
    kernel_units: tuple[str, ...] | None = None
    kernel_judge: Callable[[Evidence], CheckResult] | None = None
    # What the grader checks and on what evidence, in a sentence (the README's points table shows it).
    evidence: str = ""
    # The names this question requires written from scratch: the judge then reads the from-scratch scan
    # of everything they reach in the student's source (`Evidence.findings`).
    scratch_names: tuple[str, ...] = ()
