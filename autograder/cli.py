"""The command line: a thin layer over the package's functions.

    autograder grade SUBMISSION.ipynb [--json OUT.json] [--device auto|cpu|cuda] [--timeout SECONDS]
    autograder status REPORT.json QUESTION_ID     exit 0 iff that question passed (course CI steps)
    autograder demo                               the README's main job
    autograder grade-all / merge-csv / feedback   course-scale grading (see `batch`)
    autograder similarity SUBMISSIONS_DIR         pairs of students with matching code (`course.similarity`)
    autograder export-grades GRADES_CSV --roster R   Canvas and Moodle import files (`course.lms_export`)
    autograder classroom-template DIR             the students' GitHub Classroom repository

Also `python -m autograder ...`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .course.similarity import FLAG_THRESHOLD
from .errors import AutograderError
from .report import Report

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlp-autograder")
def main() -> None:
    """Hardened grading of the d2l multilayer-perceptron lab."""


@main.command()
@click.argument("submission", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as JSON to this file.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where the grader trains the student's models (auto: CUDA when present).")
@click.option("--timeout", type=click.FloatRange(min=1), default=None,
              help="Total seconds for this submission [default: 900].")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for the student's code.")
@click.option("--seed", type=int, default=None, help="Fix the grader's random inputs (to reproduce a grading).")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def grade(submission: Path, json_out: Path | None, device: str, timeout: float | None, threads: int | None,
          seed: int | None, quiet: bool) -> None:
    """Grade one submitted notebook and print a table of questions, points and messages.

    Exit status 0 whenever a report was produced, whatever the score.
    """
    from .grader import grade_notebook

    def progress(message: str) -> None:
        if not quiet:
            click.echo(f"  {message}", err=True)

    try:
        report = grade_notebook(submission, device=device, timeout=timeout, threads=threads, seed=seed,
                                progress=progress)
    except AutograderError as err:
        raise click.ClickException(f"no report for {submission}: {err}") from err
    if json_out is not None:
        report.write_json(json_out)
    click.echo(report.table())


@main.command()
@click.argument("report", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("question_id")
def status(report: Path, question_id: str) -> None:
    """Print one question's result from REPORT; exit 0 only if it passed (one CI step per question)."""
    try:
        result = Report.load(report).result(question_id)
    except KeyError as err:
        raise click.ClickException(f"{report} has no question {question_id!r}") from err
    except (ValueError, OSError) as err:
        raise click.ClickException(f"{report} is not a grader report: {err}") from err
    click.echo(f"{result.id}: {result.score:g}/{result.max_score:g} {result.status}\n{result.message}")
    sys.exit(0 if result.status == "passed" else 1)


def _attach_optional() -> None:
    """Commands that live beside their modules (batch grading, feedback, the classroom template)."""
    from . import batch

    for name in ("grade_all_command", "merge_csv_command", "feedback_command"):
        command = getattr(batch, name, None)
        if command is not None:
            main.add_command(command)
    try:
        from .classroom import classroom_template_command
    except ImportError:
        return
    main.add_command(classroom_template_command)


_attach_optional()


@main.command()
@click.argument("submissions_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("similarity"),
              show_default=True, help="Where similarity.csv, index.html and pairs/*.html go.")
@click.option("--release", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The released notebook [default: release/ASSIGNMENT/ASSIGNMENT.ipynb here].")
@click.option("--assignment", default="mlp", show_default=True, help="Assignment name (nbgrader folder).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=FLAG_THRESHOLD, show_default=True,
              help="Score at or above which a pair is flagged and gets a page.")
@click.option("--top", type=click.IntRange(min=0), default=5, show_default=True, help="Pairs to print.")
def similarity(submissions_dir: Path, out_dir: Path, release: Path | None, assignment: str, threshold: float,
               top: int) -> None:
    """Rank pairs of students in SUBMISSIONS_DIR by how much of their code matches (for the instructor's
    judgment; it changes no grade)."""
    from .course.similarity import Params, run_similarity

    try:
        result = run_similarity(submissions_dir, out_dir=out_dir, release=release, assignment=assignment,
                                params=Params(threshold=threshold))
    except AutograderError as err:
        raise click.ClickException(str(err)) from err
    click.echo(result.summary(top))


@main.command("export-grades")
@click.argument("grades_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="CSV: student (our id), github, name, canvas_id, sis_user_id, sis_login_id, section, "
                   "email, username, idnumber.")
@click.option("--nbgrader", "gradebook", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="nbgrader's gradebook.db: add the hand-graded written answers' points.")
@click.option("--assignment", default="mlp", show_default=True, help="Assignment name in nbgrader's gradebook.")
@click.option("--assignment-name", default=None, help="The grade column's name in the LMS [default: ASSIGNMENT].")
@click.option("--canvas-assignment-id", default=None,
              help="Canvas's id of the assignment, to update it (without: Canvas makes a new assignment).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("lms"),
              show_default=True, help="Where canvas.csv, moodle.csv and unmatched.csv go.")
def export_grades(grades_csv: Path, roster: Path, gradebook: Path | None, assignment: str,
                  assignment_name: str | None, canvas_assignment_id: str | None, out_dir: Path) -> None:
    """Write Canvas's and Moodle's grade import CSVs from GRADES_CSV (of grade-all) and a roster."""
    from .course.lms_export import export_grades as run_export

    try:
        result = run_export(grades_csv, roster, out_dir=out_dir, gradebook=gradebook, assignment=assignment,
                            assignment_name=assignment_name, canvas_assignment_id=canvas_assignment_id)
    except AutograderError as err:
        raise click.ClickException(str(err)) from err
    click.echo(result.summary())


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/demo"),
              show_default=True, help="Where the release, the example submissions and the reports go.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Submissions graded at once.")
def demo(out: Path, jobs: int | None) -> None:
    """The main job: release the assignment with nbgrader, grade the bundled examples, print a grade table."""
    from .demo import run_demo

    try:
        run_demo(out, jobs=jobs)
    except AutograderError as err:
        raise click.ClickException(str(err)) from err
