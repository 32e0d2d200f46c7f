"""Does `d2l.plot` show a figure in a real Jupyter kernel without `%matplotlib inline`?

d2l 1.0.3 pins matplotlib-inline 0.1.6, which needs IPython's old backend helpers; with IPython 9.18
the same cell produces no output at all, with the pinned 9.15.0 it yields an SVG (see pyproject.toml).
The test runs a real kernel on this interpreter (a throw-away kernelspec whose argv is
`sys.executable`, first on JUPYTER_PATH), with a fresh IPYTHONDIR and no MPLBACKEND, so neither a
user-wide kernelspec, an IPython profile nor a CI backend setting can decide the outcome.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

KERNEL_NAME = "mlp-autograder-test-venv"
CELL_TIMEOUT_S = 180  # kernel start plus `import torch` on a busy 2-core machine

pytestmark = pytest.mark.slow


@pytest.fixture
def venv_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec that runs ipykernel on this very interpreter, and an environment that cannot interfere."""
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "mlp-autograder test kernel",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    return KERNEL_NAME


def run_cells(sources: list[str], kernel_name: str, cwd: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    NotebookClient(nb, kernel_name=kernel_name, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def test_d2l_plot_without_matplotlib_inline_shows_an_image(venv_kernel: str, tmp_path: Path) -> None:
    nb = run_cells(
        [
            "import sys; print(sys.executable)",
            "from d2l import torch as d2l\nd2l.plot([0, 1, 2], [[0, 1, 4]], xlabel='x', ylabel='y')",
        ],
        venv_kernel,
        tmp_path,
    )
    which, plot = nb.cells
    assert which.outputs[0]["text"].strip() == sys.executable  # the venv's interpreter ran the cells
    mimetypes = {key for out in plot.outputs if out["output_type"] == "display_data" for key in out["data"]}
    assert mimetypes & {"image/svg+xml", "image/png"}, f"d2l.plot showed no image; outputs: {plot.outputs}"
    stderr = [out["text"] for out in plot.outputs if out.get("name") == "stderr"]
    assert stderr == []  # nbgrader 0.9 scores a cell with stderr output 0 even when it passed
