"""The real nbgrader CLI, end to end, in a temporary course directory.

generate_assignment -> the example submissions (autograder/course/examples.py) -> autograde -> generate_feedback
-> export.  The course directory gets its own `python3` kernelspec that starts this interpreter
(the repository's virtual environment), first on JUPYTER_PATH, so a kernelspec elsewhere on the
machine cannot change which Python grades.  One autograde run of all six takes a few minutes: three
of the submissions train both models.
"""

from __future__ import annotations

import copy
import csv
import html as html_module
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from autograder.course.examples import write_examples
from mlp_lab.questions import MAX_SCORE

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NBGRADER = [sys.executable, "-m", "nbgrader"]
ASSIGNMENT = "mlp"
WRITTEN_POINTS = 10.0  # the two hand-graded answers, 5 each; autograde leaves them at 0
SOLUTION_MIN_ACCURACY = 0.85  # what the solution's training cells must print (the lab promises it)


@dataclass
class Course:
    root: Path
    env: dict[str, str]
    expected: dict[str, dict[str, float] | None]
    autograde: subprocess.CompletedProcess[str]
    feedback: subprocess.CompletedProcess[str]
    export: subprocess.CompletedProcess[str]

    def nbgrader(self, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
        return _nbgrader(self.root, self.env, *args, timeout=timeout)

    def scores(self, student: str) -> dict[str, float]:
        """Automatic score per grade id, from the gradebook (a grade cell nbgrader has no grade for: 0)."""
        from nbgrader.api import Gradebook

        ids = self.expected["solution"] or {}
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gb:
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            found = {g.name: float(g.auto_score or 0.0) for g in nb.grades}
        return {gid: found.get(gid, 0.0) for gid in ids}


def _nbgrader(root: Path, env: dict[str, str], *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NBGRADER, *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


def isolated_jupyter_env(root: Path) -> dict[str, str]:
    """Environment whose only `python3` kernelspec runs this interpreter, with private Jupyter dirs."""
    spec_dir = root / ".jupyter-data" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)", "language": "python"}))
    env = dict(os.environ)
    # nbgrader runs `alembic` (its database migrations) from PATH: the venv's bin must come first.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update({
        "JUPYTER_PATH": str(root / ".jupyter-data"),
        "JUPYTER_DATA_DIR": str(root / ".jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(root / ".jupyter-runtime"),
        "JUPYTER_CONFIG_DIR": str(root / ".jupyter-config"),
        "IPYTHONDIR": str(root / ".ipython"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    return env


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    root = tmp_path_factory.mktemp("course")
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copy(ROOT / "source" / ASSIGNMENT / "mlp.ipynb", root / "source" / ASSIGNMENT / "mlp.ipynb")
    env = isolated_jupyter_env(root)

    generate = _nbgrader(root, env, "generate_assignment", ASSIGNMENT)
    assert generate.returncode == 0, generate.stdout + generate.stderr

    examples = write_examples(root / "examples", source=root / "source" / ASSIGNMENT / "mlp.ipynb",
                              release=root / "release" / ASSIGNMENT / "mlp.ipynb")
    for example in examples.values():
        target = root / "submitted" / example.name / ASSIGNMENT / "mlp.ipynb"
        target.parent.mkdir(parents=True)
        target.write_text(example.content, encoding="utf-8")

    autograde = _nbgrader(root, env, "autograde", ASSIGNMENT, timeout=3600)
    feedback = _nbgrader(root, env, "generate_feedback", ASSIGNMENT)
    export = _nbgrader(root, env, "export")
    return Course(root, env, {e.name: e.expected for e in examples.values()}, autograde, feedback, export)


def _graded_students(course: Course) -> list[str]:
    return [name for name, expected in course.expected.items() if expected is not None]


def _log(run: subprocess.CompletedProcess[str]) -> str:
    return run.stdout + run.stderr


def test_solution_gets_every_automatic_point(course: Course) -> None:
    """Does the solution score all 100 automatic points, question by question?"""
    assert course.scores("solution") == course.expected["solution"], _log(course.autograde)[-4000:]
    assert sum(course.scores("solution").values()) == MAX_SCORE


def test_untouched_release_scores_zero(course: Course) -> None:
    """Does the release as handed out, with every stub raising NotImplementedError, score 0?"""
    assert course.scores("untouched") == course.expected["untouched"]
    assert sum(course.scores("untouched").values()) == 0


def test_partial_gets_exactly_its_points(course: Course) -> None:
    """Do the activations and collapse_affine alone earn exactly their four questions?"""
    assert course.scores("partial") == course.expected["partial"]


def test_noisy_but_correct_loses_nothing(course: Course) -> None:
    """Does a correct submission that prints to stderr, warns and writes to fd 2 still get all 100 points?"""
    assert course.scores("noisy") == course.expected["noisy"]


def test_noise_really_reaches_grade_cells(course: Course) -> None:
    """Without IgnorePattern, would the noisy submission's grade cells carry stderr and score 0 in nbgrader?"""
    from nbgrader.utils import determine_grade

    noisy = nbformat.read(course.root / "submitted" / "noisy" / ASSIGNMENT / "mlp.ipynb", as_version=4)
    source = nbformat.read(course.root / "source" / ASSIGNMENT / "mlp.ipynb", as_version=4)
    keep = {"imports", "relu_code", "relu_values"}
    grade_cell = copy.deepcopy(next(c for c in source.cells if c.get("id") == "relu_values"))
    # The kit's check() swallows the student's stderr itself; a grade cell that calls relu directly
    # shows what nbgrader does with stderr that reaches a grade cell, and why IgnorePattern is set.
    grade_cell.source = "relu(torch.zeros(3))\n" + grade_cell.source
    cells = [c for c in noisy.cells if c.get("id") in keep - {"relu_values"}] + [grade_cell]
    nb = nbformat.v4.new_notebook(cells=cells, metadata=source.metadata)

    from nbclient import NotebookClient

    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(course.root)}}).execute(env=course.env)
    graded = nb.cells[-1]
    assert not [o for o in graded.outputs if o.output_type == "error"], graded.outputs
    stderr = [o.text for o in graded.outputs if o.output_type == "stream" and o.name == "stderr"]
    assert stderr, "the noisy relu wrote nothing to stderr inside the grade cell; the fixture tests nothing"
    assert determine_grade(graded) == (0, 8), "nbgrader no longer scores a grade cell with stderr as 0"


@pytest.mark.parametrize("variant", ["float64", "default_float64"])
def test_honest_dtype_variants_get_every_automatic_point(course: Course, variant: str) -> None:
    """Do float64 parameters with a casting forward, and a float64 default dtype, keep all 100 points in nbgrader?"""
    assert course.scores(variant) == course.expected[variant], _log(course.autograde)[-4000:]
    assert sum(course.scores(variant).values()) == MAX_SCORE


def test_deleted_grade_cell_costs_only_its_points(course: Course) -> None:
    """Does deleting the concise_mlp grade cell cost its 8 points and nothing else?"""
    assert course.scores("deleted_grade_cell") == course.expected["deleted_grade_cell"], _log(course.autograde)[-4000:]


def test_invalid_json_fails_clearly_and_alone(course: Course) -> None:
    """Is the unreadable upload reported by name, without stopping anyone else's grading?"""
    log = _log(course.autograde)
    assert "broken" in log and re.search(r"(?i)error|invalid|json", log)
    assert not (course.root / "autograded" / "broken" / ASSIGNMENT / "mlp.ipynb").exists()
    for student in _graded_students(course):
        assert (course.root / "autograded" / student / ASSIGNMENT / "mlp.ipynb").exists(), student


def test_solution_training_prints_accuracy_above_085(course: Course) -> None:
    """Does the solution's training, as autograde ran it, reach the 0.85 test accuracy the lab promises?"""
    nb = nbformat.read(course.root / "autograded" / "solution" / ASSIGNMENT / "mlp.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.get("id") in ("train_scratch", "train_concise")
                   for o in c.get("outputs", []))
    accuracies = [float(a) for a in re.findall(r"test accuracy (\d\.\d+)", text)]
    assert len(accuracies) == 2, text
    assert min(accuracies) >= SOLUTION_MIN_ACCURACY, accuracies


def test_feedback_html_shows_no_hidden_test_source(course: Course) -> None:
    """Does every feedback page show the visible checks but no hidden test, not even in a traceback?"""
    assert course.feedback.returncode == 0, _log(course.feedback)[-4000:]
    pages = {s: course.root / "feedback" / s / ASSIGNMENT / "mlp.html" for s in _graded_students(course)}
    for student, page in pages.items():
        html = page.read_text(encoding="utf-8")
        text = html_module.unescape(re.sub(r"<[^>]+>", "", html))
        assert 'check("relu_values", globals())' in text, f"{student}: the visible checks are missing from the feedback"
        for secret in ("HIDDEN TESTS", "autograder.nbgrader", "require("):
            assert secret not in html, f"{student}: feedback shows {secret!r}"
        assert not re.search(r"(?<![.\w])require\(", re.sub(r"<[^>]+>", "", html)), f"{student}: require( shown"
    failing = pages["untouched"].read_text(encoding="utf-8")
    assert "NotImplementedError" in failing, "the release's feedback should show why its cells failed"


def test_export_totals_match_the_gradebook(course: Course) -> None:
    """Does `nbgrader export` write each graded student's automatic total, out of 100 + the written answers?"""
    assert course.export.returncode == 0, _log(course.export)[-4000:]
    with open(course.root / "grades.csv", newline="") as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh)}
    for student in _graded_students(course):
        expected = course.expected[student]
        assert expected is not None
        assert float(rows[student]["score"]) == pytest.approx(sum(expected.values())), student
        assert float(rows[student]["max_score"]) == pytest.approx(MAX_SCORE + WRITTEN_POINTS), student
    broken = rows.get("broken")
    assert broken is None or float(broken["score"]) == 0, "an ungradable upload must not earn points"
