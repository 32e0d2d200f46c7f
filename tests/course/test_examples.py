"""The example factory (autograder/course/examples.py): each example is what its name says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.course.examples import EXAMPLES, Example, solution_code, solution_namespace, write_examples
from mlp_lab.questions import QUESTIONS


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Example]:
    return write_examples(tmp_path_factory.mktemp("examples"))


def _code(example: Example) -> str:
    nb = nbformat.reads(example.content, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_example_names_and_expected_points(examples: dict[str, Example]) -> None:
    """Are the eight examples there, with the points each must score?"""
    full = {q.id: float(q.points) for q in QUESTIONS}
    assert list(examples) == list(EXAMPLES) == ["solution", "untouched", "partial", "noisy", "deleted_grade_cell",
                                                "float64", "default_float64", "broken"]
    assert examples["solution"].expected == full == examples["noisy"].expected
    assert examples["float64"].expected == full == examples["default_float64"].expected
    assert sum((examples["untouched"].expected or {}).values()) == 0
    # relu_values 8 + relu_grad 10 + sigmoid_tanh 10 + affine_collapse 10
    assert sum((examples["partial"].expected or {}).values()) == 38
    assert sum((examples["deleted_grade_cell"].expected or {}).values()) == 100 - full["concise_mlp"]
    assert examples["broken"].expected is None


def test_solution_is_the_release_with_every_answer(examples: dict[str, Example]) -> None:
    """Does the solution example hold no stub and no hidden test (a student never has them)?"""
    code = _code(examples["solution"])
    assert "NotImplementedError" not in code and "HIDDEN TESTS" not in code
    assert "def relu(X):" in code and "torch.where(X > 0" in code


def test_partial_answers_only_the_activations_and_collapse(examples: dict[str, Example]) -> None:
    """Does the partial example answer relu, sigmoid, tanh and collapse_affine and leave the other stubs?"""
    nb = nbformat.reads(examples["partial"].content, as_version=4)
    stubs = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("solution") and "NotImplementedError" in c.source}
    assert stubs == {"scratch_code", "concise_code", "deep_code"}


def test_noisy_writes_to_stderr_three_ways_inside_graded_functions(examples: dict[str, Example]) -> None:
    """Does the noisy example print to stderr, warn and write to fd 2, also inside relu and forward?"""
    code = _code(examples["noisy"])
    for noise in ("file=_sys.stderr", "_warnings.warn(", "_os.write(2,"):
        assert code.count(noise) >= 5, noise  # once per solution cell, plus inside the graded functions
    relu = code.split("def relu(X):", 1)[1].split("return", 1)[0]
    assert "_os.write(2," in relu


def test_deleted_grade_cell_lacks_exactly_that_cell(examples: dict[str, Example]) -> None:
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in
           nbformat.reads(examples["deleted_grade_cell"].content, as_version=4).cells]
    full = [c.metadata.get("nbgrader", {}).get("grade_id") for c in
            nbformat.reads(examples["solution"].content, as_version=4).cells]
    assert "concise_mlp" in full and "concise_mlp" not in ids and len(ids) == len(full) - 1


def test_float64_variants_change_only_the_dtype(examples: dict[str, Example]) -> None:
    """Does the float64 variant hold float64 parameters and a casting forward, and the other set the default?"""
    code = _code(examples["float64"])
    assert code.count("dtype=torch.float64") == 4 and ".to(torch.float64)" in code
    assert _code(examples["default_float64"]).count("torch.set_default_dtype(torch.float64)") == 1
    assert "float64" not in _code(examples["solution"])


def test_broken_is_not_json(examples: dict[str, Example]) -> None:
    """Is the broken upload really unreadable as JSON?"""
    with pytest.raises(json.JSONDecodeError):
        json.loads(examples["broken"].content)


def test_write_puts_every_example_and_expected_json(tmp_path: Path, examples: dict[str, Any]) -> None:
    """Does writing put one file per example and the expected points next to them?"""
    write_examples(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{n}.ipynb" for n in examples] + ["expected.json"])
    assert json.loads((tmp_path / "expected.json").read_text())["partial"]["relu_grad"] == 10


def test_the_reference_solution_is_the_source_notebooks_answers() -> None:
    """Is solution_code exactly the source's answers (markers removed), and does it define every graded name?"""
    code = solution_code()
    assert "BEGIN SOLUTION" not in code and "END SOLUTION" not in code and "HIDDEN TESTS" not in code
    names = solution_namespace()
    assert {"relu", "sigmoid", "tanh", "collapse_affine", "MLPScratch", "MLP"} <= set(names)
