"""From what the children brought back to a verdict per question, computed in the parent with numpy.

`collect` reads each unit's result file (plain values, checked by `wire`) and turns every way a unit
can fail (not defined, raised, timed out, crashed, skipped) into a `UnitResult` with a message for the
student.  `judge` calls each question's judge from the registry on that evidence and gives the
question its status: `timeout` or `error` when a unit it needs timed out or crashed, else `passed` or
`failed`.  `artifacts` gathers what the feedback pages draw (curves, activations, accuracies).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from mlp_lab.checks import CheckResult, accuracy
from mlp_lab.questions import QUESTIONS, Evidence, UnitMissing, unit

from ..report import QuestionResult
from . import wire
from .plan import PlannedCell, Step
from .session import StepOutcome

__all__ = ["UnitResult", "UnitStatus", "artifacts", "cell_notes", "collect", "judge"]

UnitStatus = Literal["ok", "error", "timeout", "crashed", "missing"]


@dataclass(frozen=True)
class UnitResult:
    """What one unit brought back: plain values, or the status and message of why not."""

    status: UnitStatus
    values: Mapping[str, Any]
    message: str = ""


def _describe(step: Step, outcome: StepOutcome, labels: Mapping[int, str]) -> str:
    what = labels.get(int(step.name), str(step)) if step.kind == "cell" else unit(step.name).what
    return f"{what}: {outcome.message}"


def cell_notes(outcomes: Mapping[Step, StepOutcome], results: Mapping[Step, Any],
               cells: Sequence[PlannedCell]) -> list[str]:
    """One line per cell that failed: killed by the parent, or raised an error in the child."""
    labels = {c.index: c.label for c in cells}
    notes: list[str] = []
    for c in cells:
        step = Step.cell(c.index)
        outcome = outcomes.get(step)
        if outcome is not None and outcome.status != "ok":
            notes.append(_describe(step, outcome, labels))
            continue
        answer = results.get(step)
        err = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(err, str) and err:
            notes.append(f"{c.label} raised {err[:300]}")
    return notes


def collect(outcomes: Mapping[Step, StepOutcome], results: Mapping[Step, Any], unit_ids: Sequence[str],
            cells: Sequence[PlannedCell]) -> dict[str, UnitResult]:
    """Each planned unit's result, from the parent's view of its step and the answer the child sent."""
    labels = {c.index: c.label for c in cells}
    out: dict[str, UnitResult] = {}
    for u in unit_ids:
        step = Step.unit(u)
        outcome = outcomes.get(step)
        if outcome is None or outcome.status != "ok":
            status: UnitStatus = "timeout" if outcome is not None and outcome.status == "timeout" else "crashed"
            message = _describe(step, outcome, labels) if outcome else f"{u} did not run"
            out[u] = UnitResult(status, {}, message)
            continue
        raw = results.get(step)
        if isinstance(raw, wire.WireError):
            out[u] = UnitResult("error", {}, f"the result was unreadable ({raw})")
        elif not isinstance(raw, dict):
            out[u] = UnitResult("error", {}, "the result was unreadable")
        elif "missing" in raw:
            names = ", ".join(str(n) for n in raw["missing"])[:200] if isinstance(raw["missing"], list) else "a name"
            out[u] = UnitResult("missing", {}, f"{names} is not defined. Run every cell from the top; a cell "
                                "that raised an error defines nothing after the error.")
        elif "error" in raw:
            out[u] = UnitResult("error", {}, str(raw["error"])[:2000])
        else:
            values = raw.get("values")
            problem = unit(u).returns_problem(values)
            out[u] = (UnitResult("error", {}, f"the result was unreadable ({problem})") if problem
                      else UnitResult("ok", values))
    return out


def judge(wanted: Sequence[str], unit_inputs: Mapping[str, Mapping[str, Any]], units: Mapping[str, UnitResult],
          scan: Callable[[tuple[str, ...]], Sequence[str]], test_labels: np.ndarray,
          notes: Sequence[str]) -> list[QuestionResult]:
    """A result for every question; those not in `wanted` are "not graded in this run".

    `scan(names)` is the from-scratch scan of the source for those names (a question's scratch_names).
    """
    base = Evidence(inputs=unit_inputs, values={u: r.values for u, r in units.items() if r.status == "ok"},
                    errors={u: r.message for u, r in units.items() if r.status != "ok"}, test_labels=test_labels)
    results = []
    for q in QUESTIONS:
        if q.id not in wanted:
            results.append(QuestionResult(q.id, 0.0, float(q.points), "error", "not graded in this run"))
            continue
        ev = dataclasses.replace(base, findings=scan(q.scratch_names)) if q.scratch_names else base
        try:
            r = q.judge(ev)
        except UnitMissing as why:
            r = CheckResult(False, str(why))
        except Exception as err:  # a malformed value from the child must cost only this question
            r = CheckResult(False, f"the values your code returned could not be checked ({err})")
        needed = [units[u] for u in q.units if u in units]
        timed_out = any(n.status == "timeout" for n in needed)
        status = "passed" if r.passed else ("timeout" if timed_out else
                                            "error" if any(n.status in ("crashed", "error") for n in needed)
                                            else "failed")
        message = r.message
        # Cell errors explain a name that is not defined; for any other failure they are noise.
        if not r.passed and notes and any(n.status == "missing" for n in needed):
            message += " [" + "; ".join(notes[:3]) + "]"
        results.append(QuestionResult(q.id, round(q.points * r.earned, 4), float(q.points), status, message))
    return results


def artifacts(units: Mapping[str, UnitResult], test_labels: np.ndarray) -> dict[str, Any]:
    """What the feedback pages draw: activation samples, training curves, test accuracies."""
    art: dict[str, Any] = {}
    activations: dict[str, Any] = {}
    for name in ("relu", "sigmoid", "tanh"):
        data = units.get(name)
        plot = data.values.get("plot") if data is not None and data.status == "ok" else None
        if isinstance(plot, dict) and {"x", "values", "grad"} <= set(plot):
            activations["x"] = np.asarray(plot["x"], dtype=float).ravel().tolist()
            activations[name] = np.asarray(plot["values"], dtype=float).ravel().tolist()
            activations[f"{name}_grad"] = np.asarray(plot["grad"], dtype=float).ravel().tolist()
    if activations:
        art["activations"] = activations
    curves, accs = {}, {}
    for u, data in units.items():
        model = unit(u).model
        if unit(u).kind != "training" or model is None or data.status != "ok" or "train_loss" not in data.values:
            continue
        curves[model] = {"train_loss": np.asarray(data.values["train_loss"]).tolist()}
        after = np.asarray(data.values.get("after"))
        if after.ndim == 2 and after.shape[0] == test_labels.shape[0]:
            accs[model] = round(accuracy(after, test_labels), 4)
    if curves:
        art["curves"] = curves
    if accs:
        art["accuracy"] = accs
    return art
