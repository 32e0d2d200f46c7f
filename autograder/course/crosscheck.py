"""Cross-check nbgrader's points against the hardened grader's, per student and per question.

nbgrader's hidden tests run inside the student's own kernel, where a determined student can
tamper with them (redefine `assert`, patch numpy, exit early ...).  The hardened grader runs them
out of process.  Where the two disagree, one of them is wrong, and an instructor should look.

Two inputs are understood:

* nbgrader's gradebook (`gradebook.db`, sqlite, read with `nbgrader.api.Gradebook`): points per
  grade cell.  The notebook's grade ids are the question ids, so the comparison is per question.
* the CSV of `nbgrader export` (columns `assignment, duedate, timestamp, student_id, last_name,
  first_name, email, raw_score, late_submission_penalty, score, max_score`): totals only, so the
  comparison is per student (question `total`).  `raw_score` is compared: the late penalty is
  a course policy, not a grading difference.  That total also holds the manually graded cells
  (the notebook's written answers), which the grader does not score: compare before manual
  grading, or use the gradebook.

`crosscheck.csv` holds one row per disagreement: `student, question, nbgrader, autograder,
difference, grader_status, grader_message` (the grader's message is for the instructor: it says
what the hardened grader saw).
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mlp_lab.questions import QUESTION_IDS, question

from ..errors import BatchError
from ..files import write_csv_atomic
from ..report import Report

__all__ = [
    "CROSSCHECK_HEADER",
    "POINTS_TOL",
    "Discrepancy",
    "NbgraderScores",
    "crosscheck",
    "load_nbgrader_scores",
    "write_crosscheck_csv",
]

POINTS_TOL = 1e-6  # nbgrader stores points as floats; closer than this is equal
CROSSCHECK_HEADER = ("student", "question", "nbgrader", "autograder", "difference", "grader_status",
                     "grader_message")
_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass
class NbgraderScores:
    """nbgrader's points: per question (from the gradebook) or per student total (from the CSV)."""

    source: Path
    kind: Literal["gradebook", "csv"]
    totals: dict[str, float]
    per_question: dict[str, dict[str, float]] = field(default_factory=dict)
    max_points: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Discrepancy:
    """One place where nbgrader and the grader disagree.  `None` means "has no score for it"."""

    student: str
    question: str  # a question id, or "total" when only nbgrader's totals are known
    nbgrader: float | None
    autograder: float | None
    grader_status: str = ""
    grader_message: str = ""

    @property
    def difference(self) -> float | None:
        if self.nbgrader is None or self.autograder is None:
            return None
        return round(self.nbgrader - self.autograder, 6)

    def as_csv(self) -> list[str]:
        def fmt(v: float | None) -> str:
            return "" if v is None else f"{v:g}"

        return [self.student, self.question, fmt(self.nbgrader), fmt(self.autograder), fmt(self.difference),
                self.grader_status, " ".join(self.grader_message.split())]


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC


def _load_gradebook(path: Path, assignment: str) -> NbgraderScores:
    scores = NbgraderScores(source=path, kind="gradebook", totals={})
    # nbgrader's Gradebook writes on open (it adds the course row when missing): read a copy, so the
    # instructor's database is never modified nor locked while nbgrader may be using it.
    with tempfile.TemporaryDirectory(prefix="crosscheck-") as tmp:
        copy = Path(tmp) / "gradebook.db"
        shutil.copyfile(path, copy)
        _read_gradebook(copy, path, assignment, scores)
    missing = [q for q in QUESTION_IDS if q not in scores.max_points]
    if scores.per_question and missing:
        scores.warnings.append(f"{path}: no grade cell with the id of question(s) {', '.join(missing)}; "
                               "their points cannot be compared (is the gradebook from another notebook?)")
    for qid in QUESTION_IDS:
        ours = question(qid).points
        if qid in scores.max_points and abs(scores.max_points[qid] - ours) > POINTS_TOL:
            scores.warnings.append(f"grade cell {qid} is worth {scores.max_points[qid]:g} points in nbgrader "
                                   f"but {ours:g} in the grader; fix the notebook's cell metadata, then run "
                                   "`nbgrader generate_assignment --force` and autograde again")
    return scores


def _read_gradebook(copy: Path, path: Path, assignment: str, scores: NbgraderScores) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{copy}") as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            names = ", ".join(a.name for a in gb.assignments) or "none"
            raise BatchError(f"{path}: nbgrader's gradebook has no assignment {assignment!r} "
                             f"(it has: {names}); pass the assignment's name") from None
        for submission in gb.assignment_submissions(assignment):
            student = submission.student.id
            points: dict[str, float] = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    name = str(grade.name)
                    points[name] = points.get(name, 0.0) + float(grade.score or 0.0)
                    scores.max_points[name] = float(grade.max_score or 0.0)
            scores.per_question[student] = points
            # Only the grader's questions: written answers are graded by hand and the grader has none.
            scores.totals[student] = float(sum(v for k, v in points.items() if k in QUESTION_IDS))


def _load_export_csv(path: Path, assignment: str) -> NbgraderScores:
    scores = NbgraderScores(source=path, kind="csv", totals={})
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        needed = {"assignment", "student_id", "raw_score"}
        if reader.fieldnames is None or not needed <= set(reader.fieldnames):
            raise BatchError(f"{path} is not the CSV of `nbgrader export`: it needs the columns "
                             f"{', '.join(sorted(needed))}; its header is {reader.fieldnames}")
        assignments: set[str] = set()
        for row in reader:
            assignments.add(row["assignment"])
            if row["assignment"] != assignment:
                continue
            if not row.get("timestamp", "x"):  # nbgrader writes an empty timestamp for "no submission"
                continue
            try:
                scores.totals[row["student_id"]] = float(row["raw_score"] or 0.0)
            except ValueError:
                raise BatchError(f"{path}: raw_score {row['raw_score']!r} of student {row['student_id']!r} "
                                 "is not a number") from None
    scores.warnings.append(f"{path}: nbgrader's exported raw_score includes manually graded cells (written "
                           "answers) that the grader does not score, so totals differ by those points once "
                           "they are graded; pass gradebook.db instead for a per-question comparison")
    if not scores.totals and assignment not in assignments:
        raise BatchError(f"{path}: no rows for assignment {assignment!r} (it has: "
                         f"{', '.join(sorted(assignments)) or 'none'})")
    return scores


def load_nbgrader_scores(path: str | os.PathLike[str], *, assignment: str = "mlp") -> NbgraderScores:
    """Read nbgrader's gradebook (sqlite) or its exported CSV, told apart by content.

    Raises:
        BatchError: the file is missing, neither format, or lacks the assignment.
    """
    file = Path(path)
    if not file.is_file():
        raise BatchError(f"nbgrader grades {file} not found; pass the course's gradebook.db "
                         "or the CSV written by `nbgrader export`")
    try:
        return _load_gradebook(file, assignment) if _is_sqlite(file) else _load_export_csv(file, assignment)
    except BatchError:
        raise
    except Exception as err:
        raise BatchError(f"cannot read nbgrader grades from {file}: {type(err).__name__}: {err}") from err


def _differ(a: float, b: float) -> bool:
    return abs(a - b) > POINTS_TOL


def crosscheck(reports: Mapping[str, Report], nbgrader: NbgraderScores, *,
               include_missing: bool = True) -> list[Discrepancy]:
    """Every (student, question) where nbgrader's points differ from the grader's, sorted.

    A student graded by only one side gets one row with the other side's points empty; students known
    to nbgrader only are listed when `include_missing` (off for a shard, which sees some students only).
    """
    order = {q: i for i, q in enumerate((*QUESTION_IDS, "total"))}
    out: list[Discrepancy] = []
    for student, report in reports.items():
        if student not in nbgrader.totals:
            out.append(Discrepancy(student, "total", None, report.score, "",
                                   "graded by the grader but not in nbgrader's grades"))
            continue
        if nbgrader.kind == "gradebook":
            theirs = nbgrader.per_question[student]
            for q in report.questions:
                if q.id in theirs and _differ(theirs[q.id], q.score):
                    out.append(Discrepancy(student, q.id, theirs[q.id], q.score, q.status, q.message))
        elif _differ(nbgrader.totals[student], report.score):
            broken = [f"{q.id}: {q.score:g}/{q.max_score:g} {q.status}" for q in report.questions
                      if q.score < q.max_score]
            out.append(Discrepancy(student, "total", nbgrader.totals[student], report.score, "",
                                   "grader: " + ("; ".join(broken) or "full marks")))
    if include_missing:
        for student in nbgrader.totals.keys() - reports.keys():
            out.append(Discrepancy(student, "total", nbgrader.totals[student], None, "",
                                   "in nbgrader's grades but no submission was graded by the grader"))
    out.sort(key=lambda d: (d.student, order.get(d.question, len(order))))
    return out


def write_crosscheck_csv(discrepancies: Sequence[Discrepancy], path: str | os.PathLike[str]) -> None:
    """Write `crosscheck.csv` atomically (a header only when nothing differs)."""
    write_csv_atomic(Path(path), CROSSCHECK_HEADER, (d.as_csv() for d in discrepancies))
