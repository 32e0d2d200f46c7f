"""grade-all: finding submissions, the pool, resume by content hash, CSVs, shards and merging.

Most tests pass `grade_fn=scripted_grader`: a real grading function (the seam `grade_all` offers)
that reads the points to give from the notebook's metadata, so a test decides each student's result.
One slow test runs the real grader end to end.
"""

from __future__ import annotations

import _thread
import csv
import json
import signal
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.course.batch import GRADES_HEADER, grade_all, merge_csvs
from autograder.course.submissions import Submission, find_submissions, parse_shard, select_shard
from autograder.engine.fingerprint import GRADING_CODE, grader_fingerprint
from autograder.errors import BatchError
from autograder.report import QuestionResult, Report
from mlp_lab.questions import QUESTION_IDS, QUESTIONS

ROOT = Path(__file__).resolve().parents[2]
CALLS: list[tuple[str, dict]] = []
CALLS_LOCK = threading.Lock()


def notebook(points: dict[str, float] | None = None, *, behaviour: str = "") -> str:
    """A minimal nbformat-4 notebook whose metadata tells `scripted_grader` what to do."""
    meta = {"scripted": {"points": points or {}, "behaviour": behaviour}}
    return json.dumps({"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5})


def scripted_grader(path, *, device="auto", timeout=None, threads=None) -> Report:
    """Grade as the notebook's metadata says; like the real grader, a corrupt notebook gets a report."""
    with CALLS_LOCK:
        CALLS.append((Path(path).name, {"device": device, "timeout": timeout, "threads": threads}))
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8"))["metadata"]["scripted"]
    except (ValueError, KeyError):
        return Report.all_failed(str(path), "cpu", 0.0, "error", "This file is not a Jupyter notebook.")
    behaviour = meta["behaviour"]
    if behaviour == "raise":
        raise RuntimeError("grader bug")
    if behaviour.startswith("sleep:"):
        time.sleep(float(behaviour.split(":")[1]))
    if behaviour == "interrupt":
        _thread.interrupt_main()  # what Ctrl-C does to the main thread
        time.sleep(5)
    results = []
    for q in QUESTIONS:
        got = meta["points"].get(q.id, q.points)
        status = "timeout" if got == "timeout" else "passed" if got == q.points else "failed"
        score = 0.0 if got == "timeout" else float(got)
        results.append(QuestionResult(q.id, score, float(q.points), status, f"{q.id}: {status}"))
    return Report(str(path), device, 0.01, results, artifacts={"accuracy": {"MLPScratch": 0.84}})


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()


def flat_dir(tmp_path: Path, students: dict[str, str]) -> Path:
    d = tmp_path / "subs"
    d.mkdir()
    for student, text in students.items():
        (d / f"{student}.ipynb").write_text(text, encoding="utf-8")
    return d


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def graded_names() -> list[str]:
    return sorted(name for name, _ in CALLS)


# --- finding submissions ----------------------------------------------------------------------


def test_finds_nbgrader_layout_and_flat_notebooks(tmp_path):
    course = tmp_path / "course"
    for student in ("bob", "alice"):
        (course / "submitted" / student / "mlp").mkdir(parents=True)
        (course / "submitted" / student / "mlp" / "mlp.ipynb").write_text(notebook())
    (course / "submitted" / "alice" / "mlp" / ".ipynb_checkpoints").mkdir()
    (course / "submitted" / "carol" / "other_assignment").mkdir(parents=True)
    (course / "dave.ipynb").write_text(notebook())
    subs = find_submissions(course)
    assert [(s.student, s.path.relative_to(course).as_posix()) for s in subs] == [
        ("alice", "submitted/alice/mlp/mlp.ipynb"), ("bob", "submitted/bob/mlp/mlp.ipynb"),
        ("dave", "dave.ipynb")]
    assert [s.student for s in find_submissions(course / "submitted")] == ["alice", "bob"]


def test_assignment_notebook_wins_and_ambiguity_is_a_row(tmp_path):
    sub = tmp_path / "submitted"
    for student, names in {"ann": ["mlp.ipynb", "scratch.ipynb"], "ben": ["a.ipynb", "b.ipynb"],
                           "cy": ["renamed.ipynb"]}.items():
        (sub / student / "mlp").mkdir(parents=True)
        for name in names:
            (sub / student / "mlp" / name).write_text(notebook())
    found = {s.student: s for s in find_submissions(tmp_path)}
    assert found["ann"].path.name == "mlp.ipynb"
    assert found["cy"].path.name == "renamed.ipynb"
    assert found["ben"].path is None and "2 notebooks" in found["ben"].problem


def test_one_student_found_twice_is_refused(tmp_path):
    (tmp_path / "alice" / "mlp").mkdir(parents=True)
    (tmp_path / "alice" / "mlp" / "mlp.ipynb").write_text(notebook())
    (tmp_path / "alice.ipynb").write_text(notebook())
    with pytest.raises(BatchError, match="'alice' found twice"):
        find_submissions(tmp_path)
    with pytest.raises(BatchError, match="does not exist"):
        find_submissions(tmp_path / "nope")


def test_shards_partition_the_students():
    subs = [Submission(f"s{i:02d}", None) for i in range(11)]
    parts = [select_shard(subs, (i, 4)) for i in range(4)]
    names = [s.student for part in parts for s in part]
    assert sorted(names) == [s.student for s in subs] and len(names) == len(set(names))
    assert parse_shard("3/4") == (3, 4)
    for bad in ("4/4", "1", "a/b", "-1/2"):
        with pytest.raises(BatchError):
            parse_shard(bad)


# --- grading ----------------------------------------------------------------------------------


def test_grades_csv_has_a_row_per_student_and_a_column_per_question(tmp_path):
    subs = flat_dir(tmp_path, {"alice": notebook(), "bob": notebook({"relu_grad": 5, "accuracy": 0}),
                               "carl": "{ this is not json"})
    result = grade_all(subs, out_dir=tmp_path / "out", jobs=2, grade_fn=scripted_grader, progress=False)
    rows = read_csv(tmp_path / "out" / "grades.csv")
    assert tuple(rows[0].keys()) == GRADES_HEADER
    assert [r["student"] for r in rows] == ["alice", "bob", "carl"]
    assert rows[0]["total"] == "100" and rows[0]["status"] == "graded" and rows[0]["reason"] == ""
    assert rows[1]["relu_grad"] == "5" and rows[1]["accuracy"] == "0" and rows[1]["total"] == "79"
    assert rows[2]["status"] == "ungraded" and rows[2]["reason"] == "This file is not a Jupyter notebook."
    assert rows[2]["total"] == "0" and rows[2]["submission"].endswith("carl.ipynb")
    assert sorted(result.graded) == ["alice", "bob", "carl"] and result.skipped == []
    for student in ("alice", "bob", "carl"):
        report = Report.load(tmp_path / "out" / "reports" / f"{student}.json")
        assert report.artifacts["batch"]["student"] == student and len(report.artifacts["batch"]["sha256"]) == 64


def test_each_grading_gets_one_thread_when_several_run_at_once(tmp_path):
    subs = flat_dir(tmp_path, {"a": notebook(), "b": notebook()})
    grade_all(subs, out_dir=tmp_path / "o2", jobs=2, grade_fn=scripted_grader, progress=False, timeout=30)
    assert {c["threads"] for _, c in CALLS} == {1} and {c["timeout"] for _, c in CALLS} == {30}
    CALLS.clear()
    grade_all(subs, out_dir=tmp_path / "o1", jobs=1, grade_fn=scripted_grader, progress=False)
    assert {c["threads"] for _, c in CALLS} == {None}


def test_two_jobs_run_at_once(tmp_path):
    """Are gradings really concurrent with jobs=2 (four 0.4 s gradings in well under 1.6 s)?"""
    subs = flat_dir(tmp_path, {f"s{i}": notebook(behaviour="sleep:0.4") for i in range(4)})
    start = time.perf_counter()
    grade_all(subs, out_dir=tmp_path / "out", jobs=2, grade_fn=scripted_grader, progress=False)
    assert time.perf_counter() - start < 1.4


def test_timed_out_questions_make_a_partial_row(tmp_path):
    subs = flat_dir(tmp_path, {"dan": notebook({"accuracy": "timeout"})})
    grade_all(subs, out_dir=tmp_path / "out", jobs=1, grade_fn=scripted_grader, progress=False)
    row = read_csv(tmp_path / "out" / "grades.csv")[0]
    assert row["status"] == "partial" and row["reason"] == "accuracy: timeout: accuracy: timeout"
    assert row["total"] == "84"


def test_progress_goes_to_stderr(tmp_path, capsys):
    subs = flat_dir(tmp_path, {"a": notebook(), "b": notebook()})
    grade_all(subs, out_dir=tmp_path / "out", jobs=1, grade_fn=scripted_grader, progress=True)
    captured = capsys.readouterr()
    assert "2/2" in captured.err and captured.out == ""


# --- failures of the grader itself --------------------------------------------------------------


def test_grader_exception_becomes_an_error_row_and_the_batch_goes_on(tmp_path):
    subs = flat_dir(tmp_path, {"a": notebook(), "b": notebook(behaviour="raise"), "c": notebook()})
    result = grade_all(subs, out_dir=tmp_path / "out", jobs=2, grade_fn=scripted_grader, progress=False)
    rows = {r["student"]: r for r in read_csv(result.grades_csv)}
    assert rows["b"]["status"] == "grader-error" and "RuntimeError: grader bug" in rows["b"]["reason"]
    assert rows["a"]["status"] == rows["c"]["status"] == "graded"
    assert all(rows["b"][q] == "0" for q in QUESTION_IDS)


def test_a_hung_grading_is_abandoned_by_the_watchdog(tmp_path):
    subs = flat_dir(tmp_path, {"a": notebook(), "hang": notebook(behaviour="sleep:30"), "z": notebook()})
    start = time.perf_counter()
    result = grade_all(subs, out_dir=tmp_path / "out", jobs=1, grade_fn=scripted_grader, progress=False,
                       hard_timeout=0.5)
    assert time.perf_counter() - start < 10
    rows = {r["student"]: r for r in read_csv(result.grades_csv)}
    assert rows["hang"]["status"] == "grader-error" and "watchdog" in rows["hang"]["reason"]
    assert rows["z"]["status"] == "graded"  # the replacement worker went on with the queue


def test_grader_errors_are_retried_on_rerun(tmp_path):
    subs = flat_dir(tmp_path, {"a": notebook(), "b": notebook(behaviour="raise")})
    grade_all(subs, out_dir=tmp_path / "out", jobs=1, grade_fn=scripted_grader, progress=False)
    CALLS.clear()
    (subs / "b.ipynb").write_text(notebook(), encoding="utf-8")
    result = grade_all(subs, out_dir=tmp_path / "out", jobs=1, grade_fn=scripted_grader, progress=False)
    assert graded_names() == ["b.ipynb"] and result.skipped == ["a"]
    assert {r.student: r.status for r in result.rows} == {"a": "graded", "b": "graded"}


# --- resume -----------------------------------------------------------------------------------


def test_rerun_skips_unchanged_and_regrades_edited_submissions(tmp_path):
    subs = flat_dir(tmp_path, {"a": notebook(), "b": notebook(), "c": notebook()})
    out = tmp_path / "out"
    grade_all(subs, out_dir=out, jobs=2, grade_fn=scripted_grader, progress=False)
    assert graded_names() == ["a.ipynb", "b.ipynb", "c.ipynb"]
    CALLS.clear()
    (subs / "b.ipynb").write_text(notebook({"affine_collapse": 0}), encoding="utf-8")
    result = grade_all(subs, out_dir=out, jobs=2, grade_fn=scripted_grader, progress=False)
    assert graded_names() == ["b.ipynb"] and result.skipped == ["a", "c"]
    assert [r["total"] for r in read_csv(out / "grades.csv")] == ["100", "90", "100"]
    CALLS.clear()
    grade_all(subs, out_dir=out, jobs=2, grade_fn=scripted_grader, progress=False, force=True)
    assert graded_names() == ["a.ipynb", "b.ipynb", "c.ipynb"]


def test_a_corrupt_report_on_disk_is_graded_again(tmp_path):
    subs = flat_dir(tmp_path, {"a": notebook(), "b": notebook()})
    out = tmp_path / "out"
    grade_all(subs, out_dir=out, jobs=1, grade_fn=scripted_grader, progress=False)
    (out / "reports" / "a.json").write_text('{"submission": "a.ipy', encoding="utf-8")
    CALLS.clear()
    grade_all(subs, out_dir=out, jobs=1, grade_fn=scripted_grader, progress=False)
    assert graded_names() == ["a.ipynb"]
    assert Report.load(out / "reports" / "a.json").score == 100


def test_interrupted_batch_keeps_finished_work_and_resumes(tmp_path):
    """Does Ctrl-C in the middle leave complete reports and a CSV, and does the rerun grade only the rest?"""
    # interrupt_main() does nothing while SIGINT is ignored, as it is for a job started in the
    # background of a non-interactive shell (a CI runner, nohup): give SIGINT Python's handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupted_batch(tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupted_batch(tmp_path: Path) -> None:
    subs = flat_dir(tmp_path, {"a": notebook(), "b": notebook(), "c": notebook(behaviour="interrupt"),
                               "d": notebook()})
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        grade_all(subs, out_dir=out, jobs=1, grade_fn=scripted_grader, progress=False)
    done = sorted(p.stem for p in (out / "reports").glob("*.json"))
    assert done == ["a", "b"]
    assert [r["student"] for r in read_csv(out / "grades.csv")] == ["a", "b"]
    assert not [p for p in (out / "reports").iterdir() if p.suffix != ".json"]  # no temp files left
    (subs / "c.ipynb").write_text(notebook(), encoding="utf-8")
    CALLS.clear()
    result = grade_all(subs, out_dir=out, jobs=1, grade_fn=scripted_grader, progress=False)
    assert graded_names() == ["c.ipynb", "d.ipynb"] and result.skipped == ["a", "b"]
    assert len(result.rows) == 4


# --- shards and merging -----------------------------------------------------------------------


def test_merged_shards_equal_one_unsharded_run(tmp_path):
    students = {f"s{i}": notebook({"relu_grad": i % 3}) for i in range(7)}
    subs = flat_dir(tmp_path, students)
    whole = grade_all(subs, out_dir=tmp_path / "whole", jobs=2, grade_fn=scripted_grader, progress=False)
    shard_csvs = []
    for i in range(3):
        r = grade_all(subs, out_dir=tmp_path / f"shard{i}", jobs=1, grade_fn=scripted_grader,
                      progress=False, shard=(i, 3))
        assert 2 <= len(r.rows) <= 3
        shard_csvs.append(r.grades_csv)
    merged = tmp_path / "merged.csv"
    assert merge_csvs(shard_csvs, merged) == 7
    strip = [{k: v for k, v in row.items() if k != "submission"} for row in read_csv(merged)]
    assert strip == [{k: v for k, v in row.items() if k != "submission"} for row in read_csv(whole.grades_csv)]


def test_merge_refuses_conflicts_and_drops_identical_repeats(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    a.write_text("student,total\nx,1\ny,2\n")
    b.write_text("student,total\ny,2\nz,3\n")
    c.write_text("student,total\nx,5\n")
    assert merge_csvs([a, b], tmp_path / "m.csv") == 3
    assert (tmp_path / "m.csv").read_text() == "student,total\nx,1\ny,2\nz,3\n"
    with pytest.raises(BatchError, match="student 'x' has different rows"):
        merge_csvs([a, c], tmp_path / "m2.csv")
    (tmp_path / "d.csv").write_text("student,score\nq,1\n")
    with pytest.raises(BatchError, match="header"):
        merge_csvs([a, tmp_path / "d.csv"], tmp_path / "m3.csv")
    assert not (tmp_path / "m2.csv").exists() and not (tmp_path / "m3.csv").exists()


# --- cross-check and feedback from the batch ------------------------------------------------------


def test_batch_writes_crosscheck_from_an_nbgrader_export(tmp_path):
    subs = flat_dir(tmp_path, {"alice": notebook({"relu_grad": 0}), "bob": notebook()})
    export = tmp_path / "nbgrader.csv"
    export.write_text("assignment,duedate,timestamp,student_id,last_name,first_name,email,raw_score,"
                      "late_submission_penalty,score,max_score\n"
                      "mlp,,2025-01-01,alice,,,,100.0,0.0,100.0,100.0\n"
                      "mlp,,2025-01-01,bob,,,,100.0,0.0,100.0,100.0\n", encoding="utf-8")
    result = grade_all(subs, out_dir=tmp_path / "out", jobs=1, grade_fn=scripted_grader, progress=False,
                       nbgrader_grades=export)
    rows = read_csv(tmp_path / "out" / "crosscheck.csv")
    assert [(r["student"], r["question"], r["nbgrader"], r["autograder"]) for r in rows] == [
        ("alice", "total", "100", "90")]
    assert "alice" in result.summary() and "warning: " in result.summary()


def test_a_bad_gradebook_fails_before_any_grading(tmp_path):
    subs = flat_dir(tmp_path, {"alice": notebook()})
    with pytest.raises(BatchError):
        grade_all(subs, out_dir=tmp_path / "out", grade_fn=scripted_grader, progress=False,
                  nbgrader_grades=tmp_path / "missing.db")
    assert CALLS == []


def test_batch_writes_feedback_pages_when_asked(tmp_path):
    subs = flat_dir(tmp_path, {"alice": notebook({"relu_grad": 0})})
    grade_all(subs, out_dir=tmp_path / "out", jobs=1, grade_fn=scripted_grader, progress=False, feedback=True)
    page = (tmp_path / "out" / "feedback" / "alice" / "feedback.md").read_text(encoding="utf-8")
    assert "| 0 / 10 |" in page and "Total: 90 / 100" in page


# --- the real grader ----------------------------------------------------------------------------


def test_grader_fingerprint_follows_grading_code_only(tmp_path):
    """Does editing the engine or the kit invalidate finished reports, and editing course code not?"""
    engine, kit, course = tmp_path / "engine", tmp_path / "mlp_lab", tmp_path / "course"
    for folder in (engine / "child", kit, course):
        folder.mkdir(parents=True)
    for path in (engine / "judge.py", engine / "child" / "sandbox.py", kit / "checks.py", course / "batch.py"):
        path.write_text("x = 1\n")
    first = grader_fingerprint((engine, kit))
    (course / "batch.py").write_text("x = 2\n")
    assert grader_fingerprint((engine, kit)) == first
    (engine / "child" / "sandbox.py").write_text("x = 2\n")
    second = grader_fingerprint((engine, kit))
    assert second != first
    (kit / "checks.py").write_text("x = 2\n")
    assert grader_fingerprint((engine, kit)) != second
    assert {p.relative_to(ROOT).as_posix() for p in GRADING_CODE} == {"autograder/engine", "mlp_lab"}
    assert grader_fingerprint() == grader_fingerprint((ROOT / "autograder" / "engine", ROOT / "mlp_lab"))


@pytest.mark.slow
def test_real_grader_on_solution_release_and_corrupt_notebooks(tmp_path, monkeypatch):
    """End to end with `grader.grade_notebook`: every notebook gets its row, the solution full marks."""
    import autograder.course.batch

    # Other people may edit the grader while this test runs; pin the code fingerprint so that the
    # rerun below tests resume by content hash (test_grader_fingerprint_* covers the fingerprint).
    fingerprint = grader_fingerprint()
    monkeypatch.setattr(autograder.course.batch, "grader_fingerprint", lambda: fingerprint)
    solution = ROOT / "source" / "mlp" / "mlp.ipynb"
    if not solution.is_file():
        pytest.skip("source/mlp/mlp.ipynb is not there yet")
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "sol.ipynb").write_bytes(solution.read_bytes())
    (subs / "corrupt.ipynb").write_text("{ not a notebook", encoding="utf-8")
    result = grade_all(subs, out_dir=tmp_path / "out", jobs=2, progress=False)
    rows = {r.student: r for r in result.rows}
    assert rows["sol"].total == rows["sol"].max_score == 100, rows["sol"].reason
    assert rows["corrupt"].total == 0 and rows["corrupt"].status == "ungraded"
    again = grade_all(subs, out_dir=tmp_path / "out", jobs=2, progress=False)
    assert again.skipped == ["corrupt", "sol"] and again.graded == []


# --- the commands (`autograder.cli`) --------------------------------------------------------------


def test_merge_csv_command_merges_and_reports_conflicts(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("student,total\nx,1\n")
    b.write_text("student,total\nx,2\n")
    runner = CliRunner()
    ok = runner.invoke(main, ["merge-csv", str(a), "--out", str(tmp_path / "m.csv")])
    assert ok.exit_code == 0 and "1 rows" in ok.output
    bad = runner.invoke(main, ["merge-csv", str(a), str(b), "--out", str(tmp_path / "m2.csv")])
    assert bad.exit_code == 1 and "different rows" in bad.output
    cat = runner.invoke(main, ["merge-csv", str(a), str(b), "--key", "none", "--out", str(tmp_path / "m3.csv")])
    assert cat.exit_code == 0 and (tmp_path / "m3.csv").read_text() == "student,total\nx,1\nx,2\n"


def test_feedback_command_writes_a_page_per_report(tmp_path):
    subs = flat_dir(tmp_path, {"alice": notebook(), "bob": notebook({"accuracy": 0})})
    grade_all(subs, out_dir=tmp_path / "out", jobs=1, grade_fn=scripted_grader, progress=False)
    res = CliRunner().invoke(main, ["feedback", str(tmp_path / "out" / "reports"), "--out", str(tmp_path / "fb")])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "fb").iterdir()) == ["alice", "bob"]
    assert "Total: 84 / 100" in (tmp_path / "fb" / "bob" / "feedback.md").read_text(encoding="utf-8")


def test_grade_all_command_rejects_a_bad_shard(tmp_path):
    subs = flat_dir(tmp_path, {"alice": notebook()})
    res = CliRunner().invoke(main, ["grade-all", str(subs), "--shard", "2/2", "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "need 0 <= INDEX < COUNT" in res.output


def test_regrade_workflow_uses_only_options_the_commands_have():
    """Does .github/workflows/regrade.yml stay in step with grade-all's and merge-csv's options?"""
    import re

    import yaml

    text = (ROOT / ".github" / "workflows" / "regrade.yml").read_text(encoding="utf-8")
    jobs = yaml.safe_load(text)["jobs"]
    assert jobs["grade"]["strategy"]["fail-fast"] is False and jobs["merge"]["needs"] == ["plan", "grade"]
    grade_opts = {o for p in main.commands["grade-all"].params for o in p.opts}
    merge_opts = {o for p in main.commands["merge-csv"].params for o in p.opts}
    used_grade = set(re.findall(r"(--[a-z-]+)", " ".join(re.findall(r"args\+?=\((.*)\)[;\s]", text))))
    used_merge = set(re.findall(r"merge-csv [^\n]*?(--[a-z-]+)", text))
    assert {"--shard", "--out", "--jobs", "--no-progress", "--nbgrader", "--timeout"} <= used_grade <= grade_opts
    assert used_merge and used_merge <= merge_opts
