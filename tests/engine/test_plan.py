"""The typed messages between the parent and a child: they serialise themselves and refuse junk."""

from __future__ import annotations

import pytest

from autograder.engine.plan import ChildLimits, Plan, PlannedCell, Step


def test_steps_print_and_parse_back() -> None:
    for step in (Step("startup"), Step("done"), Step.cell(12), Step.unit("train_scratch")):
        assert Step.parse(str(step)) == step
    assert str(Step.cell(3)) == "cell:3" and str(Step.unit("relu")) == "unit:relu"


@pytest.mark.parametrize("junk", ["", "cell", "unit:", "startup:1", "E unit:relu", "x" * 500, "cell:1\n"])
def test_junk_is_not_a_step(junk: str) -> None:
    with pytest.raises(ValueError, match="not a step"):
        Step.parse(junk)


def test_a_plan_round_trips_through_json() -> None:
    plan = Plan(cells=[PlannedCell(2, "cell 2 (imports)", "import torch")], units=["relu", "train_scratch"],
                device="cpu", threads=1, data_dir="/d", work_dir="/w",
                limits=ChildLimits(address_space=1, file_size=2, open_files=3, cpu_seconds=4),
                read_only=["/usr"], read_write=["/w"], denied=["/root"], skip=["cell:2"])
    assert Plan.from_json(plan.to_json()) == plan
    assert plan.steps() == [Step.cell(2), Step.unit("relu"), Step.unit("train_scratch")]
