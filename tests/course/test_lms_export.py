"""Canvas and Moodle import files from a real grades.csv, a roster and a real nbgrader gradebook."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from autograder.course.batch import Row, write_grades_csv
from autograder.course.lms_export import (
    CANVAS_HEADER,
    MOODLE_HEADER,
    UNMATCHED_HEADER,
    export_grades,
    load_written,
    read_roster,
)
from autograder.errors import BatchError
from mlp_lab.questions import MAX_SCORE, QUESTION_IDS, QUESTIONS

WRITTEN = {"written_relu_at_zero": 5.0, "written_hidden_layer": 5.0}  # as in source/mlp/mlp.ipynb
ROSTER_HEADER = "student,github,name,canvas_id,sis_user_id,sis_login_id,section,email,username,idnumber"


def row(student: str, lost: float = 0.0, status: str = "graded", reason: str = "") -> Row:
    scores = {q.id: float(q.points) for q in QUESTIONS} | {"accuracy": 16.0 - lost}
    return Row(student, f"{student}.ipynb", scores, MAX_SCORE - lost, MAX_SCORE, status, reason)


@pytest.fixture
def grades_csv(tmp_path) -> Path:
    path = tmp_path / "grades.csv"
    write_grades_csv([row("alice"), row("bob", lost=16.0), row("Carol-GH", lost=6.0), row("dave"),
                      row("erin", lost=100.0, status="grader-error", reason="the grader hung"),
                      row("frank", lost=100.0, status="ungraded", reason="not valid JSON")], path)
    return path


@pytest.fixture
def roster(tmp_path) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text("\n".join([
        ROSTER_HEADER,
        "alice,,\"Smith, Alice\",101,S001,asmith,Lab 1,alice@uni.edu,asmith,S001",
        "bob,bob-gh,\"Jones, Bob\",102,S002,bjones,Lab 2,bob@uni.edu,bjones,S002",
        ",carol-gh,\"Lee, Carol\",103,S003,clee,Lab 1,,,",  # GitHub username only, no Moodle id
        "erin,,\"Ng, Erin\",105,S005,eng,Lab 2,erin@uni.edu,eng,S005",
        "frank,,\"Ode, Frank\",,,,Lab 1,frank@uni.edu,fode,S006",  # no Canvas id
        "gina,,\"Park, Gina\",107,S007,gpark,Lab 2,gina@uni.edu,gpark,S007",  # no submission
    ]) + "\n", encoding="utf-8")
    return path


def read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def problems(out: Path) -> dict[tuple[str, str], list[str]]:
    rows = read(out / "unmatched.csv")
    assert tuple(rows[0]) == UNMATCHED_HEADER
    return {(r[0], r[1]): r for r in rows[1:]}


def test_canvas_csv_has_canvas_columns_and_the_points(grades_csv, roster, tmp_path):
    export_grades(grades_csv, roster, out_dir=tmp_path / "out", assignment_name="MLP lab")
    rows = read(tmp_path / "out" / "canvas.csv")
    assert rows[0] == [*CANVAS_HEADER, "MLP lab"]
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[1] == ["Points Possible", "", "", "", "", "100"]
    assert rows[2:] == [["Smith, Alice", "101", "S001", "asmith", "Lab 1", "100"],
                        ["Jones, Bob", "102", "S002", "bjones", "Lab 2", "84"],
                        ["Lee, Carol", "103", "S003", "clee", "Lab 1", "94"]]


def test_canvas_column_names_an_existing_assignment_by_its_id(grades_csv, roster, tmp_path):
    export_grades(grades_csv, roster, out_dir=tmp_path / "out", assignment_name="MLP lab",
                  canvas_assignment_id="4711")
    assert read(tmp_path / "out" / "canvas.csv")[0][-1] == "MLP lab (4711)"


def test_moodle_csv_has_identifier_columns_and_the_points(grades_csv, roster, tmp_path):
    export_grades(grades_csv, roster, out_dir=tmp_path / "out")
    rows = read(tmp_path / "out" / "moodle.csv")
    assert rows[0] == [*MOODLE_HEADER, "mlp"]
    assert rows[1:] == [["alice@uni.edu", "asmith", "S001", "Smith, Alice", "100"],
                        ["bob@uni.edu", "bjones", "S002", "Jones, Bob", "84"],
                        ["frank@uni.edu", "fode", "S006", "Ode, Frank", "0"]]


def test_students_missing_on_either_side_are_listed(grades_csv, roster, tmp_path):
    """Is every student who is not exported everywhere in unmatched.csv, with the reason?"""
    result = export_grades(grades_csv, roster, out_dir=tmp_path / "out")
    found = problems(tmp_path / "out")
    assert set(found) == {("dave", "not in roster"), ("gina", "no grade"), ("erin", "not graded"),
                          ("Carol-GH", "no Moodle id"), ("frank", "no Canvas id"), ("frank", "ungraded")}
    assert found[("erin", "not graded")][2] == "no" and "rerun grade-all" in found[("erin", "not graded")][3]
    assert found[("frank", "no Canvas id")][2] == "moodle"
    assert "dave" in result.summary() and "unmatched.csv" in result.summary()


def test_a_github_username_matches_whatever_its_case(grades_csv, roster, tmp_path):
    export_grades(grades_csv, roster, out_dir=tmp_path / "out")
    assert ["Lee, Carol", "103", "S003", "clee", "Lab 1", "94"] in read(tmp_path / "out" / "canvas.csv")


def test_a_roster_from_a_spreadsheet_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{ROSTER_HEADER}\nalice,,A,1,,,,,,\n".encode())
    assert [r.student for r in read_roster(path)] == ["alice"]


def test_a_roster_without_our_ids_is_refused(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("name,email\nAlice,a@uni.edu\n", encoding="utf-8")
    with pytest.raises(BatchError, match="column `student`"):
        read_roster(path)


def test_a_student_twice_in_the_roster_is_refused(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(f"{ROSTER_HEADER}\nalice,,A,1,,,,,,\nalice,,A2,2,,,,,,\n", encoding="utf-8")
    with pytest.raises(BatchError, match="lines 2 and 3"):
        read_roster(path)


def test_a_file_that_is_not_grades_csv_is_refused(roster, tmp_path):
    other = tmp_path / "crosscheck.csv"
    other.write_text("student,question,nbgrader\nalice,total,3\n", encoding="utf-8")
    with pytest.raises(BatchError, match=r"not grade-all's grades\.csv"):
        export_grades(other, roster, out_dir=tmp_path / "out")


# --- nbgrader's gradebook: the hand-graded written answers ---------------------------------------


@pytest.fixture
def gradebook(empty_gradebook, tmp_path) -> Path:
    """As after `nbgrader autograde` and some manual grading: alice fully graded, bob half, carol absent."""
    from nbgrader.api import Gradebook

    path = tmp_path / "gradebook.db"
    shutil.copyfile(empty_gradebook, path)
    with Gradebook(f"sqlite:///{path}") as gb:
        gb.add_assignment("mlp")
        gb.add_notebook("mlp", "mlp")
        for q in QUESTIONS:
            gb.add_grade_cell(q.id, "mlp", "mlp", max_score=float(q.points), cell_type="code")
        for gid, points in WRITTEN.items():
            gb.add_grade_cell(gid, "mlp", "mlp", max_score=points, cell_type="markdown")
        for student, manual in (("alice", {"written_relu_at_zero": 4.0, "written_hidden_layer": 5.0}),
                                ("bob", {"written_relu_at_zero": 3.0})):
            gb.add_student(student)
            gb.add_submission("mlp", student)
            for qid in QUESTION_IDS:
                gb.find_grade(qid, "mlp", "mlp", student).auto_score = 0.0
            for gid, score in manual.items():
                grade = gb.find_grade(gid, "mlp", "mlp", student)
                grade.manual_score, grade.needs_manual_grade = score, False
            gb.db.commit()
    return path


def test_written_answers_graded_by_hand_are_added(grades_csv, roster, gradebook, tmp_path):
    """Do alice's 9 written points join her 100, out of 110, with bob's one graded answer?"""
    result = export_grades(grades_csv, roster, out_dir=tmp_path / "out", gradebook=gradebook)
    rows = read(tmp_path / "out" / "canvas.csv")
    assert result.points_possible == MAX_SCORE + 10 and rows[1][-1] == "110"
    totals = {r[0]: r[-1] for r in rows[2:]}
    assert totals == {"Smith, Alice": "109", "Jones, Bob": "87", "Lee, Carol": "94"}


def test_missing_written_grades_are_said_not_dropped(grades_csv, roster, gradebook, tmp_path):
    result = export_grades(grades_csv, roster, out_dir=tmp_path / "out", gradebook=gradebook)
    found = problems(tmp_path / "out")
    assert "written_hidden_layer" in found[("bob", "written answers not graded")][3]
    assert ("Carol-GH", "no written grades") in found and ("alice", "written answers not graded") not in found
    assert "written answers included" in result.summary()


def test_written_answers_are_read_from_the_gradebook(gradebook):
    written = load_written(gradebook)
    assert written.max_points == WRITTEN
    assert written.points["bob"] == {"written_relu_at_zero": 3.0, "written_hidden_layer": None}


def test_a_gradebook_without_the_assignment_is_refused(gradebook):
    with pytest.raises(BatchError, match="no assignment 'lab2'"):
        load_written(gradebook, assignment="lab2")


def test_the_gradebook_is_never_written(grades_csv, roster, gradebook, tmp_path):
    before = gradebook.read_bytes()
    export_grades(grades_csv, roster, out_dir=tmp_path / "out", gradebook=gradebook)
    assert gradebook.read_bytes() == before


def test_export_grades_command_writes_three_files(grades_csv, roster, gradebook, tmp_path):
    from click.testing import CliRunner

    from autograder.cli import main

    res = CliRunner().invoke(main, ["export-grades", str(grades_csv), "--roster", str(roster), "--nbgrader",
                                    str(gradebook), "--assignment-name", "MLP lab", "--out", str(tmp_path / "lms")])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "lms").iterdir()) == ["canvas.csv", "moodle.csv", "unmatched.csv"]
    assert "canvas.csv: 3 students" in res.output and "gina: no grade" in res.output


def test_export_grades_command_explains_a_bad_roster(grades_csv, tmp_path):
    from click.testing import CliRunner

    from autograder.cli import main

    bad = tmp_path / "roster.csv"
    bad.write_text("name\nAlice\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["export-grades", str(grades_csv), "--roster", str(bad), "--out", str(tmp_path)])
    assert res.exit_code == 1 and "column `student`" in res.output
