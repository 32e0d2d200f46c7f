"""Auto-graded multilayer-perceptron lab (d2l, PyTorch): data, checks and a hardened grader.

The public surface is `__all__`; modules whose names start with `_` are private.
"""

from __future__ import annotations

from .errors import AutograderError, CheckFailed, DataError, NotebookError, SandboxError, SubmissionError
from .questions import MAX_SCORE, QUESTION_IDS, QUESTIONS, Question
from .report import QuestionResult, Report

__all__ = [
    "MAX_SCORE",
    "QUESTIONS",
    "QUESTION_IDS",
    "AutograderError",
    "CheckFailed",
    "DataError",
    "NotebookError",
    "Question",
    "QuestionResult",
    "Report",
    "SandboxError",
    "SubmissionError",
]
