"""The students' GitHub Classroom repository: `autograder classroom-template DIR`.

What `write_template` writes (and nothing else; no grader source, no hidden test, no solution):

    mlp.ipynb                         the released notebook (release/mlp/mlp.ipynb), unchanged
    README.md                         for the student: set-up, visible checks, how grading works, points
    requirements.txt                  the pins a student needs (from this package's own pins)
    environment.yml                   the same pins for conda
    .github/workflows/classroom.yml   GitHub Classroom's autograding workflow (see below)
    .github/actionlint.yaml           only for the self-hosted GPU variant (names the `gpu` label)

The workflow grades once and reports per question, in GitHub Classroom's convention:

1. `actions/checkout` (without persisted credentials, so student code cannot reuse the job's token),
   `actions/setup-python`, and two `actions/cache` steps: the grader's virtual environment in
   `~/.mlp-autograder` (the pip cache: a hit skips every download) and Fashion-MNIST in
   `~/.cache/torchvision/FashionMNIST/raw` (a torchvision root the grader's loader reads);
2. `install` (one line): pip-installs the hidden grader from the instructor's private repository with
   the organisation secret `AUTOGRADER_TOKEN` (CPU torch on GitHub's runners);
3. `data`, on a cache miss only: torchvision downloads Fashion-MNIST into that root;
4. `grade`: `autograder grade mlp.ipynb --json .grade/report.json` (the only step that trains);
5. one `classroom-resources/autograding-command-grader@v1` step per question id, whose command is
   `"$HOME/.mlp-autograder/bin/autograder" status .grade/report.json <id>`: the command grader runs
   it with `/bin/sh` and an environment of PATH and HOME (and two DOTNET/colour variables) only, so
   it depends on nothing else; exit 0 earns the step's `max-score`, anything else 0;
6. `classroom-resources/autograding-grading-reporter@v1`, with `runners:` and one
   `<STEP-ID-UPPERCASED>_RESULTS` variable per step.  The reporter updates the check run named
   `run-autograding-tests` (its source hard-codes that name), so that is the job's id.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Final, Literal

from mlp_lab.questions import MAX_SCORE, QUESTIONS

from ..errors import AutograderError

__all__ = [
    "CPU_INDEX_URL",
    "GRADER_VENV",
    "INSTALL_STEP_ID",
    "JOB_ID",
    "REPORT_PATH",
    "STUDENT_PACKAGES",
    "Runner",
    "pinned_requirements",
    "step_id",
    "workflow_yaml",
    "write_template",
]

Runner = Literal["github", "gpu"]

#: The job's id; the reporter looks the check run up by exactly this name.
JOB_ID: Final = "run-autograding-tests"
#: The grader's virtual environment on the runner, relative to $HOME (cached between runs).
GRADER_VENV: Final = ".mlp-autograder"
#: Where the grade step writes the report that every per-question step reads.
REPORT_PATH: Final = ".grade/report.json"
INSTALL_STEP_ID: Final = "install"
CPU_INDEX_URL: Final = "https://download.pytorch.org/whl/cpu"
NOTEBOOK: Final = "mlp.ipynb"
#: Minutes a per-question step may take (it only reads the report).
STATUS_TIMEOUT_MIN: Final = 1
#: Minutes the grade step may take (one submission trains two models; about a minute on 2 cores).
GRADE_TIMEOUT_MIN: Final = 20
#: The distributions a student installs to run the notebook, pinned as this package pins them.
STUDENT_PACKAGES: Final[tuple[str, ...]] = (
    "torch", "torchvision", "d2l", "numpy", "matplotlib", "matplotlib-inline", "pandas", "scipy",
    "ipython", "ipykernel", "jupyter",
)
_DIST: Final = "mlp-autograder"
_DATA_ROOT: Final = "~/.cache/torchvision"


def step_id(qid: str) -> str:
    """The workflow step id of question `qid` (`relu_values` -> `relu-values`)."""
    return qid.replace("_", "-")


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


@dataclass(frozen=True)
class _Grader:
    repo: str
    ref: str
    runner: Runner

    @property
    def device(self) -> str:
        return "cuda" if self.runner == "gpu" else "cpu"

    def install_line(self) -> str:
        index = "" if self.runner == "gpu" else f" --extra-index-url {CPU_INDEX_URL}"
        url = f"git+https://x-access-token:${{AUTOGRADER_TOKEN}}@github.com/{self.repo}@{self.ref}"
        return (f'python -m venv "$HOME/{GRADER_VENV}" && "$HOME/{GRADER_VENV}/bin/python" -m pip install'
                f' --quiet --disable-pip-version-check{index} "{_DIST} @ {url}"')


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text)


def workflow_yaml(*, grader_repo: str, grader_ref: str, runner: Runner = "github") -> str:
    """The text of `.github/workflows/classroom.yml`."""
    g = _Grader(grader_repo, grader_ref, runner)
    venv = f"$HOME/{GRADER_VENV}"
    pins_hash = hashlib.sha256(" ".join(pinned_requirements()).encode()).hexdigest()[:12]
    runs_on = "[self-hosted, linux, x64, gpu]" if runner == "gpu" else "ubuntu-latest"
    download = (f'"{venv}/bin/python" -c "import os, torchvision; '
                f"torchvision.datasets.FashionMNIST(os.path.expanduser('{_DATA_ROOT}'), download=True)\"")
    lines = [
        "# GitHub Classroom autograding for the MLP lab, generated by `autograder classroom-template`.",
        "# Each push is graded ONCE (step `grade`, which trains the two models); one step per question",
        "# then reads that report, and the reporter sends the points to GitHub Classroom.  The final",
        "# grade is the instructor's own regrade of the submitted notebooks (`autograder grade-all`).",
        "name: Autograding Tests",
        '"on":',
        "  push:",
        "  workflow_dispatch:",
        "  repository_dispatch:",
        "permissions:",
        "  checks: write  # the reporter updates this job's check run with the points",
        "  actions: read  # ... after looking the run up (actions.getWorkflowRun)",
        "  contents: read",
        "jobs:",
        f"  {JOB_ID}:",
        f"    runs-on: {runs_on}",
        "    if: github.actor != 'github-classroom[bot]'",
        "    timeout-minutes: 30",
        "    steps:",
        "      - name: Checkout code",
        "        uses: actions/checkout@v5",
        "        with:",
        "          persist-credentials: false",
        "      - name: Set up Python 3.11",
        "        id: python",
        "        uses: actions/setup-python@v6",
        "        with:",
        '          python-version: "3.11"',
        "      - name: Restore the grader's environment (pip cache)",
        "        uses: actions/cache@v5",
        "        with:",
        f"          path: ~/{GRADER_VENV}",
        f"          key: mlp-grader-{runner}-${{{{ runner.os }}}}-py${{{{ steps.python.outputs.python-version }}}}"
        f"-{grader_ref}-{pins_hash}",
        "      - name: Restore Fashion-MNIST",
        "        id: fmnist",
        "        uses: actions/cache@v5",
        "        with:",
        f"          path: {_DATA_ROOT}/FashionMNIST/raw",
        "          key: fashion-mnist-v1",
        "      - name: Install the hidden grader (instructor's private repository)",
        f"        id: {INSTALL_STEP_ID}",
        "        env:",
        "          AUTOGRADER_TOKEN: ${{ secrets.AUTOGRADER_TOKEN }}",
        "        run: |",
        f"          {g.install_line()}",
        "      - name: Download Fashion-MNIST (first run only; cached afterwards)",
        "        id: data",
        "        if: steps.fmnist.outputs.cache-hit != 'true'",
        "        run: |",
        f"          {download}",
        f"      - name: Grade {NOTEBOOK} (once)",
        "        id: grade",
        f"        timeout-minutes: {GRADE_TIMEOUT_MIN}",
        "        run: |",
        f"          rm -rf {Path(REPORT_PATH).parent}",
        f'          "{venv}/bin/autograder" grade {NOTEBOOK} --json {REPORT_PATH} --device {g.device}',
    ]
    for q in QUESTIONS:
        command = f'"{venv}/bin/autograder" status {REPORT_PATH} {q.id} >&2'
        lines += [
            f"      - name: {q.id}",
            f"        id: {step_id(q.id)}",
            "        uses: classroom-resources/autograding-command-grader@v1",
            "        with:",
            f"          test-name: {_q(f'{q.id}: {q.title}')}",
            f"          command: {_q(command)}",
            f"          timeout: {STATUS_TIMEOUT_MIN}",
            f"          max-score: {q.points:g}",
        ]
    lines += [
        "      - name: Autograding Reporter",
        "        uses: classroom-resources/autograding-grading-reporter@v1",
        "        env:",
    ]
    lines += [f'          {step_id(q.id).upper()}_RESULTS: "${{{{ steps.{step_id(q.id)}.outputs.result }}}}"'
              for q in QUESTIONS]
    lines += [
        "        with:",
        f"          runners: {','.join(step_id(q.id) for q in QUESTIONS)}",
    ]
    return "\n".join(lines) + "\n"


def _requirements_txt(student_kit: str | None) -> str:
    kit = (student_kit if student_kit else
           "# (ask your instructor: the visible checks need the course's student kit, which provides\n"
           "#  autograder.checks and autograder.datamodule; its pip requirement goes on this line)")
    return ("# The packages this lab needs, at the versions the grader uses:\n"
            "#   python3.11 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt\n"
            f"# torch comes from PyTorch's small CPU-only build ({CPU_INDEX_URL}).\n"
            f"--extra-index-url {CPU_INDEX_URL}\n"
            + "\n".join(pinned_requirements()) + "\n" + kit + "\n")


def _environment_yml(student_kit: str | None) -> str:
    pins = "\n".join(f"      - {p}" for p in pinned_requirements())
    kit = f"      - {student_kit}\n" if student_kit else ""
    return ("# conda env create -f environment.yml && conda activate mlp-lab\n"
            "# The same pins as requirements.txt; torch is PyTorch's CPU-only build.\n"
            "name: mlp-lab\n"
            "channels:\n  - conda-forge\n  - nodefaults\n"
            "dependencies:\n  - python=3.11\n  - pip\n  - pip:\n"
            f"      - --extra-index-url {CPU_INDEX_URL}\n{pins}\n{kit}")


def _readme(student_kit: str | None) -> str:
    rows = "\n".join(f"| `{q.id}` | {q.title} | {q.points:g} |" for q in QUESTIONS)
    kit_note = ("" if student_kit else
                "\n> The notebook's visible checks import `autograder.checks` and `autograder.datamodule`\n"
                "> from the course's student kit; your instructor tells you how to install it.\n")
    return f"""# Lab: multilayer perceptrons (d2l 5.1 and 5.2)

Your work goes into `{NOTEBOOK}`: fill in every cell that says `# YOUR CODE HERE` (and the two
written answers), then commit and push. Each push is graded automatically.

## Set up

With Python 3.11:

```bash
python3.11 -m venv .venv
. .venv/bin/activate
pip install -r requirements.txt
jupyter notebook {NOTEBOOK}
```

or with conda: `conda env create -f environment.yml && conda activate mlp-lab`.
{kit_note}
Fashion-MNIST is downloaded by torchvision the first time the notebook needs it (on Debian you can
instead `sudo apt-get install dataset-fashion-mnist`).

## Run the visible checks

Every graded part ends in a grade cell that checks your answer on small visible examples and prints
`<question>: visible checks passed`. Run **Kernel -> Restart & Run All** and read each grade cell's
output, or from a terminal:

```bash
jupyter nbconvert --to notebook --execute --output checked.ipynb {NOTEBOOK}
```

(it stops at the first failing cell and names it). Passing the visible checks is necessary, not
sufficient: the grader uses other inputs (other sizes, exact zeros, |x| up to 100, its own training run).

## How grading works

Each push runs the workflow *Autograding Tests* (tab **Actions**). It trains your two models once with
the grader's own seed and budget, then checks each question in its own step; a question earns all of
its points or none. The summary at the end of the run shows your points, and GitHub Classroom records
them. A red cross on the run means that at least one question did not earn its points: open the run
and read that question's step for the reason.

Do not edit `.github/`: the points shown there are feedback while you work. Your grade is the
instructor's own regrade of the notebook you submit, with the same hidden checks; a workflow changed
to show more points changes nothing in it. The two written answers are graded by hand.

## Points

| question | what is checked | points |
|---|---|---|
{rows}
| | **total** | **{MAX_SCORE:g}** |
"""


def _actionlint_config() -> str:
    return ("# actionlint: the label of the course's self-hosted GPU runners.\n"
            "self-hosted-runner:\n  labels:\n    - gpu\n")


def write_template(dest: Path, *, release_notebook: Path | None = None, grader_repo: str = "ORG/mlp-autograder",
                   grader_ref: str = "v1", runner: Runner = "github", student_kit: str | None = None,
                   force: bool = False) -> list[Path]:
    """Write the student template repository into `dest`; returns the files written, sorted.

    `release_notebook` defaults to `release/mlp/mlp.ipynb` of the course repository (found from the
    working directory).  `grader_repo`/`grader_ref` are where the workflow pip-installs the hidden
    grader from; `runner="gpu"` writes the self-hosted GPU variant (`--device cuda`).  `student_kit`
    is a pip requirement that gives students `autograder.checks`/`autograder.datamodule` for the
    visible checks (None: a comment asks the instructor for it).
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
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", grader_repo):
        raise AutograderError(f"--grader-repo must be OWNER/NAME, not {grader_repo!r}")
    if not re.fullmatch(r"[A-Za-z0-9_./-]+", grader_ref):
        raise AutograderError(f"--grader-ref must be a tag, branch or commit, not {grader_ref!r}")
    if dest.exists() and any(dest.iterdir()) and not force:
        raise AutograderError(f"{dest} is not empty; choose an empty directory or pass --force")
    files = {
        NOTEBOOK: text,
        "README.md": _readme(student_kit),
        "requirements.txt": _requirements_txt(student_kit),
        "environment.yml": _environment_yml(student_kit),
        ".github/workflows/classroom.yml": workflow_yaml(grader_repo=grader_repo, grader_ref=grader_ref,
                                                         runner=runner),
    }
    if runner == "gpu":
        files[".github/actionlint.yaml"] = _actionlint_config()
    written = []
    for rel, content in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel == NOTEBOOK:
            shutil.copyfile(release_notebook, path)
        else:
            path.write_text(content, encoding="utf-8")
        written.append(path)
    return sorted(written)
