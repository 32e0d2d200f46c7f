"""The gate's vocabulary: the cells it reads, the findings it reports, and the limits of its reading."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["import", "interpreter", "dynamic-code", "dunder", "torch-internals", "builtins",
               "file-descriptor", "monkeypatch", "unreadable"]

MAX_CELL_CHARS = 200_000        # a notebook cell of honest code is a few KB
MAX_NOTEBOOK_CHARS = 1_000_000   # all cells together (the whole lab notebook is ~50 KB)
MAX_DEPTH = 100                 # AST nesting the gate reads (honest cells stay under 30)


@dataclass(frozen=True)
class GateCell:
    """A code cell that will run: `index` is the notebook's 1-based cell number, `source` its raw text."""

    index: int
    source: str


@dataclass(frozen=True)
class Finding:
    """One refused construct; `message` is for an instructor and names the cell and line."""

    cell: int
    line: int
    construct: str
    kind: Kind
    message: str
