"""Shared fixtures: notebooks built from code cells, and the reference solution's source."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import nbformat
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REFERENCE = (FIXTURES / "reference_solution.py").read_text(encoding="utf-8")


@pytest.fixture
def reference_source() -> str:
    """The reference solution (relu, sigmoid, tanh, collapse_affine, MLPScratch, MLP) as code."""
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
