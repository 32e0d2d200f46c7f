"""The student notebook in release/ is exactly what nbgrader generates from source/, and gives nothing away."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from mlp_lab.questions import MAX_SCORE, QUESTIONS

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "source" / "mlp" / "mlp.ipynb"
RELEASE = ROOT / "release" / "mlp" / "mlp.ipynb"
NBGRADER = [sys.executable, "-m", "nbgrader"]
REGENERATE = ".venv/bin/nbgrader generate_assignment mlp --force --no-db"
WRITTEN_IDS = ("written_relu_at_zero", "written_hidden_layer")


def _read(path: Path) -> Any:
    return nbformat.read(path, as_version=4)


def _meta(cell: Any) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {})


def _auto_grade_cells(nb: Any) -> list[Any]:
    return [c for c in nb.cells if _meta(c).get("grade") and not _meta(c).get("solution")]


def _solution_lines(source: str) -> list[str]:
    """The non-blank lines between ### BEGIN SOLUTION and ### END SOLUTION."""
    lines, inside = [], False
    for line in source.split("\n"):
        if "BEGIN SOLUTION" in line:
            inside = True
        elif "END SOLUTION" in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def _structure(nb: Any) -> list[tuple[Any, ...]]:
    """What a notebook says, without outputs, execution counts or anything that changes per run."""
    return [(c.get("id"), c.cell_type, c.source, c.get("metadata", {})) for c in nb.cells]


@pytest.fixture(scope="module")
def source() -> Any:
    return _read(SOURCE)


@pytest.fixture(scope="module")
def release() -> Any:
    return _read(RELEASE)


@pytest.mark.slow
def test_committed_release_is_what_nbgrader_generates(tmp_path: Path) -> None:
    """Does `nbgrader generate_assignment mlp` on today's source give exactly the committed release/?"""
    course = tmp_path / "course"
    (course / "source" / "mlp").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copy(SOURCE, course / "source" / "mlp" / "mlp.ipynb")
    run = subprocess.run([*NBGRADER, "generate_assignment", "mlp", "--no-db"], cwd=course,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"nbgrader generate_assignment failed:\n{run.stdout}\n{run.stderr}"
    fresh = _read(course / "release" / "mlp" / "mlp.ipynb")
    committed = _read(RELEASE)
    assert fresh.metadata == committed.metadata, f"release metadata is stale; run `{REGENERATE}`"
    stale = [f"cell {i} ({new[0]})" for i, (new, old) in enumerate(zip(_structure(fresh), _structure(committed),
                                                                       strict=False)) if new != old]
    assert len(fresh.cells) == len(committed.cells) and not stale, (
        f"release/mlp/mlp.ipynb differs from what nbgrader generates from source/ "
        f"({len(fresh.cells)} vs {len(committed.cells)} cells; differing: {', '.join(stale) or 'count'}). "
        f"Regenerate it from the repository root: `{REGENERATE}`")


def test_grade_cells_match_the_questions(source: Any) -> None:
    """Are the automatically graded cells exactly autograder.questions, in order, with the same points?"""
    cells = _auto_grade_cells(source)
    assert [(_meta(c)["grade_id"], _meta(c)["points"]) for c in cells] == [(q.id, q.points) for q in QUESTIONS]
    assert sum(_meta(c)["points"] for c in cells) == MAX_SCORE == 100


def test_each_grade_cell_requires_its_own_question_in_hidden_tests(source: Any) -> None:
    """Does every grade cell's hidden region call require() with its own grade id, and nothing else?"""
    for cell in _auto_grade_cells(source):
        gid = _meta(cell)["grade_id"]
        hidden = cell.source.split("### BEGIN HIDDEN TESTS", 1)
        assert len(hidden) == 2 and "### END HIDDEN TESTS" in hidden[1], f"{gid}: no hidden-test region"
        region = hidden[1].split("### END HIDDEN TESTS")[0]
        assert re.findall(r'require\("(\w+)", globals\(\)\)', region) == [gid], f"{gid}: hidden region is {region!r}"


def test_grade_cells_have_no_bare_assert(source: Any) -> None:
    """Do grade cells fail with a message (the kit's check), never a bare assert, and hold no probe code?"""
    for cell in _auto_grade_cells(source):
        gid = _meta(cell)["grade_id"]
        tree = ast.parse(cell.source)
        bare = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert) and n.msg is None]
        assert not bare, f"{gid}: bare assert on line(s) {bare}"
        visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
        code = [ln for ln in visible.split("\n") if ln.strip() and not ln.lstrip().startswith("#")]
        assert code == [f'check("{gid}", globals())'], f"{gid}: the visible part is {code}"


def test_release_has_no_solution_code(source: Any, release: Any) -> None:
    """Is every line of every solution region gone from the release's code, stubs in its place?"""
    text = "\n".join(c.source for c in release.cells if c.cell_type == "code")
    for cell in source.cells:
        if _meta(cell).get("solution") and cell.cell_type == "code":
            leaked = [line for line in _solution_lines(cell.source) if line in text]
            assert not leaked, f"{_meta(cell)['grade_id']}: solution lines in the release: {leaked}"
    stubs = [c for c in release.cells if _meta(c).get("solution") and c.cell_type == "code"]
    assert stubs and all("raise NotImplementedError()" in c.source for c in stubs)
    everything = "\n".join(c.source for c in release.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "MARK SCHEME"):
        assert marker not in everything, f"{marker!r} left in the release"


def test_release_has_no_hidden_tests(release: Any) -> None:
    """Is no hidden test, and no call into the in-kernel grader, left in the release?"""
    text = "\n".join(c.source for c in release.cells)
    for marker in ("HIDDEN TESTS", "autograder.nbgrader"):
        assert marker not in text, f"{marker!r} left in the release"
    calls = re.findall(r"(?<![.\w])require\(", text)  # the in-kernel grader's require(), not CheckResult.require()
    assert not calls, f"{len(calls)} call(s) of require(...) left in the release"


def test_written_answers_are_blank_in_the_release(release: Any) -> None:
    """Are the hand-graded answers manual grade cells the student can edit, with no model answer?"""
    written = {_meta(c)["grade_id"]: c for c in release.cells if _meta(c).get("grade") and _meta(c).get("solution")}
    assert set(written) == set(WRITTEN_IDS)
    for gid, cell in written.items():
        assert cell.cell_type == "markdown" and cell.source.strip() == "YOUR ANSWER HERE", gid
        assert _meta(cell)["points"] > 0 and not _meta(cell)["locked"], gid


def test_release_grade_and_training_cells_are_locked(release: Any) -> None:
    """Can a student not edit grade cells, the imports or the training cells (nbgrader locks and checksums them)?"""
    locked_ids = {q.id for q in QUESTIONS} | {"imports", "train_scratch", "train_concise"}
    cells = {_meta(c).get("grade_id"): c for c in release.cells if _meta(c).get("locked")}
    assert locked_ids <= set(cells), f"not locked: {sorted(locked_ids - set(cells))}"
    for gid in locked_ids:
        cell = cells[gid]
        assert cell.metadata.get("editable") is False and cell.metadata.get("deletable") is False, gid
        assert _meta(cell).get("checksum"), f"{gid}: no checksum, so nbgrader cannot detect an edited grade cell"


def test_first_cell_sets_up_the_lab(release: Any) -> None:
    """Does the locked first cell import what every later cell uses?"""
    first = release.cells[0] if release.cells[0].cell_type == "code" else release.cells[1]
    for line in ("%matplotlib inline", "import torch", "from torch import nn", "from d2l import torch as d2l",
                 "from mlp_lab import FashionMNISTData, check"):
        assert line in first.source.split("\n"), f"first code cell lacks {line!r}"
