"""The README's main job, end to end on the bundled assignment.

Steps, in order (`STEPS`; `run_demo` asserts it runs them in that order):

1. `release`   copy `source/` and `nbgrader_config.py` into a scratch course and run the real
               `nbgrader generate_assignment mlp` there (the committed `release/` is untouched);
2. `examples`  derive example submissions from the source notebook (`examples`);
3. `grade`     grade them all with the hardened grader (`batch.grade_all`, progress on stderr);
4. `table`     print a grade table: questions x submissions, with points.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from mlp_lab.questions import QUESTIONS

from ..errors import AutograderError
from .batch import grade_all
from .examples import ASSIGNMENT, course_root, write_examples

__all__ = ["DEMO_EXAMPLES", "STEPS", "grade_table", "run_demo"]

STEPS = ("release", "examples", "grade", "table")
DEMO_EXAMPLES = ("solution", "untouched", "partial", "broken")


def _release(root: Path, course: Path) -> Path:
    if course.exists():
        shutil.rmtree(course)
    shutil.copytree(root / "source", course / "source")
    shutil.copy2(root / "nbgrader_config.py", course / "nbgrader_config.py")
    cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"]
    # nbgrader runs `alembic` (its gradebook migrations) from PATH: put this environment's scripts first.
    env = {**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}
    done = subprocess.run(cmd, cwd=course, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise AutograderError(f"`nbgrader generate_assignment {ASSIGNMENT}` failed in {course} "
                              f"(exit {done.returncode}); nbgrader said:\n{done.stdout[-2000:]}{done.stderr[-2000:]}\n"
                              f"If it names a cell, fix source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb; then run "
                              f"`bash scripts/main.sh` again.")
    release = course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    if not release.is_file():
        raise AutograderError(f"nbgrader wrote no {release}")
    return release


def grade_table(reports: dict[str, dict[str, float]]) -> str:
    """Questions down, submissions across, points in the cells, totals at the bottom."""
    names = list(reports)
    width = max(len(q.id) for q in QUESTIONS) + 2
    cols = [max(len(n), 7) for n in names]
    lines = ["question".ljust(width) + "max".rjust(5) + "  " + "  ".join(n.rjust(c) for n, c in zip(names, cols, strict=True))]
    lines.append("-" * len(lines[0]))
    for q in QUESTIONS:
        cells = "  ".join(f"{reports[n][q.id]:g}".rjust(c) for n, c in zip(names, cols, strict=True))
        lines.append(q.id.ljust(width) + f"{q.points:g}".rjust(5) + "  " + cells)
    lines.append("-" * len(lines[0]))
    total = sum(q.points for q in QUESTIONS)
    lines.append("total".ljust(width) + f"{total:g}".rjust(5) + "  "
                 + "  ".join(f"{sum(reports[n].values()):g}".rjust(c) for n, c in zip(names, cols, strict=True)))
    return "\n".join(lines)


def run_demo(out: Path, *, jobs: int | None = None, root: Path | None = None) -> dict[str, dict[str, float]]:
    """Run the steps; returns points per question for each example submission."""
    done: list[str] = []

    def step(name: str, message: str) -> None:
        assert STEPS[len(done)] == name, f"demo steps out of order: {name} after {done}"
        done.append(name)
        print(f"[{len(done)}/{len(STEPS)}] {message}", file=sys.stderr, flush=True)

    course_dir = course_root(root)
    out = out.resolve()
    step("release", f"nbgrader generate_assignment {ASSIGNMENT} (scratch course in {out / 'course'})")
    release = _release(course_dir, out / "course")
    step("examples", f"example submissions from source/{ASSIGNMENT}: {', '.join(DEMO_EXAMPLES)}")
    source = course_dir / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    write_examples(out / "submissions", DEMO_EXAMPLES, release=release, source=source)
    step("grade", f"grading {len(DEMO_EXAMPLES)} submissions with the hardened grader")
    result = grade_all(out / "submissions", out_dir=out / "grades", jobs=jobs, force=True)
    step("table", "grade table")
    points = {row.student: dict(row.scores) for row in result.rows}
    ordered = {n: points[n] for n in DEMO_EXAMPLES if n in points}
    print(grade_table(ordered))
    print(f"\nreports: {result.reports_dir}   grades: {result.grades_csv}")
    return ordered
