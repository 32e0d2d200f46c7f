"""A student's first hour: the template alone, a fresh virtual environment, the notebook in a real kernel.

One slow test, one venv: it is made from the template's `requirements.txt` only (no
`--system-site-packages`, no path into this checkout; pip may take wheels from this machine's
caches and indexes).  The one change to that file: its `--extra-index-url
https://download.pytorch.org/whl/cpu` line is dropped, because PyTorch's index is not reachable
from this machine, so torch comes from PyPI (the same version, its default build).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.course import classroom
from autograder.course.examples import build
from mlp_lab.data import DEBIAN_DIR

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / "release" / "mlp" / "mlp.ipynb"
SOURCE = ROOT / "source" / "mlp" / "mlp.ipynb"
BASE_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
PIP_TIMEOUT_S = 1800
KERNEL_TIMEOUT_S = 1200
#: Runs both notebooks in the venv's own kernel (nbclient comes with the template's `jupyter`).
EXECUTE = """
import sys, nbformat, nbclient
for name in sys.argv[1:]:
    nb = nbformat.read(name, 4)
    nbclient.NotebookClient(nb, timeout=1200, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": "."}}).execute()
    nbformat.write(nb, "executed-" + name)
"""


def _errors(nb: nbformat.NotebookNode) -> list[tuple[int, dict[str, str]]]:
    return [(i, out) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for out in c.get("outputs", []) if out.get("output_type") == "error"]


def _grade_id(cell: nbformat.NotebookNode) -> str:
    return str(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", ""))


@pytest.mark.slow
@pytest.mark.skipif(not (DEBIAN_DIR / "train-images-idx3-ubyte.gz").is_file(),
                    reason=f"offline Fashion-MNIST is not in {DEBIAN_DIR} (apt-get install dataset-fashion-mnist)")
def test_the_template_alone_sets_up_a_student_whose_every_cell_runs(tmp_path: Path) -> None:
    """Fresh venv from requirements.txt; the solution passes every grade cell, the release fails the first one."""
    started = time.monotonic()
    repo = tmp_path / "template"
    classroom.write_template(repo, release_notebook=RELEASE)
    requirements = (repo / "requirements.txt").read_text().splitlines()
    kept = [ln for ln in requirements if "download.pytorch.org" not in ln]
    assert len(kept) == len(requirements) - 1
    (repo / "requirements.txt").write_text("\n".join(kept) + "\n")
    home = tmp_path / "home"
    home.mkdir()
    venv = tmp_path / "venv"
    pip_env = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}  # this machine's pip set-up
    env = {**pip_env, "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
           "XDG_CACHE_HOME": str(home / ".cache"), "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    env["PIP_CACHE_DIR"] = os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    try:
        subprocess.run([str(BASE_PYTHON), "-m", "venv", str(venv)], check=True, env=env)
        done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", "requirements.txt"],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        installed = time.monotonic()
        where = subprocess.run([str(venv / "bin" / "python"), "-c",
                                "import importlib.util, mlp_lab; print(mlp_lab.__file__); "
                                "print(importlib.util.find_spec('autograder'))"],
                               cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.split()
        assert where == [str(repo / "mlp_lab" / "__init__.py"), "None"], "the kit must be the template's own copy"
        lab = subprocess.run([str(venv / "bin" / "jupyter"), "lab", "--version"], cwd=repo, env=env,
                             capture_output=True, text=True, check=False)
        assert lab.returncode == 0, f"the README's `jupyter lab {classroom.NOTEBOOK}` needs JupyterLab: {lab.stderr}"

        release, source = nbformat.read(RELEASE, 4), nbformat.read(SOURCE, 4)
        (repo / "solution.ipynb").write_text(build("solution", release, source).content)
        done = subprocess.run([str(venv / "bin" / "python"), "-c", EXECUTE, "solution.ipynb", "mlp.ipynb"],
                              cwd=repo, env=env, capture_output=True, text=True, timeout=KERNEL_TIMEOUT_S, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        solved = nbformat.read(repo / "executed-solution.ipynb", 4)
        assert _errors(solved) == [], "every cell of the solution runs in the student's venv"
        grade_cells = [c for c in solved.cells if c.cell_type == "code" and 'check("' in c.source]
        assert len(grade_cells) >= 9
        for cell in grade_cells:
            text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
            assert "visible checks passed" in text, cell.source
        images = [o for c in solved.cells for o in c.get("outputs", []) if o.get("output_type") == "display_data"
                  and ({"image/png", "image/svg+xml"} & set(o.get("data", {})))]
        assert len(images) >= 3, "d2l's plots (activations, training curves) come back as images"

        untouched = nbformat.read(repo / "executed-mlp.ipynb", 4)
        (first_index, first), *_ = _errors(untouched)
        first_grade = next(i for i, c in enumerate(untouched.cells) if c.cell_type == "code" and 'check("' in c.source)
        assert first["ename"] != "ModuleNotFoundError", first
        answer = next(i for i, c in enumerate(untouched.cells) if _grade_id(c) == "relu_code")
        assert first_index in (answer, first_grade), "the first failure is the student's first answer, not set-up"
        checked = [out for i, out in _errors(untouched) if i == first_grade]
        assert checked and checked[0]["ename"] == "CheckFailed" and "relu" in checked[0]["evalue"], checked
        print(json.dumps({"pip_install_s": round(installed - started, 1),
                          "kernels_s": round(time.monotonic() - installed, 1),
                          "total_s": round(time.monotonic() - started, 1)}))
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # about 6 GB with PyPI's default (CUDA) torch
