"""Grades for the LMS: Canvas's and Moodle's grade import files, from `grades.csv` and a roster.

    export_grades(GRADES_CSV, ROSTER_CSV, out_dir=OUT, gradebook=None)   # `autograder export-grades`

**The roster** (`ROSTER_CSV`, UTF-8, a header row, one row per student; only `student` or `github`
is required, the other columns as the LMS needs them):

    student       our id: the `student` column of grades.csv (nbgrader's student id, or the file stem)
    github        the student's GitHub username (GitHub Classroom), matched without regard to case
    name          "Last, First"                           Canvas: Student
    canvas_id     Canvas's user id                        Canvas: ID
    sis_user_id   the institution's student number        Canvas: SIS User ID
    sis_login_id  the institution's login                 Canvas: SIS Login ID
    section       the section's name                      Canvas: Section
    email, username, idnumber                             Moodle: Email address, Username, ID number

A row of grades.csv belongs to the roster row whose `student` is its student, else whose `github` is.

**canvas.csv** follows Canvas's gradebook import (Instructor Guide, "How do I import grades in the
Gradebook?"): the columns `Student, ID, SIS User ID, SIS Login ID, Section`, then one column for the
assignment, named `<name> (<Canvas assignment id>)` to update an assignment Canvas has, or `<name>`
to create one; the second row, `Points Possible`, gives its points.  Canvas finds a student by ID,
SIS User ID or SIS Login ID, so a student with none of them is not written.
**moodle.csv** is for Moodle's "Import grades > CSV file": `Email address, Username, ID number, Name`
and the assignment's column; at import, map one of the first three to the user ("Map from" ->
email address, username or ID number) and the assignment's column to its grade item.

**unmatched.csv** (`student, problem, exported, detail`) lists every student who needs a look, so
nobody is dropped silently: in grades.csv but not in the roster, in the roster without a grade, a
`grader-error` row (not exported: rerun grade-all), no id for one LMS, an ungraded or partial row, and
with `gradebook` (nbgrader's gradebook.db) written answers that nbgrader has no grade for yet.

With `gradebook`, the points of the hand-graded cells (the grade cells that are not the grader's
questions: the notebook's written answers) are added to each total and to the points possible.  The
gradebook is read from a copy, as `crosscheck` does, so nbgrader's database is never changed.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mlp_lab.questions import QUESTION_IDS

from ..errors import BatchError
from ..files import write_csv_atomic
from .batch import GRADES_HEADER

__all__ = [
    "CANVAS_HEADER",
    "MOODLE_HEADER",
    "ROSTER_COLUMNS",
    "UNMATCHED_HEADER",
    "ExportResult",
    "GradeRow",
    "Problem",
    "RosterEntry",
    "Written",
    "export_grades",
    "load_written",
    "match",
    "read_grades",
    "read_roster",
]

ROSTER_COLUMNS = ("student", "github", "name", "canvas_id", "sis_user_id", "sis_login_id", "section", "email",
                  "username", "idnumber")
CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_HEADER = ("Email address", "Username", "ID number", "Name")
UNMATCHED_HEADER = ("student", "problem", "exported", "detail")
_NOT_EXPORTED_STATUS = "grader-error"

ProblemKind = Literal["not in roster", "no grade", "not graded", "no Canvas id", "no Moodle id", "ungraded",
                      "partial", "no written grades", "written answers not graded"]


@dataclass(frozen=True)
class RosterEntry:
    student: str = ""
    github: str = ""
    name: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    email: str = ""
    username: str = ""
    idnumber: str = ""

    @property
    def label(self) -> str:
        return self.student or self.github

    @property
    def has_canvas_id(self) -> bool:
        return bool(self.canvas_id or self.sis_user_id or self.sis_login_id)

    @property
    def has_moodle_id(self) -> bool:
        return bool(self.email or self.username or self.idnumber)


@dataclass(frozen=True)
class GradeRow:
    """What the export needs from one row of grades.csv."""

    student: str
    total: float
    max_score: float
    status: str
    reason: str = ""


@dataclass(frozen=True)
class Problem:
    student: str
    problem: ProblemKind
    exported: str  # "canvas, moodle", "canvas", "moodle" or "no"
    detail: str

    def as_csv(self) -> list[str]:
        return [self.student, self.problem, self.exported, self.detail]


@dataclass(frozen=True)
class Written:
    """Hand-graded cells from nbgrader: their points possible, and each student's points (None: not graded)."""

    max_points: dict[str, float]
    points: dict[str, dict[str, float | None]]


@dataclass
class ExportResult:
    out_dir: Path
    canvas_rows: int
    moodle_rows: int
    points_possible: float
    problems: list[Problem] = field(default_factory=list)
    written: bool = False

    def summary(self) -> str:
        lines = [f"canvas.csv: {self.canvas_rows} students, moodle.csv: {self.moodle_rows} students, out of "
                 f"{self.points_possible:g} points" + (" (written answers included)" if self.written else "")
                 + f" -> {self.out_dir}"]
        lines += [f"  {p.student}: {p.problem} (exported: {p.exported}): {p.detail}" for p in self.problems]
        if self.problems:
            lines.append(f"{len(self.problems)} student(s) need a look: {self.out_dir / 'unmatched.csv'}")
        return "\n".join(lines)


def _rows(path: Path, what: str) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        raise BatchError(f"{what} {path} not found")
    with path.open(encoding="utf-8-sig", newline="") as fh:  # utf-8-sig: spreadsheets add a BOM
        reader = csv.DictReader(fh)
        rows = [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
        return [f.strip() for f in reader.fieldnames or []], rows


def read_roster(path: str | os.PathLike[str]) -> list[RosterEntry]:
    """The roster's rows (columns: ROSTER_COLUMNS; others are ignored).

    Raises:
        BatchError: no file, no `student` or `github` column, a row with neither, or an id twice.
    """
    header, rows = _rows(Path(path), "roster")
    if not {"student", "github"} & set(header):
        raise BatchError(f"roster {path} needs a column `student` (our ids, as in grades.csv) or `github`; "
                         f"its header is {header}. Columns: {', '.join(ROSTER_COLUMNS)}")
    entries: list[RosterEntry] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        entry = RosterEntry(**{c: row.get(c, "") for c in ROSTER_COLUMNS})
        if not entry.label:
            raise BatchError(f"roster {path}, line {line}: no student id and no GitHub username")
        for key in {f"student:{entry.student}", f"github:{entry.github.lower()}"} - {"student:", "github:"}:
            if key in seen:
                raise BatchError(f"roster {path}: {key.split(':', 1)[1]!r} on lines {seen[key]} and {line}; "
                                 "keep one row per student")
            seen[key] = line
        entries.append(entry)
    return entries


def read_grades(path: str | os.PathLike[str]) -> list[GradeRow]:
    """The rows of `grades.csv` (as written by grade-all or merge-csv).

    Raises:
        BatchError: no file, a header that is not grades.csv's, or a total that is not a number.
    """
    header, rows = _rows(Path(path), "grades CSV")
    if not {"student", "total", "max_score", "status"} <= set(header):
        raise BatchError(f"{path} is not grade-all's grades.csv (header {header}; expected {list(GRADES_HEADER)})")
    out = []
    for row in rows:
        try:
            out.append(GradeRow(row["student"], float(row["total"]), float(row["max_score"]), row["status"],
                                row.get("reason", "")))
        except ValueError:
            raise BatchError(f"{path}: student {row['student']!r} has total {row['total']!r} / max_score "
                             f"{row['max_score']!r}, not numbers") from None
    return out


def match(grades: Sequence[GradeRow], roster: Sequence[RosterEntry]) -> tuple[
        list[tuple[GradeRow, RosterEntry]], list[GradeRow], list[RosterEntry]]:
    """Pairs (grade row, roster entry), grade rows without an entry, and entries without a grade row."""
    by_student = {r.student: r for r in roster if r.student}
    by_github = {r.github.lower(): r for r in roster if r.github}
    pairs, lost = [], []
    for g in grades:
        entry = by_student.get(g.student) or by_github.get(g.student.lower())
        if entry is None:
            lost.append(g)
        else:
            pairs.append((g, entry))
    used = {id(e) for _, e in pairs}
    return pairs, lost, [r for r in roster if id(r) not in used]


def load_written(path: str | os.PathLike[str], *, assignment: str = "mlp") -> Written:
    """The hand-graded cells of `assignment` in nbgrader's gradebook.db (read from a copy).

    Raises:
        BatchError: no file, not a gradebook, or no such assignment.
    """
    file = Path(path)
    if not file.is_file():
        raise BatchError(f"nbgrader gradebook {file} not found; pass the course's gradebook.db")
    try:
        with tempfile.TemporaryDirectory(prefix="lms-export-") as tmp:
            copy = Path(tmp) / "gradebook.db"
            shutil.copyfile(file, copy)
            return _read_written(copy, file, assignment)
    except BatchError:
        raise
    except Exception as err:
        raise BatchError(f"cannot read nbgrader's gradebook {file}: {type(err).__name__}: {err}") from err


def _read_written(copy: Path, path: Path, assignment: str) -> Written:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{copy}") as gb:
        try:
            found = gb.find_assignment(assignment)
        except MissingEntry:
            names = ", ".join(a.name for a in gb.assignments) or "none"
            raise BatchError(f"{path}: nbgrader's gradebook has no assignment {assignment!r} (it has: {names}); "
                             "pass --assignment") from None
        max_points = {str(c.name): float(c.max_score or 0.0) for nb in found.notebooks for c in nb.grade_cells
                      if str(c.name) not in QUESTION_IDS}
        points: dict[str, dict[str, float | None]] = {}
        for sub in gb.assignment_submissions(assignment):
            mine: dict[str, float | None] = {}
            for notebook in sub.notebooks:
                for grade in notebook.grades:
                    if str(grade.name) in max_points:
                        graded = grade.manual_score is not None or not grade.needs_manual_grade
                        mine[str(grade.name)] = float(grade.score or 0.0) if graded else None
            points[str(sub.student.id)] = mine
    return Written(max_points=max_points, points=points)


def _written_points(student: str, written: Written) -> tuple[float, Problem | None]:
    """The student's hand-graded points so far, and what is missing."""
    mine = written.points.get(student)
    if mine is None:
        return 0.0, Problem(student, "no written grades", "", "nbgrader's gradebook has no submission of this "
                            "student: exported without the written answers' points")
    pending = sorted(g for g in written.max_points if mine.get(g) is None)
    got = sum(v for v in mine.values() if v is not None)
    if pending:
        return got, Problem(student, "written answers not graded", "", f"{', '.join(pending)} not graded by hand "
                            "yet in nbgrader (formgrader): exported without their points")
    return got, None


def export_grades(grades_csv: str | os.PathLike[str], roster_csv: str | os.PathLike[str], *,
                  out_dir: str | os.PathLike[str], gradebook: str | os.PathLike[str] | None = None,
                  assignment: str = "mlp", assignment_name: str | None = None,
                  canvas_assignment_id: str | None = None) -> ExportResult:
    """Write OUT/canvas.csv, OUT/moodle.csv and OUT/unmatched.csv (see the module docstring).

    Raises:
        BatchError: an unreadable grades.csv, roster or gradebook.
    """
    grades, roster = read_grades(grades_csv), read_roster(roster_csv)
    written = load_written(gradebook, assignment=assignment) if gradebook is not None else None
    pairs, lost, absent = match(grades, roster)
    name = assignment_name or assignment
    column = f"{name} ({canvas_assignment_id})" if canvas_assignment_id else name
    extra = sum(written.max_points.values()) if written else 0.0
    possible = max((g.max_score for g in grades), default=0.0) + extra
    problems = [Problem(g.student, "not in roster", "no", f"total {g.total:g}: add the student to the roster")
                for g in lost]
    problems += [Problem(r.label, "no grade", "no", "in the roster but not in grades.csv (no submission?)")
                 for r in absent]
    canvas: list[list[str]] = [["Points Possible", "", "", "", "", f"{possible:g}"]]
    moodle: list[list[str]] = []
    for g, r in sorted(pairs, key=lambda p: (p[0].student.lower(), p[0].student)):
        if g.status == _NOT_EXPORTED_STATUS:
            hint = "" if "rerun" in g.reason else "; rerun grade-all, then export again"
            problems.append(Problem(g.student, "not graded", "no", f"grade-all could not grade it: {g.reason}{hint}"))
            continue
        total, note = g.total, None
        if written is not None:
            points, note = _written_points(g.student, written)
            total += points
        exported = [lms for lms, ok in (("canvas", r.has_canvas_id), ("moodle", r.has_moodle_id)) if ok]
        where = ", ".join(exported) or "no"
        if note is not None:
            problems.append(Problem(note.student, note.problem, where, note.detail))
        if g.status in ("ungraded", "partial"):
            problems.append(Problem(g.student, g.status, where, f"total {g.total:g}: {g.reason}"))
        if not r.has_canvas_id:
            problems.append(Problem(g.student, "no Canvas id", where, "the roster has no canvas_id, sis_user_id "
                                    "or sis_login_id for this student"))
        else:
            canvas.append([r.name, r.canvas_id, r.sis_user_id, r.sis_login_id, r.section, f"{total:g}"])
        if not r.has_moodle_id:
            problems.append(Problem(g.student, "no Moodle id", where, "the roster has no email, username or "
                                    "idnumber for this student"))
        else:
            moodle.append([r.email, r.username, r.idnumber, r.name, f"{total:g}"])
    problems.sort(key=lambda p: (p.student, p.problem))
    out = Path(out_dir)
    write_csv_atomic(out / "canvas.csv", (*CANVAS_HEADER, column), canvas)
    write_csv_atomic(out / "moodle.csv", (*MOODLE_HEADER, name), moodle)
    write_csv_atomic(out / "unmatched.csv", UNMATCHED_HEADER, (p.as_csv() for p in problems))
    return ExportResult(out_dir=out, canvas_rows=len(canvas) - 1, moodle_rows=len(moodle), points_possible=possible,
                        problems=problems, written=written is not None)
