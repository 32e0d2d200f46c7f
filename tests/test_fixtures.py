"""The named fixture submissions (scripts/build_fixtures.py) are what their names say."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.questions import QUESTIONS

ROOT = Path(__file__).resolve().parents[1]


def _load_builder() -> Any:
    spec = importlib.util.spec_from_file_location("build_fixtures", ROOT / "scripts" / "build_fixtures.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


build_fixtures = _load_builder()


@pytest.fixture(scope="module")
def fixtures() -> dict[str, Any]:
    return {f.name: f for f in build_fixtures.build()}


def _code(fixture: Any) -> str:
    nb = nbformat.reads(fixture.content, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_fixture_names_and_expected_points(fixtures: dict[str, Any]) -> None:
    """Are the six fixtures there, with the points each must score?"""
    full = {q.id: float(q.points) for q in QUESTIONS}
    assert list(fixtures) == ["solution", "release", "partial", "noisy", "deleted_cell", "invalid_json"]
    assert fixtures["solution"].expected == full == fixtures["noisy"].expected
    assert sum(fixtures["release"].expected.values()) == 0
    assert sum(fixtures["partial"].expected.values()) == 28  # relu_values 8 + relu_grad 10 + affine_collapse 10
    assert sum(fixtures["deleted_cell"].expected.values()) == 100 - full["concise_mlp"]
    assert fixtures["invalid_json"].expected is None


def test_solution_is_the_release_with_every_answer(fixtures: dict[str, Any]) -> None:
    """Does the solution fixture hold no stub and no hidden test (a student never has them)?"""
    code = _code(fixtures["solution"])
    assert "NotImplementedError" not in code and "HIDDEN TESTS" not in code
    assert "def relu(X):" in code and "torch.where(X > 0" in code


def test_partial_answers_only_relu_and_collapse(fixtures: dict[str, Any]) -> None:
    """Does the partial fixture answer relu and collapse_affine and leave the other stubs in place?"""
    nb = nbformat.reads(fixtures["partial"].content, as_version=4)
    stubs = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("solution") and "NotImplementedError" in c.source}
    assert stubs == {"sigmoid_tanh_code", "scratch_code", "concise_code"}


def test_noisy_writes_to_stderr_three_ways_inside_graded_functions(fixtures: dict[str, Any]) -> None:
    """Does the noisy fixture print to stderr, warn and write to fd 2, also inside relu and forward?"""
    code = _code(fixtures["noisy"])
    for noise in ("file=_sys.stderr", "_warnings.warn(", "_os.write(2,"):
        assert code.count(noise) >= 5, noise  # once per solution cell, plus inside the graded functions
    relu = code.split("def relu(X):", 1)[1].split("return", 1)[0]
    assert "_os.write(2," in relu


def test_invalid_json_is_not_json(fixtures: dict[str, Any]) -> None:
    """Is the broken upload really unreadable as JSON?"""
    with pytest.raises(json.JSONDecodeError):
        json.loads(fixtures["invalid_json"].content)


def test_write_puts_every_fixture_and_expected_json(tmp_path: Path, fixtures: dict[str, Any]) -> None:
    """Does the CLI write one file per fixture and the expected points next to them?"""
    build_fixtures.main([str(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{n}.ipynb" for n in fixtures] + ["expected.json"])
    assert json.loads((tmp_path / "expected.json").read_text())["partial"]["relu_grad"] == 10
