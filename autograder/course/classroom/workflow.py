"""The template's `.github/workflows/classroom.yml`: grade once, cache what was installed, always report.

The job's steps, in order (one job, `run-autograding-tests`; bash with `-eo pipefail` for every `run:`):

1. checkout (credentials not persisted: student code cannot reuse the job's token), setup-python 3.11;
2. restore two caches: the grader's virtual environment `~/.mlp-autograder`, keyed by the grader's
   version (`GraderSource.key`: version and wheel sha256, or repository and ref), and Fashion-MNIST in
   `~/.cache/torchvision/FashionMNIST/raw` (a constant key: the data never changes);
3. on a miss only: `install` pip-installs the grader, `cache/save` stores the venv at once; `data` lets
   the kit download Fashion-MNIST, `cache/save` stores it.  Both saves happen before any student code
   runs, so a job that later fails (any lost point fails it) still leaves the caches filled, and a
   later push installs and downloads nothing;
4. `grade`: `autograder grade mlp.ipynb --json .grade/report.json` (the only step that runs student
   code, inside the grader's sandbox), its log in `.grade/grade.log`;
5. `points` (`if: always()`): `.github/classroom/points.py` (standard library only, run with the
   runner's `python3`) turns the report, or its absence and the steps' outcomes, into one reporter
   result per question with the grader's exact score and its message or the reason;
6. `classroom-resources/autograding-grading-reporter@v1` (`if: always()`), which prints the `Points`
   notices Classroom records.

Every interpreter runs with `-I`, so that nothing in the student's repository (a `pip/` or `venv.py`,
its own `mlp_lab/`) shadows what the steps import before the grader's sandbox is up.
No step uses `autograding-command-grader`: that action runs its command with PATH and HOME only,
which would drop the `LD_LIBRARY_PATH` setup-python exports for a self-hosted runner's interpreter.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from mlp_lab.questions import QUESTIONS

from ...errors import AutograderError
from .points import runner_name

__all__ = [
    "ACTIONS",
    "CPU_INDEX_URL",
    "DATA_KEY",
    "GRADER_VENV",
    "JOB_ID",
    "NOTEBOOK",
    "REPORT_PATH",
    "GraderSource",
    "Runner",
    "workflow_yaml",
]

Runner = Literal["github", "gpu"]

JOB_ID: Final = "run-autograding-tests"
NOTEBOOK: Final = "mlp.ipynb"
#: The grader's virtual environment on the runner, relative to $HOME (cached between runs).
GRADER_VENV: Final = ".mlp-autograder"
#: Where the grade step writes its report and log (removed first: a committed copy counts for nothing).
REPORT_PATH: Final = ".grade/report.json"
LOG_PATH: Final = ".grade/grade.log"
POINTS_SCRIPT: Final = ".github/classroom/points.py"
QUESTIONS_JSON: Final = ".github/classroom/questions.json"
CPU_INDEX_URL: Final = "https://download.pytorch.org/whl/cpu"
DATA_DIR: Final = "~/.cache/torchvision/FashionMNIST/raw"
DATA_KEY: Final = "fashion-mnist-v1"
#: Minutes per step; the job's limit is above their sum, so a step's timeout always fires first and
#: the `always()` steps still report.
INSTALL_TIMEOUT_MIN: Final = 15
DATA_TIMEOUT_MIN: Final = 10
GRADE_TIMEOUT_MIN: Final = 20
JOB_TIMEOUT_MIN: Final = 55
#: Actions on the node24 runtime (checked against each action's action.yml, `runs.using`).
ACTIONS: Final = {
    "checkout": "actions/checkout@v5",
    "setup-python": "actions/setup-python@v6",
    "cache-restore": "actions/cache/restore@v5",
    "cache-save": "actions/cache/save@v5",
    "reporter": "classroom-resources/autograding-grading-reporter@v1",
}
_WHEEL = re.compile(r"mlp_autograder-(?P<version>[0-9][A-Za-z0-9.+!-]*)-py3-none-any\.whl")


@dataclass(frozen=True)
class GraderSource:
    """Where the workflow pip-installs the grader from; `key` follows the installed code's version.

    `wheel(url, sha256)`: a wheel at a public URL (the default; no secret).  The version comes from
    the wheel's file name and the sha256, when given, pins the download (pip checks it).
    `repo(owner/name, ref)`: the instructor's private repository through the secret `AUTOGRADER_TOKEN`.
    """

    kind: Literal["wheel", "repo"]
    location: str
    ref: str
    sha256: str | None = None

    @classmethod
    def wheel(cls, url: str, sha256: str | None = None) -> GraderSource:
        m = _WHEEL.fullmatch(url.rsplit("/", 1)[-1])
        if not re.fullmatch(r"(https|file)://[^\s\"'$`\\]+", url) or m is None:
            raise AutograderError(f"--grader-url must be an https URL of a wheel named "
                                  f"mlp_autograder-VERSION-py3-none-any.whl, not {url!r}")
        if sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise AutograderError(f"not a sha256: {sha256!r}")
        return cls("wheel", url, m.group("version"), sha256)

    @classmethod
    def wheel_file(cls, url: str, wheel: Path) -> GraderSource:
        """The wheel at `url` is a copy of the local file `wheel` (same name): pin its sha256."""
        if wheel.name != url.rsplit("/", 1)[-1]:
            raise AutograderError(f"--grader-wheel {wheel.name} is not the file --grader-url names "
                                  f"({url.rsplit('/', 1)[-1]}); upload that wheel and give its URL")
        return cls.wheel(url, hashlib.sha256(wheel.read_bytes()).hexdigest())

    @classmethod
    def repo(cls, repo: str, ref: str) -> GraderSource:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
            raise AutograderError(f"--grader-repo must be OWNER/NAME, not {repo!r}")
        if not re.fullmatch(r"[A-Za-z0-9_./-]+", ref):
            raise AutograderError(f"--grader-ref must be a tag, branch or commit, not {ref!r}")
        return cls("repo", repo, ref)

    @property
    def key(self) -> str:
        """The part of the cache key that names the grader's code: a new version is a new key."""
        if self.kind == "repo":
            return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{self.location}@{self.ref}")
        return f"{self.ref}-{self.sha256[:16]}" if self.sha256 else self.ref

    def requirement(self) -> str:
        """The pip requirement, as the install step's shell reads it."""
        if self.kind == "repo":
            return (f"mlp-autograder @ git+https://x-access-token:${{AUTOGRADER_TOKEN}}@github.com/"
                    f"{self.location}@{self.ref}")
        return f"mlp-autograder @ {self.location}" + (f"#sha256={self.sha256}" if self.sha256 else "")


def _steps_head(source: GraderSource, runner: Runner) -> list[str]:
    venv = f"~/{GRADER_VENV}"
    key = (f"mlp-grader-{runner}-${{{{ runner.os }}}}-${{{{ runner.arch }}}}"
           f"-py${{{{ steps.python.outputs.python-version }}}}-{source.key}")
    index = ' --extra-index-url "$TORCH_INDEX"' if runner == "github" else ""
    install_env = ["        env:", "          AUTOGRADER_TOKEN: ${{ secrets.AUTOGRADER_TOKEN }}"] \
        if source.kind == "repo" else []
    return [
        "      - name: Checkout code",
        f"        uses: {ACTIONS['checkout']}",
        "        with:",
        "          persist-credentials: false",
        "      - name: Set up Python 3.11",
        "        id: python",
        f"        uses: {ACTIONS['setup-python']}",
        "        with:",
        '          python-version: "3.11"',
        "      - name: Restore the grader (cache, keyed by its version)",
        "        id: grader-cache",
        f"        uses: {ACTIONS['cache-restore']}",
        "        with:",
        f"          path: {venv}",
        f"          key: {key}",
        "      - name: Restore Fashion-MNIST (cache)",
        "        id: data-cache",
        f"        uses: {ACTIONS['cache-restore']}",
        "        with:",
        f"          path: {DATA_DIR}",
        f"          key: {DATA_KEY}",
        "      - name: Install the grader",
        "        id: install",
        "        if: steps.grader-cache.outputs.cache-hit != 'true'",
        f"        timeout-minutes: {INSTALL_TIMEOUT_MIN}",
        *install_env,
        "        run: |",
        f'          python -I -m venv "$HOME/{GRADER_VENV}"',
        f'          "$HOME/{GRADER_VENV}/bin/python" -I -m pip install --quiet --disable-pip-version-check{index}'
        f' "{source.requirement() if source.kind == "repo" else "$GRADER"}"',
        "      - name: Save the grader (before any student code runs)",
        "        if: steps.install.outcome == 'success'",
        f"        uses: {ACTIONS['cache-save']}",
        "        with:",
        f"          path: {venv}",
        "          key: ${{ steps.grader-cache.outputs.cache-primary-key }}",
        "      - name: Download Fashion-MNIST",
        "        id: data",
        "        if: steps.data-cache.outputs.cache-hit != 'true'",
        f"        timeout-minutes: {DATA_TIMEOUT_MIN}",
        "        run: |",
        f'          "$HOME/{GRADER_VENV}/bin/python" -I -c "from mlp_lab.data import load_fashion_mnist; '
        'load_fashion_mnist()"',
        "      - name: Save Fashion-MNIST (before any student code runs)",
        "        if: steps.data.outcome == 'success'",
        f"        uses: {ACTIONS['cache-save']}",
        "        with:",
        f"          path: {DATA_DIR}",
        f"          key: {DATA_KEY}",
    ]


def workflow_yaml(source: GraderSource, runner: Runner = "github") -> str:
    """The text of `.github/workflows/classroom.yml`."""
    device = "cuda" if runner == "gpu" else "cpu"
    runs_on = "[self-hosted, linux, x64, gpu]" if runner == "gpu" else "ubuntu-latest"
    grade_dir = str(Path(REPORT_PATH).parent)
    env = []
    if source.kind == "wheel":
        env.append(f'      GRADER: "{source.requirement()}"')
    if runner == "github":
        env.append(f"      TORCH_INDEX: {CPU_INDEX_URL}  # PyTorch's small CPU-only build")
    lines = [
        "# GitHub Classroom autograding for the MLP lab, generated by `autograder classroom-template`.",
        "# Each push is graded once (step `grade`); step `points` turns the grader's report into one result",
        "# per question with the grader's exact points, whatever failed before it; the reporter prints them",
        "# as `Points X/Y` notices, which GitHub Classroom records.  The grader and Fashion-MNIST are cached",
        "# right after they are installed, so only the first push (or a new grader version) installs them.",
        "# The final grade is the instructor's own regrade of the submitted notebooks (`autograder grade-all`).",
        "name: Autograding Tests",
        '"on":',
        "  push:",
        "  workflow_dispatch:",
        "  repository_dispatch:",
        "permissions:",
        "  contents: read  # checkout only: reporter v1 prints notices and calls no API",
        "jobs:",
        f"  {JOB_ID}:",
        f"    runs-on: {runs_on}",
        "    if: github.actor != 'github-classroom[bot]'",
        f"    timeout-minutes: {JOB_TIMEOUT_MIN}",
        "    defaults:",
        "      run:",
        "        shell: bash  # bash --noprofile --norc -eo pipefail",
    ]
    if env:
        lines += ["    env:", *env]
    lines += ["    steps:", *_steps_head(source, runner)]
    lines += [
        f"      - name: Grade {NOTEBOOK} (once)",
        "        id: grade",
        f"        timeout-minutes: {GRADE_TIMEOUT_MIN}",
        "        run: |",
        f"          rm -rf {grade_dir} && mkdir {grade_dir}",
        f'          "$HOME/{GRADER_VENV}/bin/autograder" grade {NOTEBOOK} --json {REPORT_PATH} --device {device} 2>&1'
        f" | tee {LOG_PATH}",
        "      - name: Points per question",
        "        id: points",
        "        if: always()",
        "        env:",
        "          INSTALL_OUTCOME: ${{ steps.install.outcome }}",
        "          DATA_OUTCOME: ${{ steps.data.outcome }}",
        "          GRADE_OUTCOME: ${{ steps.grade.outcome }}",
        "        run: |",
        f"          python3 -I {POINTS_SCRIPT} --report {REPORT_PATH} --questions {QUESTIONS_JSON} --notebook {NOTEBOOK}"
        f' --log {LOG_PATH} --output "$GITHUB_OUTPUT" --summary "$GITHUB_STEP_SUMMARY"',
        "      - name: Autograding Reporter",
        "        if: always()",
        f"        uses: {ACTIONS['reporter']}",
        "        env:",
    ]
    runners = [runner_name(q.id) for q in QUESTIONS]
    lines += [f"          {r.upper()}_RESULTS: ${{{{ steps.points.outputs.{r} }}}}" for r in runners]
    lines += ["        with:", f"          runners: {','.join(runners)}"]
    return "\n".join(lines) + "\n"
