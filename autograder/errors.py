"""The package's exceptions, in one place (the kit's three come from `mlp_lab.errors`).

    LabError                          (mlp_lab) base of everything either package raises on purpose
    ├── DataError                     (mlp_lab) Fashion-MNIST missing, corrupt or inconsistent
    ├── CheckFailed (AssertionError)  (mlp_lab) a check failed; its message is written for the student
    └── AutograderError               base of the grader's own errors
        ├── NotebookError             a notebook that cannot be read (not JSON, not nbformat 4, ...)
        ├── SubmissionError           a submission that cannot be graded at all (no report possible)
        ├── SandboxError              the grader could not start or control a child process
        └── BatchError                a batch cannot run: bad submissions dir, duplicate student, bad shard,
                                      unreadable gradebook, CSVs that cannot be merged
"""

from __future__ import annotations

from mlp_lab.errors import CheckFailed, DataError, LabError

__all__ = [
    "AutograderError",
    "BatchError",
    "CheckFailed",
    "DataError",
    "LabError",
    "NotebookError",
    "SandboxError",
    "SubmissionError",
]


class AutograderError(LabError):
    """Base class of the errors the grader raises deliberately."""


class NotebookError(AutograderError):
    """A notebook file is unreadable: not JSON, not a notebook, or missing required structure."""


class SubmissionError(AutograderError):
    """A submission cannot be graded at all, so no report can be written."""


class SandboxError(AutograderError):
    """The grader failed to start, limit or collect a child process."""


class BatchError(AutograderError):
    """A batch regrade cannot run or its outputs cannot be merged; the message says what to fix."""
