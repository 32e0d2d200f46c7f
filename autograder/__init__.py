"""Auto-graded multilayer-perceptron lab (d2l, PyTorch): a hardened grader and the course's tools.

    engine/    grade one submission out of process (`grade_notebook`)
    course/    grade a course, cross-check nbgrader, feedback pages, the Classroom template, the demo
    nbgrader/  the glue nbgrader's hidden tests and configuration import
    cli.py     every command (`autograder ...`)

The question registry, the probes and the checks live in the student kit, `mlp_lab`, so that a
notebook's visible checks and the grader judge the same way.  The public surface is `__all__`;
modules whose names start with `_` are private.
"""

from __future__ import annotations

from mlp_lab.questions import MAX_SCORE, QUESTION_IDS, QUESTIONS, Question

from .errors import (
    AutograderError,
    CheckFailed,
    DataError,
    LabError,
    NotebookError,
    SandboxError,
    SubmissionError,
)
from .report import QuestionResult, Report

__all__ = [
    "MAX_SCORE",
    "QUESTIONS",
    "QUESTION_IDS",
    "AutograderError",
    "CheckFailed",
    "DataError",
    "LabError",
    "NotebookError",
    "Question",
    "QuestionResult",
    "Report",
    "SandboxError",
    "SubmissionError",
]
