"""A fingerprint of the code that decides grades, so a batch regrade can tell a stale report.

It hashes every file of the grading engine (`autograder/engine/`) and of the student kit (`mlp_lab/`:
the registry, the inputs, the probes and the checks all live there), by path and content.  Course
operations (batch, feedback, the Classroom template), the CLI and the nbgrader glue do not decide a
grade, so editing them keeps finished reports valid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import mlp_lab

__all__ = ["GRADING_CODE", "grader_fingerprint"]

#: The folders whose files decide a grade.
GRADING_CODE: tuple[Path, ...] = (Path(__file__).resolve().parent, Path(mlp_lab.__file__).resolve().parent)
_SUFFIXES = (".py", ".json")


def _files(folders: Iterable[Path]) -> list[tuple[str, Path]]:
    out = []
    for folder in folders:
        for p in folder.rglob("*"):
            if p.is_file() and p.suffix in _SUFFIXES and "__pycache__" not in p.parts:
                out.append((f"{folder.name}/{p.relative_to(folder).as_posix()}", p))
    return sorted(out)


def grader_fingerprint(folders: Iterable[Path] = GRADING_CODE) -> str:
    """sha256 (16 hex digits) over the grading code's file names and contents."""
    digest = hashlib.sha256()
    for name, path in _files(folders):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]
