"""The command line: every command, each a thin layer over a typed function of the package.

    autograder grade SUBMISSION.ipynb [--json OUT.json] ...   engine.grade_notebook
    autograder status REPORT.json QUESTION_ID                 exit 0 iff that question passed
    autograder grade-all SUBMISSIONS_DIR [--out DIR] ...      course.batch.grade_all
    autograder merge-csv CSV... --out OUT.csv                 course.batch.merge_csvs
    autograder feedback REPORTS... [--out DIR]                course.feedback.write_feedback_pages
    autograder similarity SUBMISSIONS_DIR [--out DIR]         course.similarity.run_similarity
    autograder export-grades GRADES_CSV --roster R [...]      course.lms_export.export_grades
    autograder classroom-template DIR [...]                   course.classroom.write_template
    autograder classroom-results REPORT.json [--output F]     course.classroom.points (what Classroom gets)
    autograder demo [--out DIR]                               course.demo.run_demo (the README's main job)

Also `python -m autograder ...`.  This is the only module that imports click.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlp_lab.errors import LabError
from mlp_lab.questions import QUESTIONS

from .report import Report

__all__ = ["main"]

_DEVICES = click.Choice(["auto", "cpu", "cuda"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlp-autograder")
def main() -> None:
    """Hardened grading of the d2l multilayer-perceptron lab."""


@main.command()
@click.argument("submission", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as JSON to this file.")
@click.option("--device", type=_DEVICES, default="auto", show_default=True,
              help="Where the grader trains the student's models (auto: CUDA when present).")
@click.option("--timeout", type=click.FloatRange(min=1), default=None,
              help="Total seconds for this submission [default: 900].")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for the student's code.")
@click.option("--seed", type=int, default=None, help="Fix the grader's random inputs (to reproduce a grading).")
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
def grade(submission: Path, json_out: Path | None, device: str, timeout: float | None, threads: int | None,
          seed: int | None, quiet: bool) -> None:
    """Grade one submitted notebook and print a table of questions, points and messages.

    Exit status 0 whenever a report was produced, whatever the score or the notebook; non-zero only
    when the report file cannot be written.
    """
    from .engine import grade_notebook

    def progress(message: str) -> None:
        if not quiet:
            click.echo(f"  {message}", err=True)

    try:
        report = grade_notebook(submission, device=device, timeout=timeout, threads=threads, seed=seed,
                                progress=progress)
    except Exception as err:  # a grader bug: still a report, every question says so
        report = Report.all_failed(str(submission), device, 0.0, "error",
                                   f"The grader itself failed on this notebook ({type(err).__name__}: {err}); "
                                   "this is not your mistake: tell your instructor.")
    if json_out is not None:
        try:
            report.write_json(json_out)
        except OSError as err:
            raise click.ClickException(f"cannot write the report to {json_out}: {err.strerror or err}") from err
    click.echo(report.table())


@main.command()
@click.argument("report", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("question_id")
def status(report: Path, question_id: str) -> None:
    """Print one question's result from REPORT; exit 0 only if it passed (for a CI step of your own)."""
    try:
        result = Report.load(report).result(question_id)
    except KeyError as err:
        raise click.ClickException(f"{report} has no question {question_id!r}") from err
    except (ValueError, OSError) as err:
        raise click.ClickException(f"{report} is not a grader report: {err}") from err
    click.echo(f"{result.id}: {result.score:g}/{result.max_score:g} {result.status}\n{result.message}")
    sys.exit(0 if result.status == "passed" else 1)


@main.command("grade-all")
@click.argument("submissions_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("grades"),
              show_default=True, help="Where grades.csv, reports/ (and crosscheck.csv, feedback/) go.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Gradings at once [default: number of CPU cores].")
@click.option("--shard", default=None, metavar="INDEX/COUNT",
              help="Grade only this shard of the sorted students (0-based), e.g. 0/4.")
@click.option("--nbgrader", "nbgrader_grades", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="nbgrader's gradebook.db or `nbgrader export` CSV: list where its points differ.")
@click.option("--assignment", default="mlp", show_default=True,
              help="Assignment name (nbgrader folder and gradebook).")
@click.option("--device", type=_DEVICES, default="auto", show_default=True)
@click.option("--timeout", type=float, default=None, help="Grader's time limit per submission (seconds).")
@click.option("--force", is_flag=True, help="Grade again even what is graded and unchanged.")
@click.option("--feedback", is_flag=True, help="Also write feedback pages to OUT/feedback/<student>/.")
@click.option("--similarity", is_flag=True,
              help="Also write the similarity report to OUT/similarity/ (release/ASSIGNMENT/ASSIGNMENT.ipynb here).")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
def grade_all(submissions_dir: Path, out_dir: Path, jobs: int | None, shard: str | None,
              nbgrader_grades: Path | None, assignment: str, device: str, timeout: float | None,
              force: bool, feedback: bool, similarity: bool, no_progress: bool) -> None:
    """Grade every submission in SUBMISSIONS_DIR (nbgrader's submitted/<student>/<assignment>/ or a folder
    of <student>.ipynb) into OUT/grades.csv and OUT/reports/<student>.json; a rerun skips what is unchanged."""
    from .course.batch import grade_all as run
    from .course.submissions import parse_shard

    try:
        result = run(submissions_dir, out_dir=out_dir, jobs=jobs, progress=not no_progress,
                     shard=parse_shard(shard) if shard else None, nbgrader_grades=nbgrader_grades,
                     assignment=assignment, device=device, timeout=timeout, force=force, feedback=feedback,
                     similarity=similarity)
    except LabError as err:
        raise click.ClickException(str(err)) from err
    click.echo(result.summary())


@main.command("merge-csv")
@click.argument("csvs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The merged CSV (written atomically).")
@click.option("--key", default="student", show_default=True,
              help="Column whose values must be unique across inputs; 'none' to concatenate (crosscheck.csv).")
def merge_csv(csvs: tuple[Path, ...], out: Path, key: str) -> None:
    """Merge per-shard CSVs (grades.csv or crosscheck.csv) with one header into OUT, sorted."""
    from .course.batch import merge_csvs

    try:
        n = merge_csvs(list(csvs), out, key=None if key.lower() == "none" else key)
    except LabError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"merged {len(csvs)} file(s), {n} rows -> {out}")


@main.command("feedback")
@click.argument("reports", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("feedback"),
              show_default=True, help="Pages go to OUT/<student>/ (index.html, feedback.md, PNGs).")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Reference curves JSON, or the solution's report [default: the packaged curves].")
def feedback(reports: tuple[Path, ...], out: Path, reference: Path | None) -> None:
    """Write feedback pages from report JSON files (or folders of them, e.g. OUT/reports)."""
    from .course.feedback import write_feedback_pages

    try:
        pages = write_feedback_pages(list(reports), out, reference)
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"wrote feedback for {len(pages)} report(s) to {out}")


@main.command("similarity")
@click.argument("submissions_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("similarity"),
              show_default=True, help="Where similarity.csv, index.html and pairs/*.html go.")
@click.option("--release", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The released notebook [default: release/ASSIGNMENT/ASSIGNMENT.ipynb here].")
@click.option("--assignment", default="mlp", show_default=True, help="Assignment name (nbgrader folder).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Score at or above which a pair is flagged and gets a page [default: the measured 0.72].")
@click.option("--top", type=click.IntRange(min=0), default=5, show_default=True, help="Pairs to print.")
def similarity(submissions_dir: Path, out_dir: Path, release: Path | None, assignment: str,
               threshold: float | None, top: int) -> None:
    """Rank pairs of students in SUBMISSIONS_DIR by how much of their code matches (for the instructor's
    judgment; it changes no grade)."""
    from .course.similarity import Params, run_similarity

    params = Params() if threshold is None else Params(threshold=threshold)
    try:
        result = run_similarity(submissions_dir, out_dir=out_dir, release=release, assignment=assignment,
                                params=params)
    except LabError as err:
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
    except LabError as err:
        raise click.ClickException(str(err)) from err
    click.echo(result.summary())


@main.command("classroom-template")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--release", "release_notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The released notebook [default: release/mlp/mlp.ipynb].")
@click.option("--grader-url", default=None, metavar="URL",
              help="Public URL of the grader's wheel (mlp_autograder-VERSION-py3-none-any.whl), e.g. a release "
                   "asset [default: a placeholder for this version under github.com/ORG/mlp-grader].")
@click.option("--grader-wheel", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The local copy of that wheel: its sha256 pins the download and keys the cache.")
@click.option("--grader-repo", default=None, metavar="OWNER/NAME",
              help="Instead of a wheel: the private repository to install from, with the secret AUTOGRADER_TOKEN.")
@click.option("--grader-ref", default=None, help="With --grader-repo: a tag or commit (a new one per grader version).")
@click.option("--runner", type=click.Choice(["github", "gpu"]), default="github", show_default=True,
              help="github: GitHub's ubuntu runners, CPU; gpu: self-hosted runners labelled gpu, --device cuda.")
@click.option("--force", is_flag=True, help="Write into a directory that is not empty.")
def classroom_template(dest: Path, release_notebook: Path | None, grader_url: str | None, grader_wheel: Path | None,
                       grader_repo: str | None, grader_ref: str | None, runner: str, force: bool) -> None:
    """Write the students' GitHub Classroom template repository into DEST."""
    from .course.classroom import GraderSource, default_source, write_template

    try:
        if grader_repo or grader_ref:
            if not (grader_repo and grader_ref) or grader_url or grader_wheel:
                raise click.UsageError("--grader-repo needs --grader-ref, and excludes --grader-url/--grader-wheel")
            source = GraderSource.repo(grader_repo, grader_ref)
        else:
            url = grader_url or default_source().location
            source = GraderSource.wheel_file(url, grader_wheel) if grader_wheel else GraderSource.wheel(url)
        written = write_template(dest, release_notebook=release_notebook, source=source,
                                 runner=runner, force=force)  # type: ignore[arg-type]
    except LabError as err:
        raise click.ClickException(str(err)) from err
    for path in written:
        click.echo(path)
    if source.kind == "wheel" and grader_url is None:
        click.echo(f"note: the workflow installs the grader from a placeholder URL ({source.location}); pass "
                   "--grader-url (and --grader-wheel) with the wheel you published", err=True)
    elif source.kind == "wheel" and source.sha256 is None:
        click.echo("note: without --grader-wheel the download is not pinned by its sha256 and a wheel replaced "
                   "under the same name keeps the old cache", err=True)


@main.command("classroom-results")
@click.argument("report", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append the reporter's inputs (`<runner>=<base64>` lines) here, e.g. $GITHUB_OUTPUT.")
@click.option("--summary", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append a Markdown points table here, e.g. $GITHUB_STEP_SUMMARY.")
@click.option("--notebook", type=click.Path(dir_okay=False, path_type=Path), default=Path("mlp.ipynb"),
              show_default=True, help="The graded notebook (named when there is no report).")
def classroom_results(report: Path, output: Path | None, summary: Path | None, notebook: Path) -> None:
    """Print what GitHub Classroom's reporter gets from REPORT: each question's points and why.

    The same code as the template's .github/classroom/points.py, which the workflow runs.
    """
    from .course.classroom.points import Spec, runner_results, write_outputs
    from .report import Report

    specs = [Spec(q.id, float(q.points), q.title) for q in QUESTIONS]
    if report.is_file():
        try:
            Report.load(report)
        except (ValueError, KeyError, TypeError) as err:
            raise click.ClickException(f"{report} is not a grader report: {err}") from err
    results = runner_results(specs, report, {"grade": "success" if report.is_file() else "failure"}, notebook)
    click.echo(write_outputs(results, output, summary))


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out/demo"),
              show_default=True, help="Where the release, the example submissions and the reports go.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Submissions graded at once.")
def demo(out: Path, jobs: int | None) -> None:
    """The main job: release the assignment with nbgrader, grade the bundled examples, print a grade table."""
    from .course.demo import run_demo

    try:
        run_demo(out, jobs=jobs)
    except LabError as err:
        raise click.ClickException(str(err)) from err
