"""Finding a course's submissions, and splitting them into shards.

Where submissions are looked for in `SUBMISSIONS_DIR` (student id in angle brackets):

* nbgrader's layout, as a course directory or as its `submitted/` folder:
  `[submitted/]<student>/<assignment>/*.ipynb` (the notebook named `<assignment>.ipynb` wins when a
  folder holds several; with several and none of that name the student gets an "ungraded" row);
* a flat folder of notebooks: `<student>.ipynb` (student id = file stem).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BatchError

__all__ = ["DEFAULT_ASSIGNMENT", "Submission", "find_submissions", "parse_shard", "select_shard", "sha256_file"]

DEFAULT_ASSIGNMENT = "mlp"


@dataclass(frozen=True)
class Submission:
    """One student's notebook.  `path` is None when the student's folder held no single notebook."""

    student: str
    path: Path | None
    problem: str = ""

    @property
    def source(self) -> str:
        return str(self.path) if self.path is not None else ""


# --- finding submissions ----------------------------------------------------------------------


def _notebooks(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.name.startswith("."))


def _pick(student: str, folder: Path, assignment: str) -> Submission:
    notebooks = _notebooks(folder)
    named = folder / f"{assignment}.ipynb"
    if named in notebooks:
        return Submission(student, named)
    if len(notebooks) == 1:
        return Submission(student, notebooks[0])
    if not notebooks:
        return Submission(student, None, f"no notebook in {folder}")
    names = ", ".join(p.name for p in notebooks)
    return Submission(student, None, f"{len(notebooks)} notebooks in {folder} ({names}) and none is "
                                     f"named {assignment}.ipynb; keep one or rename it")


def find_submissions(directory: str | os.PathLike[str], *,
                     assignment: str = DEFAULT_ASSIGNMENT) -> list[Submission]:
    """Every submission under `directory`, sorted by student id (see the module docstring).

    Raises:
        BatchError: `directory` does not exist, or one student id is found twice.
    """
    root = Path(directory)
    if not root.is_dir():
        raise BatchError(f"submissions directory {root} does not exist or is not a directory")
    submitted = root / "submitted" if (root / "submitted").is_dir() else root
    found: dict[str, Submission] = {}

    def add(sub: Submission) -> None:
        if sub.student in found:
            raise BatchError(f"student {sub.student!r} found twice: {found[sub.student].source or '?'} and "
                             f"{sub.source or '?'}; remove one of them")
        found[sub.student] = sub

    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (student_dir / assignment).is_dir():
            add(_pick(student_dir.name, student_dir / assignment, assignment))
    for nb in _notebooks(root):
        add(Submission(nb.stem, nb))
    return [found[s] for s in sorted(found)]


def parse_shard(text: str) -> tuple[int, int]:
    """`"2/8"` -> `(2, 8)`: shard index (0-based, as a GitHub Actions matrix index) and shard count."""
    try:
        index_s, count_s = text.split("/")
        index, count = int(index_s), int(count_s)
    except ValueError:
        raise BatchError(f"--shard must look like INDEX/COUNT (e.g. 0/4), not {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise BatchError(f"--shard {text}: need 0 <= INDEX < COUNT")
    return index, count


def select_shard(submissions: Sequence[Submission], shard: tuple[int, int] | None) -> list[Submission]:
    """The submissions of shard `(index, count)`: every count-th one of the sorted list, from index."""
    if shard is None:
        return list(submissions)
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise BatchError(f"shard {index}/{count}: need 0 <= index < count")
    ordered = sorted(submissions, key=lambda s: s.student)
    return ordered[index::count]


# --- hashes -----------------------------------------------------------------------------------


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
