"""The student kit's exceptions.

    LabError                         base of everything the kit raises on purpose
    ├── DataError                    Fashion-MNIST missing, corrupt or inconsistent
    └── CheckFailed (AssertionError) a check failed; its message is written for the student

`CheckFailed` subclasses `AssertionError` so that an nbgrader grade cell that calls `check(...)`
fails the way nbgrader expects, with the student-facing message as the exception text.
The grader's own errors (`autograder.errors`) derive from `LabError` too, so one `except LabError`
catches everything either package raises deliberately.
"""

from __future__ import annotations

__all__ = ["CheckFailed", "DataError", "LabError"]


class LabError(Exception):
    """Base class of the errors the kit (and the grader) raise deliberately."""


class DataError(LabError):
    """Fashion-MNIST could not be found, read or verified."""


class CheckFailed(LabError, AssertionError):
    """A check did not pass; `str(err)` is the message for the student."""
