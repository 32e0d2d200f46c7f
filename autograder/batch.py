"""Grade a whole course: find every submission, grade N at once, resume, write `grades.csv`.

    grade_all(SUBMISSIONS_DIR, out_dir=OUT, jobs=N)     # the API behind `autograder grade-all`
    merge_csvs([shard0/grades.csv, ...], OUT.csv)       # the API behind `autograder merge-csv`

Where submissions are looked for in `SUBMISSIONS_DIR` (student id in angle brackets):

* nbgrader's layout, as a course directory or as its `submitted/` folder:
  `[submitted/]<student>/<assignment>/*.ipynb` (the notebook named `<assignment>.ipynb` wins when a
  folder holds several; with several and none of that name the student gets an "ungraded" row);
* a flat folder of notebooks: `<student>.ipynb` (student id = file stem).

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
  timed out: `reason` names them), `ungraded` (none did: corrupt notebook, crash at import, ...)
  or `grader-error` (the grader raised or hung: `reason` says which; rerun to retry).
* `crosscheck.csv` when nbgrader's gradebook (or exported CSV) is given: see `crosscheck`.
* `feedback/<student>/` when `feedback=True`: see `feedback`.

Gradings run on a pool of daemon threads (each grading is already a set of child processes, so
threads suffice); with `jobs > 1` each grading is told to use one torch thread.  A watchdog gives a
grading that outlives `hard_timeout` a `grader-error` row and starts a fresh worker, so one hung
grading never stalls the batch.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import click

from .errors import BatchError
from .questions import QUESTION_IDS
from .report import Report, write_text_atomic

__all__ = [
    "GRADES_HEADER",
    "ROW_STATUSES",
    "BatchResult",
    "GradeFn",
    "Row",
    "Submission",
    "feedback_command",
    "find_submissions",
    "grade_all",
    "grade_all_command",
    "grader_fingerprint",
    "merge_csv_command",
    "merge_csvs",
    "parse_shard",
    "row_from_report",
    "select_shard",
    "sha256_file",
    "write_grades_csv",
]

GRADES_HEADER: tuple[str, ...] = ("student", "submission", *QUESTION_IDS, "total", "max_score",
                                  "status", "reason")
ROW_STATUSES = ("graded", "partial", "ungraded", "grader-error")
DEFAULT_ASSIGNMENT = "mlp"
# A grading that runs this much longer than the grader's own total timeout is declared hung.
WATCHDOG_FACTOR = 2.0
WATCHDOG_SLACK_S = 120.0
WATCHDOG_DEFAULT_S = 1800.0
REASON_MAX_CHARS = 300
# Modules that do not affect a verdict: editing them must not invalidate finished reports.
_NOT_GRADING = frozenset({"batch.py", "feedback.py", "crosscheck.py", "cli.py", "__main__.py"})


class GradeFn(Protocol):
    """What `grade_all` calls for each submission (`grader.grade_notebook` has this signature)."""

    def __call__(self, path: str | os.PathLike[str], *, device: str = ..., timeout: float | None = ...,
                 threads: int | None = ...) -> Report: ...


@dataclass(frozen=True)
class Submission:
    """One student's notebook.  `path` is None when the student's folder held no single notebook."""

    student: str
    path: Path | None
    problem: str = ""

    @property
    def source(self) -> str:
        return str(self.path) if self.path is not None else ""


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
        return text


# --- finding submissions ----------------------------------------------------------------------


def _notebooks(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))


def _pick(student: str, folder: Path, assignment: str) -> Submission:
    notebooks = _notebooks(folder)
    named = folder / f"{assignment}.ipynb"
    if named in notebooks:
        return Submission(student, named)
    if len(notebooks) == 1:
        return Submission(student, notebooks[0])
    if not notebooks:
        return Submission(student, None, f"no notebook in {folder}")
    names = ", ".join(p.name for p in notebooks)
    return Submission(student, None, f"{len(notebooks)} notebooks in {folder} ({names}) and none is "
                                     f"named {assignment}.ipynb; keep one or rename it")


def find_submissions(directory: str | os.PathLike[str], *,
                     assignment: str = DEFAULT_ASSIGNMENT) -> list[Submission]:
    """Every submission under `directory`, sorted by student id (see the module docstring).

    Raises:
        BatchError: `directory` does not exist, or one student id is found twice.
    """
    root = Path(directory)
    if not root.is_dir():
        raise BatchError(f"submissions directory {root} does not exist or is not a directory")
    submitted = root / "submitted" if (root / "submitted").is_dir() else root
    found: dict[str, Submission] = {}

    def add(sub: Submission) -> None:
        if sub.student in found:
            raise BatchError(f"student {sub.student!r} found twice: {found[sub.student].source or '?'} and "
                             f"{sub.source or '?'}; remove one of them")
        found[sub.student] = sub

    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (student_dir / assignment).is_dir():
            add(_pick(student_dir.name, student_dir / assignment, assignment))
    for nb in _notebooks(root):
        add(Submission(nb.stem, nb))
    return [found[s] for s in sorted(found)]


def parse_shard(text: str) -> tuple[int, int]:
    """`"2/8"` -> `(2, 8)`: shard index (0-based, as a GitHub Actions matrix index) and shard count."""
    try:
        index_s, count_s = text.split("/")
        index, count = int(index_s), int(count_s)
    except ValueError:
        raise BatchError(f"--shard must look like INDEX/COUNT (e.g. 0/4), not {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise BatchError(f"--shard {text}: need 0 <= INDEX < COUNT")
    return index, count


def select_shard(submissions: Sequence[Submission], shard: tuple[int, int] | None) -> list[Submission]:
    """The submissions of shard `(index, count)`: every count-th one of the sorted list, from index."""
    if shard is None:
        return list(submissions)
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise BatchError(f"shard {index}/{count}: need 0 <= index < count")
    ordered = sorted(submissions, key=lambda s: s.student)
    return ordered[index::count]


# --- hashes -----------------------------------------------------------------------------------


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def grader_fingerprint(package: str | os.PathLike[str] | None = None) -> str:
    """sha256 over the package's grading code (every module but the batch/feedback/CLI layers).

    `package` defaults to this package's directory.  A report whose fingerprint differs was made by
    other grading code, so `grade_all` grades that submission again.
    """
    package = Path(package) if package is not None else Path(__file__).resolve().parent
    digest = hashlib.sha256()
    files = [p for p in package.rglob("*.py") if p.name not in _NOT_GRADING or p.parent != package]
    for p in sorted(files):
        digest.update(p.relative_to(package).as_posix().encode())
        digest.update(b"\0")
        digest.update(p.read_bytes())
    return digest.hexdigest()[:16]


# --- rows and the CSV -------------------------------------------------------------------------


def _one_line(text: str, limit: int = REASON_MAX_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def row_from_report(student: str, report: Report) -> Row:
    """The `grades.csv` row of a report; `status` and `reason` say whether every question was graded."""
    batch = report.artifacts.get("batch") or {}
    scores = {q.id: q.score for q in report.questions}
    broken = [q for q in report.questions if q.status in ("error", "timeout")]
    if batch.get("grader_error"):
        status, reason = "grader-error", _one_line(report.questions[0].message)
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


def _write_csv_atomic(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def write_grades_csv(rows: Iterable[Row], path: str | os.PathLike[str]) -> None:
    """Write `grades.csv` atomically, rows sorted by student."""
    _write_csv_atomic(Path(path), GRADES_HEADER,
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
    _write_csv_atomic(Path(out), header, rows)
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


class _Pool:
    """`jobs` daemon worker threads; a worker stuck past `hard_timeout` is abandoned and replaced."""

    def __init__(self, jobs: int, work: Callable[[int], Report], hard_timeout: float | None) -> None:
        self.work, self.hard_timeout = work, hard_timeout
        self.tasks: queue.Queue[int] = queue.Queue()
        self.results: queue.Queue[tuple[int, Report | BaseException]] = queue.Queue()
        self.running: dict[int, float] = {}
        self.lock = threading.Lock()
        self.jobs = jobs

    def _worker(self) -> None:
        while True:
            try:
                i = self.tasks.get_nowait()
            except queue.Empty:
                return
            with self.lock:
                self.running[i] = time.monotonic()
            try:
                out: Report | BaseException = self.work(i)
            except BaseException as err:  # _grade_one never raises; this is a last line of defence
                out = err
            with self.lock:
                abandoned = self.running.pop(i, None) is None
            if not abandoned:
                self.results.put((i, out))
            else:
                return  # the watchdog already answered for this task and started a replacement

    def _spawn(self) -> None:
        threading.Thread(target=self._worker, daemon=True, name="grade-all-worker").start()

    def drain(self) -> list[tuple[int, Report | BaseException]]:
        """The results that finished but were not yet collected (used after Ctrl-C)."""
        out = []
        while True:
            try:
                out.append(self.results.get_nowait())
            except queue.Empty:
                return out

    def run(self, indices: Iterable[int]) -> Iterable[tuple[int, Report | BaseException | None]]:
        """Yield `(index, result)` as gradings finish; result None means the watchdog gave up on it."""
        n = 0
        for i in indices:
            self.tasks.put(i)
            n += 1
        for _ in range(min(self.jobs, n)):
            self._spawn()
        done = 0
        while done < n:
            try:
                yield self.results.get(timeout=0.5)
                done += 1
                continue
            except queue.Empty:
                pass
            if self.hard_timeout is None:
                continue
            now = time.monotonic()
            with self.lock:
                hung = [i for i, t in self.running.items() if now - t > self.hard_timeout]
                for i in hung:
                    del self.running[i]
            for i in hung:
                self._spawn()
                yield i, None
                done += 1


def _resolve_grade_fn(grade_fn: Callable[..., Report] | None) -> Callable[..., Report]:
    if grade_fn is not None:
        return grade_fn
    from .grader import grade_notebook  # imported late: the batch layer must not need it to load

    return grade_notebook


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

    Never raises for a bad submission; raises `BatchError` for a bad batch (missing directory,
    duplicate student, bad shard, unreadable gradebook).
    """
    start = time.perf_counter()
    out = Path(out_dir)
    fn = _resolve_grade_fn(grade_fn)
    subs = select_shard(find_submissions(submissions_dir, assignment=assignment), shard)
    nbgrader = None
    if nbgrader_grades is not None:  # read it first: a bad path fails before hours of grading
        from .crosscheck import load_nbgrader_scores

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
        from tqdm import tqdm

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

    pool = _Pool(jobs, work, hard_timeout)
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
        from .crosscheck import crosscheck, write_crosscheck_csv

        result.discrepancies = crosscheck(reports, nbgrader, include_missing=shard is None)
        result.warnings += nbgrader.warnings
        write_crosscheck_csv(result.discrepancies, out / "crosscheck.csv")
    if feedback:
        from .feedback import load_reference_curves, write_feedback

        curves = load_reference_curves(reference_curves)
        for student, report in sorted(reports.items()):
            write_feedback(report, out / "feedback" / student, student=student, reference_curves=curves)
    return result


# --- CLI commands: `autograder.cli` attaches them (`main.add_command(grade_all_command)` ...) -------


@click.command("grade-all")
@click.argument("submissions_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("grades"),
              show_default=True, help="Where grades.csv, reports/ (and crosscheck.csv, feedback/) go.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Gradings at once [default: number of CPU cores].")
@click.option("--shard", default=None, metavar="INDEX/COUNT",
              help="Grade only this shard of the sorted students (0-based), e.g. 0/4.")
@click.option("--nbgrader", "nbgrader_grades", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="nbgrader's gradebook.db or `nbgrader export` CSV: list where its points differ.")
@click.option("--assignment", default=DEFAULT_ASSIGNMENT, show_default=True,
              help="Assignment name (nbgrader folder and gradebook).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--timeout", type=float, default=None, help="Grader's time limit per submission (seconds).")
@click.option("--force", is_flag=True, help="Grade again even what is graded and unchanged.")
@click.option("--feedback", is_flag=True, help="Also write feedback pages to OUT/feedback/<student>/.")
@click.option("--similarity", is_flag=True,
              help="Also write the similarity report to OUT/similarity/ (release/ASSIGNMENT/ASSIGNMENT.ipynb here).")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
def grade_all_command(submissions_dir: Path, out_dir: Path, jobs: int | None, shard: str | None,
                      nbgrader_grades: Path | None, assignment: str, device: str, timeout: float | None,
                      force: bool, feedback: bool, similarity: bool, no_progress: bool) -> None:
    """Grade every submission in SUBMISSIONS_DIR (nbgrader's submitted/<student>/<assignment>/ or a folder
    of <student>.ipynb) into OUT/grades.csv and OUT/reports/<student>.json; a rerun skips what is unchanged."""
    try:
        result = grade_all(submissions_dir, out_dir=out_dir, jobs=jobs, progress=not no_progress,
                           shard=parse_shard(shard) if shard else None, nbgrader_grades=nbgrader_grades,
                           assignment=assignment, device=device, timeout=timeout, force=force,
                           feedback=feedback)
    except BatchError as err:
        raise click.ClickException(str(err)) from err
    click.echo(result.summary())
    if similarity:  # after grading, and apart from it: the report changes no grade
        from .course.similarity import run_similarity

        try:
            click.echo(run_similarity(submissions_dir, out_dir=out_dir / "similarity", assignment=assignment).summary())
        except BatchError as err:
            raise click.ClickException(f"similarity report: {err}") from err


@click.command("merge-csv")
@click.argument("csvs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The merged CSV (written atomically).")
@click.option("--key", default="student", show_default=True,
              help="Column whose values must be unique across inputs; 'none' to concatenate (crosscheck.csv).")
def merge_csv_command(csvs: tuple[Path, ...], out: Path, key: str) -> None:
    """Merge per-shard CSVs (grades.csv or crosscheck.csv) with one header into OUT, sorted."""
    try:
        n = merge_csvs(list(csvs), out, key=None if key.lower() == "none" else key)
    except BatchError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"merged {len(csvs)} file(s), {n} rows -> {out}")


@click.command("feedback")
@click.argument("reports", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("feedback"),
              show_default=True, help="Pages go to OUT/<student>/ (index.html, feedback.md, PNGs).")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Reference curves JSON, or the solution's report [default: the packaged curves].")
def feedback_command(reports: tuple[Path, ...], out: Path, reference: Path | None) -> None:
    """Write feedback pages from report JSON files (or folders of them, e.g. OUT/reports)."""
    from .feedback import load_reference_curves, write_feedback

    files = [p for r in reports for p in (sorted(r.glob("*.json")) if r.is_dir() else [r])]
    curves: dict[str, list[float]] = {}
    if reference is not None:
        data = json.loads(reference.read_text(encoding="utf-8"))
        curves = load_reference_curves(Report.from_dict(data) if "questions" in data else data)
    else:
        curves = load_reference_curves()
    for file in files:
        try:
            report = Report.load(file)
        except Exception as err:
            raise click.ClickException(f"{file} is not a grader report: {type(err).__name__}: {err}") from err
        student = str((report.artifacts.get("batch") or {}).get("student") or file.stem)
        write_feedback(report, out / student, student=student, reference_curves=curves)
    click.echo(f"wrote feedback for {len(files)} report(s) to {out}")
