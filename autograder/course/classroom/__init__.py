"""The students' GitHub Classroom repository: `autograder classroom-template DIR`.

What `write_template` writes (no grader, no hidden test, no solution):

    mlp.ipynb                          the released notebook (release/mlp/mlp.ipynb), unchanged
    mlp_lab/                           the student kit the notebook imports (a copy of this package's)
    pyproject.toml                     makes that folder installable (`mlp-lab`, no dependencies of its own)
    requirements.txt, environment.yml  the pins a student needs (from this package's own pins) and `-e .`
    README.md, .gitignore              for the student: set-up, visible checks, how grading works, points
    .github/workflows/classroom.yml    the autograding workflow (`workflow.py`)
    .github/classroom/points.py        report -> the reporter's per-question results (`points.py`, copied)
    .github/classroom/questions.json   the registry's ids, points and titles, for points.py
    .github/actionlint.yaml            only for the self-hosted GPU variant (names the `gpu` label)

Modules: `template` (the files), `workflow` (classroom.yml and `GraderSource`, where the grader is
installed from), `points` (standard library only; the template's copy runs on the runner).
"""

from __future__ import annotations

from .points import runner_name
from .template import KIT, KIT_DIST, STUDENT_PACKAGES, default_source, pinned_requirements, write_template
from .workflow import (
    ACTIONS,
    CPU_INDEX_URL,
    DATA_KEY,
    GRADER_VENV,
    JOB_ID,
    NOTEBOOK,
    REPORT_PATH,
    GraderSource,
    Runner,
    workflow_yaml,
)

__all__ = [
    "ACTIONS",
    "CPU_INDEX_URL",
    "DATA_KEY",
    "GRADER_VENV",
    "JOB_ID",
    "KIT",
    "KIT_DIST",
    "NOTEBOOK",
    "REPORT_PATH",
    "STUDENT_PACKAGES",
    "GraderSource",
    "Runner",
    "default_source",
    "pinned_requirements",
    "runner_name",
    "workflow_yaml",
    "write_template",
]
