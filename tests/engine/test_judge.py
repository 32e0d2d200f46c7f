"""From the children's files and the parent's outcomes to a status and points per question."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autograder.engine import judge, wire
from autograder.engine.plan import PlannedCell, Step
from autograder.engine.session import StepOutcome
from mlp_lab.questions import QUESTION_IDS, unit

CELLS = [PlannedCell(3, "cell 3 (relu_code)", "def relu(X): ...")]


def NO_SCAN(names: tuple[str, ...]) -> list[str]:
    return []


def _results(tmp_path: Path, **units: object) -> dict[Step, object]:
    """What the session holds: each finished unit's answer, as the parent decoded it from the wire."""
    return {Step.unit(name): wire.decode(wire.encode(value)) for name, value in units.items()}


def test_each_way_a_unit_fails_gets_its_status(tmp_path: Path) -> None:
    results = _results(tmp_path, relu={"missing": ["relu"]}, sigmoid={"error": "sigmoid raised ValueError: x"},
                       tanh={"values": {"values": np.zeros(3), "grad": np.zeros(3), "calls": []}})
    outcomes = {Step.unit("relu"): StepOutcome("ok"), Step.unit("sigmoid"): StepOutcome("ok"),
                Step.unit("tanh"): StepOutcome("ok"), Step.unit("collapse"): StepOutcome("timeout", "it ran longer than 45 s"),
                Step.unit("scratch"): StepOutcome("crashed", "the process ended (exit status 3)")}
    got = judge.collect(outcomes, results, ["relu", "sigmoid", "tanh", "collapse", "scratch", "concise"], CELLS)
    assert {u: r.status for u, r in got.items()} == {"relu": "missing", "sigmoid": "error", "tanh": "ok",
                                                      "collapse": "timeout", "scratch": "crashed",
                                                      "concise": "crashed"}
    assert "relu is not defined" in got["relu"].message
    assert got["collapse"].message == "checking collapse_affine: it ran longer than 45 s"
    assert got["concise"].message == "concise did not run"


def test_an_answer_that_is_not_what_the_probe_returns_costs_only_its_unit(tmp_path: Path) -> None:
    """A list instead of a mapping, a mapping without the probe's keys, an unreadable answer: each an error."""
    results = _results(tmp_path, relu=[1, 2, 3], sigmoid={"values": {"values": "x", "grad": np.zeros(2)}},
                       tanh={"values": {"values": np.zeros(2), "grad": np.zeros(2), "calls": []}})
    results[Step.unit("collapse")] = wire.WireError("the answer nests deeper than 32 levels")
    ok = {Step.unit(u): StepOutcome("ok") for u in ("relu", "sigmoid", "tanh", "collapse")}
    got = judge.collect(ok, results, ["relu", "sigmoid", "tanh", "collapse"], CELLS)
    assert {u: r.status for u, r in got.items()} == {"relu": "error", "sigmoid": "error", "tanh": "ok",
                                                      "collapse": "error"}
    assert "nests deeper" in got["collapse"].message and "sigmoid sent a str as values" in got["sigmoid"].message


def test_statuses_follow_the_units_a_question_needs(tmp_path: Path) -> None:
    """Timed-out unit -> timeout, crashed -> error, not defined -> failed with the cell's error attached."""
    units = {"relu": judge.UnitResult("timeout", {}, "checking relu: it ran longer than 45 s"),
             "collapse": judge.UnitResult("crashed", {}, "checking collapse_affine: the process ended"),
             "sigmoid": judge.UnitResult("missing", {}, "sigmoid is not defined."),
             "tanh": judge.UnitResult("missing", {}, "tanh is not defined.")}
    inputs = {u: unit(u).draw(np.random.default_rng(0)) for u in units}
    results = {r.id: r for r in judge.judge(["relu_values", "affine_collapse", "sigmoid_tanh"], inputs, units, NO_SCAN,
                                            np.zeros(0), notes=["cell 3 (relu_code) raised SyntaxError"])}
    assert [r.id for r in results.values()] == list(QUESTION_IDS)
    assert results["relu_values"].status == "timeout" and "45 s" in results["relu_values"].message
    assert results["affine_collapse"].status == "error"
    assert results["sigmoid_tanh"].status == "failed" and "SyntaxError" in results["sigmoid_tanh"].message
    assert results["param_shapes"].message == "not graded in this run" and results["param_shapes"].score == 0


def test_a_value_the_check_cannot_use_costs_only_that_question(tmp_path: Path) -> None:
    units = {"relu": judge.UnitResult("ok", {"values": "not an array", "grad": np.zeros((6, 20))})}
    inputs = {"relu": unit("relu").draw(np.random.default_rng(0))}
    results = {r.id: r for r in judge.judge(["relu_values", "relu_grad"], inputs, units, NO_SCAN, np.zeros(0), [])}
    assert results["relu_values"].status == "failed" and results["relu_values"].score == 0
    assert results["relu_grad"].status == "failed"  # a zero gradient is wrong for x > 0, and says so
    assert "x > 0" in results["relu_grad"].message
