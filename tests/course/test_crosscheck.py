"""Cross-check against nbgrader: real gradebooks (built with nbgrader.api) and real export CSVs."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import pytest

from autograder.course.crosscheck import (
    CROSSCHECK_HEADER,
    crosscheck,
    load_nbgrader_scores,
    write_crosscheck_csv,
)
from autograder.errors import BatchError
from autograder.report import QuestionResult, Report
from mlp_lab.questions import QUESTIONS

EXPORT_HEADER = ("assignment,duedate,timestamp,student_id,last_name,first_name,email,raw_score,"
                 "late_submission_penalty,score,max_score")


def make_report(zeroed: tuple[str, ...] = ()) -> Report:
    return Report("x.ipynb", "cpu", 1.0, [
        QuestionResult(q.id, 0.0 if q.id in zeroed else float(q.points), float(q.points),
                       "failed" if q.id in zeroed else "passed", f"why {q.id}") for q in QUESTIONS])


@pytest.fixture
def build_gradebook(empty_gradebook, tmp_path):
    """Make a gradebook as `nbgrader autograde` leaves it: one grade cell per question, auto scores set."""
    from nbgrader.api import Gradebook

    def build(grades: dict[str, dict[str, float]], *, points: dict[str, float] | None = None,
              assignment: str = "mlp") -> Path:
        path = tmp_path / "gradebook.db"
        shutil.copyfile(empty_gradebook, path)
        with Gradebook(f"sqlite:///{path}") as gb:
            gb.add_assignment(assignment)
            gb.add_notebook("mlp", assignment)
            for qid, pts in (points or {q.id: float(q.points) for q in QUESTIONS}).items():
                gb.add_grade_cell(qid, "mlp", assignment, max_score=pts, cell_type="code")
            for student, scores in grades.items():
                gb.add_student(student)
                gb.add_submission(assignment, student)
                for qid, score in scores.items():
                    gb.find_grade(qid, "mlp", assignment, student).auto_score = score
                gb.db.commit()
        return path

    return build


def full(**overrides: float) -> dict[str, float]:
    return {q.id: float(q.points) for q in QUESTIONS} | overrides


def test_gradebook_difference_is_listed_per_question(tmp_path, build_gradebook):
    """Does a tampered nbgrader run (full relu_grad points) show up as exactly that question?"""
    db = build_gradebook({"alice": full(), "bob": full(accuracy=0.0)})
    scores = load_nbgrader_scores(db)
    reports = {"alice": make_report(zeroed=("relu_grad",)), "bob": make_report(zeroed=("accuracy",))}
    found = crosscheck(reports, scores)
    assert [(d.student, d.question, d.nbgrader, d.autograder) for d in found] == [
        ("alice", "relu_grad", 10.0, 0.0)]
    assert found[0].difference == 10.0
    assert found[0].grader_status == "failed" and found[0].grader_message == "why relu_grad"


def test_reading_the_gradebook_leaves_it_untouched(tmp_path, build_gradebook):
    db = build_gradebook({"alice": full()})
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    load_nbgrader_scores(db)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gradebook.db"]


def test_students_on_one_side_only_are_listed(tmp_path, build_gradebook):
    db = build_gradebook({"alice": full(), "carol": full()})
    found = crosscheck({"alice": make_report(), "dave": make_report()}, load_nbgrader_scores(db))
    assert [(d.student, d.nbgrader, d.autograder) for d in found] == [("carol", 100.0, None), ("dave", None, 100.0)]
    shard = crosscheck({"alice": make_report()}, load_nbgrader_scores(db), include_missing=False)
    assert shard == []


def test_point_values_that_differ_from_the_questions_are_warned(tmp_path, build_gradebook):
    points = {q.id: float(q.points) for q in QUESTIONS} | {"accuracy": 20.0}
    db = build_gradebook({"alice": full()}, points=points)
    warnings = load_nbgrader_scores(db).warnings
    assert len(warnings) == 1 and "accuracy is worth 20 points in nbgrader but 16" in warnings[0]


def test_missing_assignment_names_the_ones_there(tmp_path, build_gradebook):
    db = build_gradebook({"alice": full()}, assignment="lab2")
    with pytest.raises(BatchError, match=r"no assignment 'mlp' \(it has: lab2\)"):
        load_nbgrader_scores(db)


def test_export_csv_totals_are_compared(tmp_path):
    export = tmp_path / "grades.csv"
    export.write_text("\n".join([
        EXPORT_HEADER,
        "mlp,,2025-01-01 10:00:00,alice,,,,100.0,0.0,100.0,100.0",
        "mlp,,2025-01-01 10:00:00,bob,,,,90.0,5.0,85.0,100.0",   # raw 90 vs grader 90: no row
        "mlp,,,erin,,,,0.0,0.0,0.0,100.0",                        # no submission: ignored
        "lab2,,2025-01-01 10:00:00,alice,,,,3.0,0.0,3.0,10.0",    # another assignment: ignored
    ]) + "\n", encoding="utf-8")
    scores = load_nbgrader_scores(export)
    assert scores.kind == "csv" and scores.totals == {"alice": 100.0, "bob": 90.0}
    found = crosscheck({"alice": make_report(zeroed=("affine_collapse",)), "bob": make_report(zeroed=("affine_collapse",))},
                       scores)
    assert [(d.student, d.question, d.difference) for d in found] == [("alice", "total", 10.0)]
    assert "affine_collapse: 0/10 failed" in found[0].grader_message


def test_a_file_that_is_neither_format_is_refused(tmp_path):
    bogus = tmp_path / "notes.csv"
    bogus.write_text("name,points\nalice,3\n", encoding="utf-8")
    with pytest.raises(BatchError, match="not the CSV of `nbgrader export`"):
        load_nbgrader_scores(bogus)
    with pytest.raises(BatchError, match="not found"):
        load_nbgrader_scores(tmp_path / "absent.db")


def test_crosscheck_csv_has_one_row_per_difference(tmp_path, build_gradebook):
    db = build_gradebook({"alice": full(), "bob": full()})
    reports = {"alice": make_report(zeroed=("relu_grad", "affine_collapse")), "bob": make_report()}
    out = tmp_path / "crosscheck.csv"
    write_crosscheck_csv(crosscheck(reports, load_nbgrader_scores(db)), out)
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CROSSCHECK_HEADER
    assert [r[:5] for r in rows[1:]] == [["alice", "relu_grad", "10", "0", "10"],
                                         ["alice", "affine_collapse", "10", "0", "10"]]


def test_written_answers_do_not_count_in_gradebook_totals(build_gradebook):
    """Does a hand-graded written answer (not a grader question) stay out of the compared points?"""
    points = {q.id: float(q.points) for q in QUESTIONS} | {"written_relu_at_zero": 5.0}
    db = build_gradebook({"alice": full(written_relu_at_zero=5.0)}, points=points)
    scores = load_nbgrader_scores(db)
    assert scores.totals == {"alice": 100.0}
    assert crosscheck({"alice": make_report()}, scores) == []


def test_export_csv_warns_that_totals_include_manual_points(tmp_path):
    export = tmp_path / "grades.csv"
    export.write_text(EXPORT_HEADER + "\nmlp,,2025-01-01,alice,,,,105.0,0.0,105.0,110.0\n", encoding="utf-8")
    scores = load_nbgrader_scores(export)
    assert any("manually graded" in w for w in scores.warnings)
