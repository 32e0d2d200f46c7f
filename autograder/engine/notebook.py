"""Reading a submitted notebook as data (never running it here) and choosing the cells a child runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import NotebookError
from .plan import PlannedCell

__all__ = ["MAX_NOTEBOOK_BYTES", "SKIP_TAG", "plan_cells", "read_submission"]

SKIP_TAG = "skip-grading"
MAX_NOTEBOOK_BYTES = 16 * 1024 * 1024


def read_submission(path: Path) -> Any:
    """The notebook as an nbformat 4 node; NotebookError says what is wrong in the student's words."""
    import nbformat

    try:
        size = path.stat().st_size
    except OSError as err:
        raise NotebookError(f"cannot read {path.name}: {err.strerror}") from None
    if size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"{path.name} is {size / 2**20:.0f} MiB; a notebook over 16 MiB is refused. "
                            "Clear the outputs (Kernel > Restart & Clear Output) and save again.")
    text = path.read_bytes().decode("utf-8", errors="replace")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise NotebookError(f"{path.name} is not valid JSON (line {err.lineno}, column {err.colno}: "
                            f"{err.msg}), so it is not a readable notebook. Open it in Jupyter; if it "
                            "will not open, restore it from git (git log -- <file>) and save again.") from None
    if not isinstance(raw, dict) or "cells" not in raw or not isinstance(raw["cells"], list):
        raise NotebookError(f"{path.name} is JSON but not a Jupyter notebook (no list of cells).")
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as err:  # nbformat raises many kinds
        raise NotebookError(f"{path.name} is not a valid nbformat 4 notebook: {err}") from None


def plan_cells(nb: Any) -> list[PlannedCell]:
    """The code cells the child runs: not grade cells (tests), not cells tagged `skip-grading`."""
    planned = []
    for i, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {})
        nbg = meta.get("nbgrader", {}) or {}
        if nbg.get("grade") or SKIP_TAG in (meta.get("tags") or []):
            continue
        gid = nbg.get("grade_id")
        label = f"cell {i}" + (f" ({gid})" if gid else "")
        source = cell.get("source", "")
        planned.append(PlannedCell(i, label, source if isinstance(source, str) else "".join(source)))
    return planned
