"""Writing the students' template repository: the notebook, the kit beside it, set-up files, the workflow."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Final

import mlp_lab
from mlp_lab.questions import MAX_SCORE, QUESTIONS

from ...errors import AutograderError
from . import points
from .workflow import (
    CPU_INDEX_URL,
    NOTEBOOK,
    POINTS_SCRIPT,
    QUESTIONS_JSON,
    GraderSource,
    Runner,
    workflow_yaml,
)

__all__ = ["KIT", "KIT_DIST", "STUDENT_PACKAGES", "default_source", "pinned_requirements", "write_template"]

#: The distributions a student installs to run the notebook, pinned as this package pins them.
STUDENT_PACKAGES: Final[tuple[str, ...]] = (
    "torch", "torchvision", "d2l", "numpy", "matplotlib", "matplotlib-inline", "pandas", "scipy",
    "ipython", "ipykernel", "jupyter",
)
#: The kit's folder in the template (what the notebook imports) and the distribution that installs it.
KIT: Final = "mlp_lab"
KIT_DIST: Final = "mlp-lab"
_DIST: Final = "mlp-autograder"


def pinned_requirements(names: Sequence[str] = STUDENT_PACKAGES) -> list[str]:
    """`name==version` for each of `names`, taken from this package's declared dependencies."""
    pins: dict[str, str] = {}
    for req in metadata.requires(_DIST) or []:
        if ";" in req:
            continue  # extras (dev tools) are not for students
        m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s;]+)\s*", req)
        if m:
            pins[m.group(1).lower()] = f"{m.group(1)}=={m.group(2)}"
    missing = [n for n in names if n.lower() not in pins]
    if missing:
        raise AutograderError(f"{_DIST} pins no exact version of {', '.join(missing)}; add `name==version` to "
                              "pyproject.toml's dependencies and reinstall (`bash scripts/setup.sh`)")
    return [pins[n.lower()] for n in names]


def default_source() -> GraderSource:
    """The placeholder public wheel of this version (the instructor passes the real URL)."""
    version = metadata.version(_DIST)
    return GraderSource.wheel(f"https://github.com/ORG/mlp-grader/releases/download/v{version}/"
                              f"mlp_autograder-{version}-py3-none-any.whl")


def _requirements_txt() -> str:
    return ("# Everything the lab needs, at the versions the grader uses, and the course kit (./mlp_lab):\n"
            "#   python3.11 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt\n"
            "# Run it from this folder (\"-e .\" is this folder).  torch is PyTorch's small CPU-only build;\n"
            "# delete the --extra-index-url line to get PyPI's default build (CUDA on Linux).\n"
            f"--extra-index-url {CPU_INDEX_URL}\n"
            + "\n".join(pinned_requirements()) + "\n-e .\n")


def _environment_yml() -> str:
    pins = "\n".join(f"      - {p}" for p in pinned_requirements())
    return ("# conda env create -f environment.yml && conda activate mlp-lab   (run it from this folder)\n"
            "# The same pins as requirements.txt, and the course kit (./mlp_lab, \"-e .\").\n"
            "name: mlp-lab\n"
            "channels:\n  - conda-forge\n  - nodefaults\n"
            "dependencies:\n  - python=3.11\n  - pip\n  - pip:\n"
            f"      - --extra-index-url {CPU_INDEX_URL}\n{pins}\n      - -e .\n")


def _kit_pyproject() -> str:
    version = metadata.version(_DIST)
    return f"""# The course kit (./{KIT}): what mlp.ipynb imports (`from {KIT} import FashionMNISTData, check`).
# `pip install -r requirements.txt` installs it with "-e ."; its dependencies are the pins listed there.
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{KIT_DIST}"
version = "{version}"
description = "The MLP lab's student kit: Fashion-MNIST for d2l, and the notebook's visible checks"
requires-python = "==3.11.*"

[tool.setuptools.packages.find]
include = ["{KIT}*"]

[tool.setuptools.package-data]
{KIT} = ["py.typed"]
"""


_GITIGNORE = ".venv/\n__pycache__/\n*.egg-info/\n.ipynb_checkpoints/\n.grade/\ndata/\nchecked.ipynb\n"


def _md_cell(text: str) -> str:
    """Text for one Markdown table cell: a raw `|` would end the cell."""
    return text.replace("|", "\\|")


def _readme() -> str:
    rows = "\n".join(f"| `{q.id}` | {_md_cell(q.title)} | {q.points:g} |" for q in QUESTIONS)
    return f"""# Lab: multilayer perceptrons (d2l 5.1 and 5.2)

Your work goes into `{NOTEBOOK}`: fill in every cell that says `# YOUR CODE HERE` (and the two
written answers), then commit and push. Each push is graded automatically.

## Set up

With Python 3.11, in this folder:

```bash
python3.11 -m venv .venv
. .venv/bin/activate
pip install -r requirements.txt
jupyter lab {NOTEBOOK}
```

or with conda: `conda env create -f environment.yml && conda activate mlp-lab`.

`requirements.txt` installs the packages at the grader's versions and the course kit, the folder
`{KIT}/` beside the notebook (`from {KIT} import FashionMNISTData, check`): Fashion-MNIST for d2l and the
visible checks. Leave `{KIT}/` as it is; the grader uses its own copy.

Fashion-MNIST is downloaded the first time the notebook needs it (about 30 MB, into
`~/.cache/torchvision`). Offline, on Debian or Ubuntu `sudo apt-get install dataset-fashion-mnist`
provides it, or set `FASHION_MNIST_DIR` to a folder holding the four `*-ubyte.gz` files.

## Run the visible checks

Every graded part ends in a grade cell, `check("<question>", globals())`, that checks your answer on
small visible examples and prints `<question>: visible checks passed`, or tells you what is wrong. Run
**Kernel -> Restart Kernel and Run All Cells**, or from a terminal:

```bash
jupyter nbconvert --to notebook --execute --output checked.ipynb {NOTEBOOK}
```

(it stops at the first failing cell and names it). Passing the visible checks is necessary, not
sufficient: the grader uses other inputs (other sizes, exact zeros, \\|x\\| up to 100, its own training
run).

## How grading works

Each push runs the workflow *Autograding Tests* (tab **Actions**). It grades your notebook once: it
runs it in a sandbox, checks each question on fresh inputs and trains your two models with the
grader's own seed and budget. Then the step **Points per question** lists every question with its
points and the reason for any lost point (also on the run's summary page), and the reporter prints
`Points X/{MAX_SCORE:g}`, which GitHub Classroom records. Partial credit counts: the `Points` line adds up the
real points, while the reporter's own table counts a question only when it earned all of its points.
A red cross on the run means that some point was lost (or the notebook could not be graded: the
reason is in the same list).

The first push takes a few minutes longer: it installs the grader and downloads Fashion-MNIST, and
later pushes reuse both.

Do not edit `.github/` or `{KIT}/`. The points a run shows are feedback while you work: your grade is
the instructor's own regrade of the notebook you submit, with the same checks, and a workflow changed to
show more points changes nothing in it. The two written answers are graded by hand.

## Points

| question | what is checked | points |
|---|---|---|
{rows}
| | **total** | **{MAX_SCORE:g}** |
"""


def _actionlint_config() -> str:
    return ("# actionlint: the label of the course's self-hosted GPU runners.\n"
            "self-hosted-runner:\n  labels:\n    - gpu\n")


def _questions_json() -> str:
    return json.dumps([{"id": q.id, "points": q.points, "title": q.title} for q in QUESTIONS], indent=1) + "\n"


def _kit_files() -> dict[str, Path]:
    """The kit's files by their path in the template: its modules (subpackages too) and its py.typed marker."""
    package = Path(mlp_lab.__file__).resolve().parent
    files = sorted([*(f for f in package.rglob("*.py") if "__pycache__" not in f.parts), package / "py.typed"])
    return {f"{KIT}/{f.relative_to(package).as_posix()}": f for f in files if f.is_file()}


def write_template(dest: Path, *, release_notebook: Path | None = None, source: GraderSource | None = None,
                   runner: Runner = "github", force: bool = False) -> list[Path]:
    """Write the student template repository into `dest`; returns the files written, sorted.

    `release_notebook` defaults to `release/mlp/mlp.ipynb` of the course repository (found from the
    working directory).  `source` is where the workflow installs the grader from (default: the
    placeholder public wheel of this version, `default_source()`); `runner="gpu"` writes the
    self-hosted GPU variant (`--device cuda`).
    """
    if release_notebook is None:
        release_notebook = Path.cwd() / "release" / "mlp" / NOTEBOOK
    if not release_notebook.is_file():
        raise AutograderError(f"no released notebook at {release_notebook}; generate it with "
                              "`nbgrader generate_assignment mlp --force --no-db` or pass --release")
    text = release_notebook.read_text(encoding="utf-8")
    if "BEGIN SOLUTION" in text or "BEGIN HIDDEN TESTS" in text:
        raise AutograderError(f"{release_notebook} holds solution or hidden-test markers: it is not a "
                              "release; regenerate it with `nbgrader generate_assignment mlp --force --no-db`")
    if dest.exists() and any(dest.iterdir()) and not force:
        raise AutograderError(f"{dest} is not empty; choose an empty directory or pass --force")
    texts = {
        "README.md": _readme(),
        "requirements.txt": _requirements_txt(),
        "environment.yml": _environment_yml(),
        "pyproject.toml": _kit_pyproject(),
        ".gitignore": _GITIGNORE,
        ".github/workflows/classroom.yml": workflow_yaml(source or default_source(), runner),
        QUESTIONS_JSON: _questions_json(),
    }
    if runner == "gpu":
        texts[".github/actionlint.yaml"] = _actionlint_config()
    copies = {NOTEBOOK: release_notebook, POINTS_SCRIPT: Path(points.__file__), **_kit_files()}
    written = []
    for rel, content in texts.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    for rel, origin in copies.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(origin, path)
        written.append(path)
    return sorted(written)
