"""Grade a whole course: find every submission, grade N at once, resume, write `grades.csv`.

    grade_all(SUBMISSIONS_DIR, out_dir=OUT, jobs=N)     # the API behind `autograder grade-all`
    merge_csvs([shard0/grades.csv, ...], OUT.csv)       # the API behind `autograder merge-csv`

Submissions are found as `submissions.find_submissions` says (nbgrader's `submitted/<student>/<assignment>/`
or a flat folder of `<student>.ipynb`).

What lands in `out_dir`:

* `reports/<student>.json` -- the report of `autograder grade --json`, written atomically, with
  `artifacts["batch"] = {"student", "source", "sha256", "grader"}`: the sha256 of the notebook's
  bytes and a fingerprint of the grading code.  A rerun skips a student whose report holds the same
  two hashes, so an interrupted batch resumes where it stopped and an edited submission (or an
  updated grader) is graded again.  A report made because the grader itself crashed or hung is kept
  for the CSV but never counts as done.
* `grades.csv` -- one row per student: `student, submission, <question ids...>, total, max_score,
  status, reason`, rebuilt from the reports at the end of every run (also after Ctrl-C).
  `status` is `graded` (every question reached a verdict), `partial` (some questions errored or
  timed out: `reason` names them), `ungraded` (none did: corrupt notebook, crash at import, ...),
  `review` (the integrity gate refused code that reaches into the grader: `reason` names the cell,
  line and construct for the instructor to look at) or `grader-error` (the grader raised or hung:
  `reason` says which; rerun to retry).
* `crosscheck.csv` when nbgrader's gradebook (or exported CSV) is given: see `crosscheck`.
* `feedback/<student>/` when `feedback=True`: see `feedback`.

Gradings run on `pool.Pool`'s worker threads; with `jobs > 1` each grading is told to use one torch
thread.  A grading that outlives `hard_timeout` gets a `grader-error` row, and the batch goes on.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from mlp_lab.questions import QUESTION_IDS

from ..engine import grade_notebook
from ..engine.fingerprint import grader_fingerprint
from ..errors import BatchError
from ..files import write_csv_atomic
from ..report import Report
from .crosscheck import crosscheck, load_nbgrader_scores, write_crosscheck_csv
from .feedback import load_reference_curves, write_feedback
from .pool import Pool
from .similarity import SimilarityResult, run_similarity
from .submissions import DEFAULT_ASSIGNMENT, Submission, find_submissions, select_shard, sha256_file

__all__ = [
    "GRADES_HEADER",
    "ROW_STATUSES",
    "BatchResult",
    "GradeFn",
    "Row",
    "grade_all",
    "merge_csvs",
    "row_from_report",
    "write_grades_csv",
]

GRADES_HEADER: tuple[str, ...] = ("student", "submission", *QUESTION_IDS, "total", "max_score",
                                  "status", "reason")
ROW_STATUSES = ("graded", "partial", "ungraded", "review", "grader-error")
# A grading that runs this much longer than the grader's own total timeout is declared hung.
WATCHDOG_FACTOR = 2.0
WATCHDOG_SLACK_S = 120.0
WATCHDOG_DEFAULT_S = 1800.0
REASON_MAX_CHARS = 300


class GradeFn(Protocol):
    """What `grade_all` calls for each submission (`grader.grade_notebook` has this signature)."""

    def __call__(self, path: str | os.PathLike[str], *, device: str = ..., timeout: float | None = ...,
                 threads: int | None = ...) -> Report: ...


@dataclass(frozen=True)
class Row:
    """One line of `grades.csv`."""

    student: str
    submission: str
    scores: dict[str, float]
    total: float
    max_score: float
    status: str
    reason: str

    def as_csv(self) -> list[str]:
        return [self.student, self.submission, *(f"{self.scores[q]:g}" for q in QUESTION_IDS),
                f"{self.total:g}", f"{self.max_score:g}", self.status, self.reason]


@dataclass
class BatchResult:
    """What `grade_all` did: every row (sorted by student), and where it wrote them."""

    rows: list[Row]
    graded: list[str]
    skipped: list[str]
    out_dir: Path
    seconds: float
    discrepancies: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    similarity: SimilarityResult | None = None

    @property
    def grades_csv(self) -> Path:
        return self.out_dir / "grades.csv"

    @property
    def reports_dir(self) -> Path:
        return self.out_dir / "reports"

    def summary(self) -> str:
        counts = {s: sum(r.status == s for r in self.rows) for s in ROW_STATUSES}
        parts = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        text = (f"{len(self.rows)} students ({parts}); graded {len(self.graded)}, "
                f"skipped {len(self.skipped)} unchanged, in {self.seconds:.1f} s -> {self.grades_csv}")
        if self.discrepancies:
            students = sorted({d.student for d in self.discrepancies})
            text += (f"\nnbgrader disagrees with the grader for {len(students)} student(s): "
                     f"{', '.join(students)} (see {self.out_dir / 'crosscheck.csv'})")
        text += "".join(f"\nwarning: {w}" for w in self.warnings)
        if self.similarity is not None:
            text += "\n" + self.similarity.summary()
        return text


# --- rows and the CSV -------------------------------------------------------------------------


def _one_line(text: str, limit: int = REASON_MAX_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def row_from_report(student: str, report: Report) -> Row:
    """The `grades.csv` row of a report; `status` and `reason` say whether every question was graded."""
    batch = report.artifacts.get("batch") or {}
    scores = {q.id: q.score for q in report.questions}
    broken = [q for q in report.questions if q.status in ("error", "timeout")]
    review = [q for q in report.questions if q.status == "review"]
    if batch.get("grader_error"):
        status, reason = "grader-error", _one_line(report.questions[0].message)
    elif review:
        status, reason = "review", _one_line(review[0].message)
    elif len(broken) == len(report.questions):
        messages = {q.message for q in broken}
        status = "ungraded"
        reason = _one_line(broken[0].message if len(messages) == 1 else
                           "; ".join(f"{q.id}: {q.status}: {q.message}" for q in broken))
    elif broken:
        status = "partial"
        reason = _one_line("; ".join(f"{q.id}: {q.status}: {_one_line(q.message, 80)}" for q in broken))
    else:
        status, reason = "graded", ""
    return Row(student=student, submission=str(batch.get("source", report.submission)), scores=scores,
               total=report.score, max_score=report.max_score, status=status, reason=reason)


def write_grades_csv(rows: Iterable[Row], path: str | os.PathLike[str]) -> None:
    """Write `grades.csv` atomically, rows sorted by student."""
    write_csv_atomic(Path(path), GRADES_HEADER,
                      (r.as_csv() for r in sorted(rows, key=lambda r: r.student)))


def merge_csvs(paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], *,
               key: str | None = "student") -> int:
    """Merge CSVs with one header (e.g. per-shard `grades.csv`) into `out`, sorted; returns the row count.

    With `key`, each value of that column may appear once (identical repeats are dropped, so merging
    a shard twice is harmless); with `key=None` rows are concatenated (e.g. `crosscheck.csv`).

    Raises:
        BatchError: no input, a missing file, headers that differ, or one key with different rows.
    """
    if not paths:
        raise BatchError("merge_csvs: no CSV files given")
    header: list[str] | None = None
    rows: list[list[str]] = []
    seen: dict[str, tuple[list[str], str]] = {}
    for p in paths:
        file = Path(p)
        if not file.is_file():
            raise BatchError(f"merge_csvs: {file} does not exist")
        with file.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            this_header = next(reader, None)
            if this_header is None:
                raise BatchError(f"merge_csvs: {file} is empty (not even a header)")
            if header is None:
                header = this_header
                if key is not None and key not in header:
                    raise BatchError(f"merge_csvs: {file} has no column {key!r}")
            elif this_header != header:
                raise BatchError(f"merge_csvs: {file} has header {this_header}, expected {header} "
                                 "(were the shards made by different grader versions?)")
            for row in reader:
                if key is not None:
                    k = row[header.index(key)]
                    if k in seen:
                        if seen[k][0] != row:
                            raise BatchError(f"merge_csvs: {key} {k!r} has different rows in {seen[k][1]} "
                                             f"and {file}; a student must be graded in one shard only")
                        continue
                    seen[k] = (row, str(file))
                rows.append(row)
    assert header is not None
    rows.sort()
    write_csv_atomic(Path(out), header, rows)
    return len(rows)


# --- the batch --------------------------------------------------------------------------------


def _report_path(out_dir: Path, student: str) -> Path:
    return out_dir / "reports" / f"{student}.json"


def _load_done(path: Path, sha256: str, fingerprint: str) -> Report | None:
    """The finished report at `path` if it graded these exact bytes with this grader, else None."""
    if not path.is_file():
        return None
    try:
        report = Report.load(path)
    except Exception:  # a report from an older format or a foreign file: grade again
        return None
    batch = report.artifacts.get("batch") or {}
    if batch.get("grader_error") or batch.get("sha256") != sha256 or batch.get("grader") != fingerprint:
        return None
    return report


def _error_report(sub: Submission, seconds: float, message: str) -> Report:
    return Report.all_failed(sub.source or sub.student, device="none", seconds=seconds, status="error",
                             message=message)


def _grade_one(sub: Submission, sha: str, fingerprint: str, grade_fn: Callable[..., Report],
               kwargs: dict[str, Any]) -> Report:
    """Grade one submission; never raises (a grader exception becomes an all-error report)."""
    start = time.perf_counter()
    meta: dict[str, Any] = {"student": sub.student, "source": sub.source, "sha256": sha, "grader": fingerprint}
    if sub.path is None:
        report = _error_report(sub, 0.0, f"Nothing to grade: {sub.problem}.")
    else:
        try:
            report = grade_fn(sub.path, **kwargs)
            if not isinstance(report, Report):
                raise TypeError(f"grade_fn returned {type(report).__name__}, not a Report")
        except Exception as err:
            meta["grader_error"] = True
            report = _error_report(sub, time.perf_counter() - start,
                                   f"The grader itself failed on this submission ({type(err).__name__}: "
                                   f"{err}); rerun grade-all to retry it.")
    report.artifacts["batch"] = meta
    return report


def grade_all(
    submissions_dir: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str],
    jobs: int | None = None,
    grade_fn: Callable[..., Report] | None = None,
    progress: bool = True,
    shard: tuple[int, int] | None = None,
    nbgrader_grades: str | os.PathLike[str] | None = None,
    assignment: str = DEFAULT_ASSIGNMENT,
    device: str = "auto",
    timeout: float | None = None,
    hard_timeout: float | None = None,
    force: bool = False,
    feedback: bool = False,
    reference_curves: str | os.PathLike[str] | None = None,
    similarity: bool = False,
) -> BatchResult:
    """Grade every submission under `submissions_dir` into `out_dir`; see the module docstring.

    Args:
        jobs: gradings at once (default: the number of CPU cores).  With more than one, each grading
            gets `threads=1`.
        grade_fn: grades one notebook (default `autograder.grader.grade_notebook`).
        progress: show done / total, elapsed and remaining time on stderr.
        shard: `(index, count)`: grade only this shard of the sorted students (see `select_shard`).
        nbgrader_grades: nbgrader's `gradebook.db` or `nbgrader export` CSV: write `crosscheck.csv`.
        timeout: passed to `grade_fn` (the grader's total time limit per submission).
        hard_timeout: the watchdog's limit per grading (default: 2 x timeout + 120 s, or 30 min).
        force: grade again even students whose report is up to date.
        feedback: also write each student's feedback pages under `out_dir/feedback/`.
        similarity: also write the similarity report under `out_dir/similarity/` (after grading, and
            apart from it: the report changes no grade); the release is `release/<assignment>/` here.

    Never raises for a bad submission; raises `BatchError` for a bad batch (missing directory,
    duplicate student, bad shard, unreadable gradebook).
    """
    start = time.perf_counter()
    out = Path(out_dir)
    fn = grade_fn or grade_notebook
    subs = select_shard(find_submissions(submissions_dir, assignment=assignment), shard)
    nbgrader = None
    if nbgrader_grades is not None:  # read it first: a bad path fails before hours of grading
        nbgrader = load_nbgrader_scores(nbgrader_grades, assignment=assignment)
    jobs = max(1, jobs or os.cpu_count() or 1)
    kwargs: dict[str, Any] = {"device": device, "timeout": timeout, "threads": 1 if jobs > 1 else None}
    if hard_timeout is None:
        hard_timeout = WATCHDOG_FACTOR * timeout + WATCHDOG_SLACK_S if timeout else WATCHDOG_DEFAULT_S
    fingerprint = grader_fingerprint()

    reports: dict[str, Report] = {}
    hashes: dict[str, str] = {}
    todo: list[int] = []
    skipped: list[str] = []
    for i, sub in enumerate(subs):
        hashes[sub.student] = sha256_file(sub.path) if sub.path is not None else ""
        done = None if force else _load_done(_report_path(out, sub.student), hashes[sub.student], fingerprint)
        if done is not None:
            reports[sub.student] = done
            skipped.append(sub.student)
        else:
            todo.append(i)
    if progress and skipped:
        print(f"grade-all: {len(skipped)} of {len(subs)} already graded and unchanged; skipping them",
              file=sys.stderr)

    def work(i: int) -> Report:
        sub = subs[i]
        return _grade_one(sub, hashes[sub.student], fingerprint, fn, kwargs)

    bar = None
    if progress and todo:
        bar = tqdm(total=len(todo), file=sys.stderr, unit="nb", desc="grading", dynamic_ncols=True)
    graded: list[str] = []

    def record(i: int, outcome: Report | BaseException | None) -> None:
        sub = subs[i]
        if isinstance(outcome, Report):
            report = outcome
        else:
            why = (f"The grading did not finish within the batch watchdog's {hard_timeout:.0f} s and "
                   "was abandoned; rerun grade-all to retry it." if outcome is None else
                   f"The batch worker failed ({type(outcome).__name__}: {outcome}); rerun grade-all.")
            report = _error_report(sub, float(hard_timeout or 0.0) if outcome is None else 0.0, why)
            report.artifacts["batch"] = {"student": sub.student, "source": sub.source,
                                         "sha256": hashes[sub.student], "grader": fingerprint,
                                         "grader_error": True}
        report.write_json(_report_path(out, sub.student))
        reports[sub.student] = report
        if sub.student in graded:  # recorded again after Ctrl-C interrupted its first recording
            return
        graded.append(sub.student)
        if bar is not None:
            bar.set_postfix_str(sub.student, refresh=False)
            bar.update(1)

    pool = Pool(jobs, work, hard_timeout)
    current: tuple[int, Report | BaseException | None] | None = None
    try:
        for current in pool.run(todo):
            record(*current)
            current = None
    except KeyboardInterrupt:
        # Keep what finished before Ctrl-C (also the report being written when it came: writes are
        # atomic, so it is either complete or absent), so that a rerun need not redo it.
        for item in ([current] if current is not None else []) + list(pool.drain()):
            record(*item)
        raise
    finally:
        if bar is not None:
            bar.close()
        rows = [row_from_report(s, r) for s, r in sorted(reports.items())]
        write_grades_csv(rows, out / "grades.csv")

    result = BatchResult(rows=rows, graded=graded, skipped=skipped, out_dir=out,
                         seconds=time.perf_counter() - start)
    if nbgrader is not None:
        result.discrepancies = crosscheck(reports, nbgrader, include_missing=shard is None)
        result.warnings += nbgrader.warnings
        write_crosscheck_csv(result.discrepancies, out / "crosscheck.csv")
    if feedback:
        curves = load_reference_curves(reference_curves)
        for student, report in sorted(reports.items()):
            write_feedback(report, out / "feedback" / student, student=student, reference_curves=curves)
    if similarity:
        result.similarity = run_similarity(submissions_dir, out_dir=out / "similarity", assignment=assignment)
    return result


