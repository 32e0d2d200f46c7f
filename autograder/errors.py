"""The package's exceptions, in one place.

    AutograderError                 base of everything the package raises on purpose
    ├── DataError                   Fashion-MNIST missing, corrupt or inconsistent
    ├── NotebookError               a notebook that cannot be read (not JSON, not nbformat 4, ...)
    ├── SubmissionError             a submission that cannot be graded at all (no report possible)
    ├── SandboxError                the grader could not start or control a child process
    ├── CheckFailed (AssertionError)  a check failed; its message is written for the student
    └── BatchError                  a batch cannot run: bad submissions dir, duplicate student, bad shard,
                                    unreadable gradebook, CSVs that cannot be merged

`CheckFailed` subclasses `AssertionError` so that an nbgrader grade cell that calls
`CheckResult.require()` fails the way nbgrader expects, with the student-facing message as the
exception text rather than a bare `AssertionError`.
"""

from __future__ import annotations

__all__ = [
    "AutograderError",
    "BatchError",
    "CheckFailed",
    "DataError",
    "NotebookError",
    "SandboxError",
    "SubmissionError",
]


class AutograderError(Exception):
    """Base class of the errors this package raises deliberately."""


class DataError(AutograderError):
    """Fashion-MNIST could not be found, read or verified."""


class NotebookError(AutograderError):
    """A notebook file is unreadable: not JSON, not a notebook, or missing required structure."""


class SubmissionError(AutograderError):
    """A submission cannot be graded at all, so no report can be written."""


class SandboxError(AutograderError):
    """The grader failed to start, limit or collect a child process."""


class CheckFailed(AutograderError, AssertionError):
    """A check did not pass; `str(err)` is the message for the student."""


class BatchError(AutograderError):
    """A batch regrade cannot run or its outputs cannot be merged; the message says what to fix."""
