"""The points step: the grader's report (or its absence) -> the Classroom reporter's inputs, checked against
the reporter's own logic (`_github_actions.reporter_v1`, reproduced from its dist/main.js at tag v1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _github_actions import reporter_v1
from click.testing import CliRunner

from autograder.cli import main
from autograder.course import classroom
from autograder.course.classroom import points
from autograder.report import QuestionResult, Report
from mlp_lab.questions import QUESTIONS

SPECS = [points.Spec(q.id, float(q.points), q.title) for q in QUESTIONS]
RUNNERS = ",".join(classroom.runner_name(q.id) for q in QUESTIONS)
OK = {"install": "success", "data": "success", "grade": "success"}


def _report(tmp_path: Path, scores: dict[str, float], message: str = "why") -> Path:
    questions = [QuestionResult(q.id, scores.get(q.id, float(q.points)), float(q.points),
                                "passed" if scores.get(q.id, q.points) == q.points else "failed",
                                "" if scores.get(q.id, q.points) == q.points else f"{q.id}: {message}")
                 for q in QUESTIONS]
    path = tmp_path / "report.json"
    Report("mlp.ipynb", "cpu", 1.0, questions).write_json(path)
    return path


def _notebook(tmp_path: Path) -> Path:
    (tmp_path / "mlp.ipynb").write_text("{}")
    return tmp_path / "mlp.ipynb"


def _reporter(results: list[points.Outcome]) -> tuple[dict[str, float], object]:
    env = {f"{r.runner.upper()}_RESULTS": r.encoded() for r in results}
    run = reporter_v1(RUNNERS, env)
    per_runner = {r.runner: float(r.result()["tests"][0]["score"]) for r in results}
    return per_runner, run


def test_runner_names_are_camel_case_ids_the_reporter_accepts() -> None:
    assert classroom.runner_name("relu_values") == "reluValues"
    assert classroom.runner_name("accuracy") == "accuracy"
    names = [classroom.runner_name(q.id) for q in QUESTIONS]
    assert len(set(n.upper() for n in names)) == len(names), "two runners would share one variable"


def test_partial_credit_reaches_classroom_exactly(tmp_path: Path) -> None:
    """Does 8 of 16 on accuracy (and 2.5 of 10 elsewhere) arrive as 8 and 2.5, not 0?"""
    scores = {"accuracy": 8.0, "affine_collapse": 2.5, "relu_grad": 0.0}
    results = points.runner_results(SPECS, _report(tmp_path, scores), OK, _notebook(tmp_path))
    per_runner, run = _reporter(results)
    assert per_runner["accuracy"] == 8 and per_runner["affineCollapse"] == 2.5 and per_runner["reluGrad"] == 0
    assert run.points == ("74.5", "100")
    assert run.notices[1] == '::notice title=Autograding report::{"totalPoints":74.5,"maxPoints":100}'
    assert run.failed == "Some tests failed."  # the reporter fails the job on any lost point
    lines = [ln for ln in run.console if ln.startswith("❌")]
    assert len(lines) == 3 and all(": why" in ln for ln in lines), "each lost point's line says why"


def test_the_solution_reports_100_and_passes(tmp_path: Path) -> None:
    results = points.runner_results(SPECS, _report(tmp_path, {}), OK, _notebook(tmp_path))
    _, run = _reporter(results)
    assert run.points == ("100", "100") and run.failed is None
    assert all(r.status == "pass" for r in results)


@pytest.mark.parametrize(("steps", "expect"), [
    ({"install": "failure", "grade": "skipped"}, "could not be installed"),
    ({"install": "skipped", "data": "failure", "grade": "skipped"}, "Fashion-MNIST could not be downloaded"),
    ({"grade": "failure"}, "failed or ran past its time limit"),
    ({"grade": "cancelled"}, "cancelled or ran past its time limit"),
    ({"grade": "skipped"}, "did not run because an earlier step failed"),
])
def test_no_report_means_0_of_100_with_the_reason(steps: dict[str, str], expect: str, tmp_path: Path) -> None:
    results = points.runner_results(SPECS, tmp_path / "absent.json", {**OK, **steps}, _notebook(tmp_path))
    _, run = _reporter(results)
    assert run.points == ("0", "100")
    assert run.failed == "Some tests errored."
    errors = [ln for ln in run.console if ln.startswith("Error: ")]
    assert len(errors) == len(QUESTIONS) and all(expect in ln for ln in errors)


def test_a_missing_notebook_is_named(tmp_path: Path) -> None:
    results = points.runner_results(SPECS, tmp_path / "absent.json", {**OK, "grade": "failure"},
                                    tmp_path / "mlp.ipynb")
    assert all("mlp.ipynb is missing" in r.why for r in results)


def test_the_grade_logs_last_line_is_quoted(tmp_path: Path) -> None:
    log = tmp_path / "grade.log"
    log.write_text("  grading...\nError: no report for mlp.ipynb: out of memory\n\n")
    results = points.runner_results(SPECS, tmp_path / "absent.json", {**OK, "grade": "failure"},
                                    _notebook(tmp_path), log)
    assert results[0].why.endswith("Its last words: Error: no report for mlp.ipynb: out of memory")


def test_a_report_is_trusted_only_when_the_grade_step_succeeded(tmp_path: Path) -> None:
    """Does a .grade/report.json committed by a student count for nothing when the grader did not run?"""
    report = _report(tmp_path, {})
    results = points.runner_results(SPECS, report, {**OK, "install": "failure", "grade": "skipped"},
                                    _notebook(tmp_path))
    assert sum(r.score for r in results) == 0 and all("could not be installed" in r.why for r in results)


@pytest.mark.parametrize("text", ["{not json", '{"questions": 3}',
                                  json.dumps({"questions": [{"id": "accuracy", "score": 99, "max_score": 16}]}),
                                  json.dumps({"questions": [{"id": "accuracy", "score": 8, "max_score": 17}]})])
def test_a_corrupt_or_foreign_report_scores_0_with_the_reason(text: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(text)
    results = points.runner_results(SPECS, report, OK, _notebook(tmp_path))
    _, run = _reporter(results)
    assert run.points == ("0", "100")
    assert all("is not a report of this assignment's grader" in r.why for r in results)


def test_a_question_missing_from_the_report_costs_only_its_points(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    data = json.loads(_report(tmp_path, {}).read_text())
    data["questions"] = [q for q in data["questions"] if q["id"] != "accuracy"]
    report.write_text(json.dumps(data))
    results = {r.spec.id: r for r in points.runner_results(SPECS, report, OK, _notebook(tmp_path))}
    assert results["accuracy"].score == 0 and "not in the grader's report" in results["accuracy"].why
    assert sum(r.score for r in results.values()) == 84


def test_an_empty_result_is_why_the_old_workflow_reported_nothing() -> None:
    """The reporter itself: a skipped step's empty output kills it, with a message about hyphens."""
    run = reporter_v1("relu-values,accuracy", {"RELU-VALUES_RESULTS": "", "ACCURACY_RESULTS": ""})
    assert run.points is None and run.failed == "The runners input must be a comma-separated list of strings."
    run = reporter_v1("reluValues,accuracy", {"RELUVALUES_RESULTS": "", "ACCURACY_RESULTS": ""})
    assert run.points is None and run.failed is not None and "JSON" in run.failed


def test_the_template_script_runs_alone_on_a_bare_python(tmp_path: Path) -> None:
    """Does the template's copy run with no grader, no kit and no site-packages (`python -I -S`)?"""
    classroom.write_template(tmp_path / "t", release_notebook=Path(__file__).parents[2] / "release/mlp/mlp.ipynb")
    repo = tmp_path / "t"
    output, summary = tmp_path / "out", tmp_path / "summary.md"
    done = subprocess.run([sys.executable, "-I", "-S", ".github/classroom/points.py", "--output", str(output),
                           "--summary", str(summary)], cwd=repo, capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", "INSTALL_OUTCOME": "failure", "GRADE_OUTCOME": "skipped"})
    assert done.returncode == 0, done.stderr
    lines = output.read_text().splitlines()
    assert [ln.split("=", 1)[0] for ln in lines] == RUNNERS.split(",")
    assert done.stdout.splitlines()[-1] == "total 0/100"
    assert "## Points: 0 / 100" in summary.read_text()


def test_the_summary_table_escapes_pipes(tmp_path: Path) -> None:
    results = points.runner_results(SPECS, _report(tmp_path, {"sigmoid_tanh": 0.0}, "finite for |x| <= 100"),
                                    OK, _notebook(tmp_path))
    summary = tmp_path / "summary.md"
    points.write_outputs(results, summary=summary)
    row = next(ln for ln in summary.read_text().splitlines() if ln.startswith("| `sigmoid_tanh`"))
    assert "\\|x\\|" in row and row.count("|") - row.count("\\|") == 4


def test_cli_prints_what_classroom_gets(tmp_path: Path) -> None:
    report = _report(tmp_path, {"accuracy": 8.0})
    out = tmp_path / "github_output"
    result = CliRunner().invoke(main, ["classroom-results", str(report), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "total 92/100"
    assert "accuracy 8/16: accuracy: why" in result.output
    assert len(out.read_text().splitlines()) == len(QUESTIONS)
