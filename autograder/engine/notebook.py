"""Reading a submitted notebook as data (never running it here) and choosing the cells a child runs.

The reader trusts nothing in the file: it checks every field it uses itself (nbformat only logs
schema errors, and a wrong type deep in the JSON would crash a reader that assumes the schema).  A
notebook that is not JSON, or not a notebook at all, is a `NotebookError` whose message says what to
do; a cell whose fields have the wrong types is not run, and `problems` says which and why, so that
only the answers it held are lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import NotebookError
from .plan import PlannedCell

__all__ = ["MAX_NOTEBOOK_BYTES", "SKIP_TAG", "Cell", "Notebook", "plan_cells", "read_submission"]

SKIP_TAG = "skip-grading"
MAX_NOTEBOOK_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Cell:
    index: int  # position among all cells of the notebook, counted from 1 as Jupyter users count
    cell_type: str
    source: str
    grade_id: str | None
    is_grade: bool
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Notebook:
    cells: tuple[Cell, ...]
    problems: tuple[str, ...]  # cells that could not be read, each with the reason (for the student)


def _source(raw: Any) -> str | None:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return "".join(raw)
    return None


def _cell(index: int, raw: Any) -> Cell | str:
    """The cell, or why it cannot be read."""
    if not isinstance(raw, dict):
        return f"cell {index} is a {type(raw).__name__}, not a cell; it was not run"
    cell_type = raw.get("cell_type")
    if not isinstance(cell_type, str):
        return f"cell {index} has no cell_type; it was not run"
    source = _source(raw.get("source", ""))
    if source is None:
        return f"cell {index}'s source is a {type(raw.get('source')).__name__}, not text; it was not run"
    meta = raw.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    nbg = meta.get("nbgrader")
    nbg = nbg if isinstance(nbg, dict) else {}
    tags = meta.get("tags")
    tags = tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()
    gid = nbg.get("grade_id")
    return Cell(index, cell_type, source, gid if isinstance(gid, str) else None, nbg.get("grade") is True, tags)


def read_submission(path: Path) -> Notebook:
    """The notebook's cells; NotebookError says what is wrong with the file in the student's words."""
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise NotebookError(f"{path.name} is {size / 2**20:.0f} MiB; a notebook over 16 MiB is refused. "
                                "Clear the outputs (Kernel > Restart & Clear Output) and save again.")
        data = path.read_bytes()
    except OSError as err:
        raise NotebookError(f"cannot read {path.name}: {err.strerror}") from None
    text = data.decode("utf-8", errors="replace")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise NotebookError(f"{path.name} is not valid JSON (line {err.lineno}, column {err.colno}: "
                            f"{err.msg}), so it is not a readable notebook. Open it in Jupyter; if it "
                            "will not open, restore it from git (git log -- <file>) and save again.") from None
    except (RecursionError, MemoryError):
        raise NotebookError(f"{path.name} is JSON nested too deeply to read; it is not a notebook Jupyter "
                            "wrote. Restore it from git and save again.") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise NotebookError(f"{path.name} is JSON but not a Jupyter notebook (no list of cells).")
    cells: list[Cell] = []
    problems: list[str] = []
    for i, entry in enumerate(raw["cells"], start=1):
        cell = _cell(i, entry)
        if isinstance(cell, str):
            problems.append(cell)
        else:
            cells.append(cell)
    return Notebook(tuple(cells), tuple(problems))


def plan_cells(nb: Notebook) -> list[PlannedCell]:
    """The code cells the child runs: not grade cells (tests), not cells tagged `skip-grading`."""
    return [PlannedCell(c.index, f"cell {c.index}" + (f" ({c.grade_id})" if c.grade_id else ""), c.source)
            for c in nb.cells if c.cell_type == "code" and not c.is_grade and SKIP_TAG not in c.tags]
