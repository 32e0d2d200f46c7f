"""Shared fixtures: notebooks built from code cells, and the reference solution's source."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import nbformat
import pytest

from autograder.course.examples import solution_code

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = solution_code(ROOT / "source" / "mlp" / "mlp.ipynb")


@pytest.fixture
def reference_source() -> str:
    """The reference solution (the source notebook's imports and answer cells) as code."""
    return REFERENCE


@pytest.fixture
def make_notebook(tmp_path: Path) -> Callable[..., Path]:
    """Write a notebook whose code cells are `cells`, in order; returns its path."""

    def make(cells: Sequence[str], name: str = "submission.ipynb") -> Path:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        path = tmp_path / name
        nbformat.write(nb, path)
        return path

    return make
