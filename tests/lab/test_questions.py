"""The registry: each question one object, each unit one object, and everything consistent with the probes."""

from __future__ import annotations

import numpy as np
import pytest

from mlp_lab import probes
from mlp_lab.questions import (
    MAX_SCORE,
    QUESTION_IDS,
    QUESTIONS,
    UNITS,
    Evidence,
    UnitMissing,
    question,
    unit,
    units_for,
)


def test_points_add_up_to_100_and_ids_are_unique() -> None:
    assert MAX_SCORE == 100 == sum(q.points for q in QUESTIONS)
    assert len(set(QUESTION_IDS)) == len(QUESTIONS)
    assert len({u.id for u in UNITS}) == len(UNITS)


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_every_question_names_units_the_registry_has(q) -> None:  # type: ignore[no-untyped-def]
    for unit_id in (*q.units, *(q.kernel_units or ())):
        assert unit(unit_id).id == unit_id


@pytest.mark.parametrize("u", UNITS, ids=lambda u: u.id)
def test_every_unit_has_a_probe_and_draws_plain_values(u) -> None:  # type: ignore[no-untyped-def]
    """Does each unit name a real probe, and draw inputs of numpy arrays and numbers only (what crosses)?"""
    assert u.probe in probes.PROBES
    assert u.names and all(name.isidentifier() for name in u.names)
    for drawn in (u.draw(np.random.default_rng(0)), u.visible()):
        for key, value in drawn.items():
            assert isinstance(value, np.ndarray | int | float | dict), (u.id, key, type(value))
    if u.kind == "training":
        assert u.model and u.after, u.id


def test_units_run_cheap_first_and_training_last() -> None:
    order = [u.id for u in units_for(QUESTION_IDS)]
    kinds = [unit(i).kind for i in order]
    assert kinds == sorted(kinds, key=lambda k: k == "training")
    assert [u.id for u in units_for(["relu_grad"])] == ["relu"]
    for u in map(unit, order):  # a unit runs after the units whose failure stops it
        assert all(order.index(prior) < order.index(u.id) for prior in u.after), u.id


def test_the_grader_draws_fresh_sizes() -> None:
    """Is the hidden size h drawn (a hard-coded 256 shows), while the visible check uses the lecture's 256?"""
    sizes = {int(unit("scratch_params").draw(np.random.default_rng(s))["shapes"]["h"]) for s in range(20)}
    assert len(sizes) > 1 and 256 not in sizes
    assert int(unit("scratch_params").visible()["shapes"]["h"]) == 256
    structure = [unit("concise").draw(np.random.default_rng(s))["structure"] for s in range(20)]
    assert all(int(f["q"]) > int(f["h"]) and int(f["q"]) != 10 for f in structure)


def test_evidence_of_a_unit_that_brought_nothing_says_why() -> None:
    ev = Evidence(inputs={}, values={"relu": {"values": 1}}, errors={"sigmoid": "sigmoid raised ValueError: x"})
    assert ev.of("relu") == {"values": 1}
    with pytest.raises(UnitMissing, match="ValueError: x"):
        ev.of("sigmoid")
    with pytest.raises(UnitMissing, match="did not run"):
        ev.of("tanh")


def test_accuracy_gives_each_model_its_own_half() -> None:
    """Does a model that never trained cost only its own 8 of the 16 points?"""
    labels = np.arange(10).repeat(10)
    logits_good = np.eye(10)[labels]
    logits_chance = np.zeros((100, 10))
    run = unit("train_scratch").draw(np.random.default_rng(0))
    ev = Evidence(inputs={"train_scratch": run, "train_concise": run},
                  values={"train_scratch": {"before": logits_chance, "after": logits_good}},
                  errors={"train_concise": "training MLP: it ran longer than 240 s"}, test_labels=labels)
    r = question("accuracy").judge(ev)
    assert not r.passed and r.earned == 0.5
    assert "MLP: training MLP: it ran longer than 240 s" in r.message


def test_unknown_ids_name_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="relu_values"):
        question("relu_value")
    with pytest.raises(KeyError, match="scratch"):
        unit("scratc")
