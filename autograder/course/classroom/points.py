"""The grader's report -> GitHub Classroom's reporter input: one runner per question, with its real points.

Standalone on purpose: the Python standard library only (3.8 or later), no grader, no kit.
`autograder classroom-template` copies this file unchanged into the student template as
`.github/classroom/points.py`; the workflow runs it with the runner's `python3` after every other
step (`if: always()`), so it reports even when the grader never installed, the data did not download,
the grade step failed or timed out, or the notebook is missing or corrupt.  Each question then gets
0 points and the reason; a question the grader graded gets exactly the grader's score, fractions included.

What `classroom-resources/autograding-grading-reporter@v1` (its dist/main.js at tag v1) does with it:

* reads the input `runners`, split on ",", and for each runner the variable `<RUNNER.upper()>_RESULTS`:
  base64 of `{"version": 1, "status", "max_score", "tests": [{"name", "status", "score", "message",
  "line_no"}]}`.  A missing or empty variable makes it fail before it prints any points;
* prints `Points <sum of every test's score>/<sum of max_score>` and `{"totalPoints", "maxPoints"}` as
  `::notice` lines, which GitHub Classroom reads, then fails the job when a runner's status is "fail"
  or "error";
* lists each test by its name ("pass", "fail") or its message ("error"), so both carry the reason.
  Its own table ("Test Score") counts only passed tests: a question with partial credit shows 0 there,
  while the `Points` line, which Classroom records, sums the real scores.

Runner names are the question ids in camelCase (`relu_values` -> `reluValues`): the reporter's error
branch checks the input against `^([a-zA-Z0-9]+,)*[a-zA-Z0-9]+$`, and names that pass it keep its
error messages truthful.

Command line (paths relative to the repository root, as in the workflow)::

    python3 .github/classroom/points.py --report .grade/report.json --questions .github/classroom/questions.json \\
        --notebook mlp.ipynb --log .grade/grade.log --output "$GITHUB_OUTPUT" --summary "$GITHUB_STEP_SUMMARY"

The steps' outcomes come from the environment: `INSTALL_OUTCOME`, `DATA_OUTCOME`, `GRADE_OUTCOME`
(`success`, `failure`, `cancelled`, `skipped`; unset counts as success).  The report is trusted only
when the grade step succeeded, so a `.grade/report.json` committed by a student counts for nothing.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Outcome", "Spec", "load_specs", "no_report_reason", "outcomes", "runner_name", "runner_results",
           "write_outputs"]

#: How much of the grade step's log a reason quotes.
LOG_TAIL_CHARS = 300
#: Longest message a runner's test name carries (the console prints it on one line).
NAME_CHARS = 400


@dataclass(frozen=True)
class Spec:
    """One question as the template knows it (from the registry, written into questions.json)."""

    id: str
    points: float
    title: str


@dataclass(frozen=True)
class Outcome:
    """One question's points and why, for one runner."""

    spec: Spec
    score: float
    status: str  # the reporter's: "pass", "fail" or "error"
    why: str

    @property
    def runner(self) -> str:
        return runner_name(self.spec.id)

    def line(self) -> str:
        """`relu_grad 0/10: <why>`: the one line a student reads in the reporter's list."""
        text = f"{self.spec.id} {_fmt(self.score)}/{_fmt(self.spec.points)}: {' '.join(self.why.split())}"
        return text if len(text) <= NAME_CHARS else text[: NAME_CHARS - 3] + "..."

    def result(self) -> dict[str, Any]:
        """The reporter's result for this runner (what the command-grader would have written)."""
        test = {"name": self.line(), "status": self.status, "score": _num(self.score), "message": self.line(),
                "line_no": 0, "filename": "", "duration": 0}
        return {"version": 1, "status": self.status, "max_score": _num(self.spec.points), "tests": [test]}

    def encoded(self) -> str:
        return base64.b64encode(json.dumps(self.result()).encode("utf-8")).decode("ascii")


def runner_name(qid: str) -> str:
    """`relu_values` -> `reluValues`: the runner's name, its output's name and its variable's stem."""
    head, *rest = qid.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _num(x: float) -> Any:
    return int(x) if float(x).is_integer() else float(x)


def _fmt(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.4g}"


def load_specs(path: Path) -> list[Spec]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Spec(str(q["id"]), float(q["points"]), str(q["title"])) for q in data]


def outcomes(environ: Mapping[str, str]) -> dict[str, str]:
    """The workflow steps' outcomes that decide whether a report may be read, and why there is none."""
    return {step: environ.get(f"{step.upper()}_OUTCOME", "") or "success" for step in ("install", "data", "grade")}


def no_report_reason(steps: Mapping[str, str], notebook: Path, log: Path | None) -> str:
    """Why no question was graded, in words a student can act on."""
    if steps.get("install") not in ("success", "skipped"):
        return ("the grader could not be installed on the runner (step 'Install the grader': "
                f"{steps.get('install')}); your notebook was not graded. Push again; if it fails again, "
                "tell your instructor.")
    if steps.get("data") not in ("success", "skipped"):
        return ("Fashion-MNIST could not be downloaded on the runner (step 'Download Fashion-MNIST': "
                f"{steps.get('data')}); your notebook was not graded. Push again later.")
    if not notebook.is_file():
        return (f"{notebook.name} is missing: keep the notebook's name and its place at the top of the "
                "repository (git mv it back), then push again.")
    grade = steps.get("grade")
    tail = ""
    if log is not None and log.is_file():
        lines = [ln.strip() for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        if lines:
            tail = f" Its last words: {lines[-1][-LOG_TAIL_CHARS:]}"
    if grade == "cancelled":
        return f"the grade step was cancelled or ran past its time limit.{tail}"
    if grade == "skipped":
        return "the grade step did not run because an earlier step failed (open the run's log)."
    if grade == "failure":
        return f"the grade step failed or ran past its time limit, so there is no report.{tail}"
    return f"the grade step wrote no readable report.{tail}"


def _read_report(path: Path, specs: Sequence[Spec]) -> dict[str, Mapping[str, Any]] | None:
    """The report's questions by id, or None when it is missing, unreadable or not for these questions."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = {str(q["id"]): q for q in data["questions"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for spec in specs:
        q = entries.get(spec.id)
        if q is None:
            continue
        score, top = q.get("score"), q.get("max_score")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            return None
        if not isinstance(top, (int, float)) or float(top) != spec.points or not 0 <= score <= spec.points:
            return None
    return entries


def runner_results(specs: Sequence[Spec], report: Path, steps: Mapping[str, str], notebook: Path,
                   log: Path | None = None) -> list[Outcome]:
    """Every question's outcome: the grader's score and message, or 0 and the reason there is none."""
    entries = _read_report(report, specs) if steps.get("grade") == "success" else None
    if entries is None:
        why = no_report_reason(steps, notebook, log)
        if steps.get("grade") == "success" and report.is_file():
            why = (f"{report} is not a report of this assignment's grader (unreadable, or other questions or "
                   "points); tell your instructor.")
        return [Outcome(s, 0.0, "error", why) for s in specs]
    out = []
    for spec in specs:
        q = entries.get(spec.id)
        if q is None:
            out.append(Outcome(spec, 0.0, "fail", "not in the grader's report; tell your instructor."))
            continue
        score = float(q["score"])
        message = str(q.get("message") or q.get("status") or "")
        out.append(Outcome(spec, score, "pass" if score >= spec.points else "fail", message or "passed"))
    return out


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def write_outputs(results: Sequence[Outcome], output: Path | None = None, summary: Path | None = None) -> str:
    """Append `<runner>=<base64>` per question to `output` and a points table to `summary`; return the text table."""
    if output is not None:
        with output.open("a", encoding="utf-8") as f:
            for r in results:
                f.write(f"{r.runner}={r.encoded()}\n")
    total, top = sum(r.score for r in results), sum(r.spec.points for r in results)
    if summary is not None:
        rows = "\n".join(f"| `{r.spec.id}` | {_fmt(r.score)} / {_fmt(r.spec.points)} | {_cell(r.why)} |"
                         for r in results)
        with summary.open("a", encoding="utf-8") as f:
            f.write(f"## Points: {_fmt(total)} / {_fmt(top)}\n\n| question | points | why |\n|---|---|---|\n"
                    f"{rows}\n")
    return "\n".join([*(r.line() for r in results), f"total {_fmt(total)}/{_fmt(top)}"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--report", type=Path, default=Path(".grade/report.json"))
    parser.add_argument("--questions", type=Path, default=Path(__file__).with_name("questions.json"))
    parser.add_argument("--notebook", type=Path, default=Path("mlp.ipynb"))
    parser.add_argument("--log", type=Path, default=None, help="the grade step's log, quoted when it failed")
    parser.add_argument("--output", type=Path, default=None, help="append name=value lines ($GITHUB_OUTPUT)")
    parser.add_argument("--summary", type=Path, default=None, help="append a Markdown table ($GITHUB_STEP_SUMMARY)")
    args = parser.parse_args(argv)
    specs = load_specs(args.questions)
    try:
        results = runner_results(specs, args.report, outcomes(os.environ), args.notebook, args.log)
    except Exception as err:  # whatever went wrong here, the reporter must still get every runner
        results = [Outcome(s, 0.0, "error", f"the points step failed ({type(err).__name__}: {err}); tell your "
                           "instructor.") for s in specs]
    print(write_outputs(results, args.output, args.summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
