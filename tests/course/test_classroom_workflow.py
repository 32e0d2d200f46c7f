"""The template's workflow, its own steps run as a runner runs them (`_github_actions.run_job`).

For each submission the Classroom reporter (its v1 logic) must announce the points `autograder grade`
gave, question by question, whatever failed.  What stands in for GitHub: the repository is laid out
here (checkout), setup-python is an interpreter of this machine, and the caches are a local store.
Filled from this checkout (its venv as the cached grader, Debian's Fashion-MNIST as the cached data),
a run installs nothing, as a second push does on GitHub.  The broken-install case starts from an
empty store with `GRADER` pointing at a wheel that does not exist; `TORCH_INDEX` is replaced there
because PyTorch's index is not reachable from this machine.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from _github_actions import RUNNER_PATH, Context, JobRun, Python, interpolate, run_job

from autograder.course import classroom
from autograder.course.classroom import GraderSource
from autograder.course.examples import build
from mlp_lab.data import DEBIAN_DIR
from mlp_lab.questions import QUESTIONS

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "source" / "mlp" / "mlp.ipynb"
RELEASE = ROOT / "release" / "mlp" / "mlp.ipynb"
FMNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                "t10k-labels-idx1-ubyte")
BASE_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
POINTS = {q.id: float(q.points) for q in QUESTIONS}
PARTIAL = {"relu_values", "relu_grad", "sigmoid_tanh", "affine_collapse"}
#: What autograding-command-grader@v1 (dist/main.js) gives its command: PATH and HOME, two DOTNET
#: variables and FORCE_COLOR; nothing else of the step's environment.
COMMAND_GRADER_ENV = ("PATH", "FORCE_COLOR", "DOTNET_CLI_HOME", "DOTNET_NOLOGO", "HOME")

pytestmark = pytest.mark.skipif(not all((DEBIAN_DIR / f"{n}.gz").is_file() for n in FMNIST_FILES),
                                reason=f"Fashion-MNIST is not in {DEBIAN_DIR} (apt-get install dataset-fashion-mnist)")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("template")
    classroom.write_template(dest, release_notebook=RELEASE)
    return dest


def _half_accuracy(release: Any, source: Any) -> Any:
    """The solution with the concise model left unanswered: MLPScratch trains, MLP does not (8 of 16)."""
    nb = nbformat.reads(build("solution", release, source).content, 4)
    stubs = {c.metadata["nbgrader"]["grade_id"]: c.source for c in release.cells if c.metadata.get("nbgrader")}
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "concise_code":
            cell.source = stubs["concise_code"]
    return nb


@pytest.fixture(scope="module")
def submissions() -> dict[str, str | None]:
    """Each case's mlp.ipynb as text (None: the student renamed it away)."""
    release, source = nbformat.read(RELEASE, 4), nbformat.read(SOURCE, 4)
    out: dict[str, str | None] = {n: build(n, release, source).content for n in ("solution", "untouched", "partial")}
    out["half_accuracy"] = nbformat.writes(_half_accuracy(release, source))
    out["corrupt"] = build("broken", release, source).content
    out["missing"] = None
    out["broken_install"] = out["timeout"] = out["solution"]
    return out


def _python() -> Python:
    version = subprocess.run([str(BASE_PYTHON), "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return Python(BASE_PYTHON.parent, version)


def _bin_dir(tmp: Path, python: Path) -> Path:
    """A folder with `python` and `python3`, as setup-python puts on PATH."""
    tmp.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        (tmp / name).symlink_to(python)
    return tmp


def _key(workflow: dict[str, Any], step_id: str, python: Python) -> str:
    step = next(s for s in workflow["jobs"][classroom.JOB_ID]["steps"] if s.get("id") == step_id)
    return interpolate(step["with"]["key"], Context(steps={"python": {"outputs": {"python-version": python.version}}}))


def _fill_cache(store: Path, workflow: dict[str, Any], python: Python, venv: Path) -> None:
    """The cache as the first push left it: the grader's venv and the raw Fashion-MNIST files."""
    grader = store / _key(workflow, "grader-cache", python)
    grader.mkdir(parents=True)
    (grader / "0").symlink_to(venv)
    raw = store / classroom.DATA_KEY / "0"
    raw.mkdir(parents=True)
    for name in FMNIST_FILES:
        (raw / f"{name}.gz").symlink_to(DEBIAN_DIR / f"{name}.gz")


def _repo(template: Path, tmp_path: Path, notebook: str | None) -> tuple[Path, Path]:
    repo, home = tmp_path / "repo", tmp_path / "home"
    shutil.copytree(template, repo)
    (repo / classroom.NOTEBOOK).unlink()
    if notebook is not None:
        (repo / classroom.NOTEBOOK).write_text(notebook, encoding="utf-8")
    home.mkdir()
    return repo, home


def _reported(run: JobRun) -> dict[str, dict[str, Any]]:
    """Per question, the one test the reporter read from the points step's output."""
    points = run.step("points")
    assert points.outcome == "success", points.output
    return {q.id: json.loads(base64.b64decode(points.outputs[classroom.runner_name(q.id)]))["tests"][0]
            for q in QUESTIONS}


def _check_against_report(run: JobRun, report: dict[str, Any]) -> None:
    """The reporter's points equal the report's, question by question; each lost point's line says why."""
    tests = _reported(run)
    by_id = {q["id"]: q for q in report["questions"]}
    assert {qid: float(t["score"]) for qid, t in tests.items()} == {qid: float(q["score"]) for qid, q in by_id.items()}
    assert run.reporter is not None
    total = sum(float(t["score"]) for t in tests.values())
    assert run.reporter.points == (f"{total:g}", "100")
    assert float(run.reporter.points[0]) == report["score"]
    for qid, q in by_id.items():
        if q["score"] < q["max_score"]:
            assert " ".join(q["message"].split())[:60] in tests[qid]["name"], qid


EXPECTED = {
    "solution": POINTS,
    "untouched": dict.fromkeys(POINTS, 0.0),
    "partial": {q: (p if q in PARTIAL else 0.0) for q, p in POINTS.items()},
    "half_accuracy": {**POINTS, "concise_mlp": 0.0, "accuracy": 8.0},
    "corrupt": dict.fromkeys(POINTS, 0.0),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_reporter_announces_the_graders_points(name: str, template: Path, submissions: dict[str, str | None],
                                                   tmp_path: Path) -> None:
    """A second push (caches filled): nothing installed, graded once, the reporter says what the grader said."""
    repo, home = _repo(template, tmp_path, submissions[name])
    workflow = yaml.safe_load((repo / ".github/workflows/classroom.yml").read_text())
    python = Python(_bin_dir(tmp_path / "setup-python", BASE_PYTHON), _python().version)
    store = tmp_path / "cache"
    _fill_cache(store, workflow, python, Path(sys.prefix))
    before = sorted(p.name for p in store.iterdir())
    run = run_job(workflow, classroom.JOB_ID, repo, home, python, store)
    outcomes = {s.id: s.outcome for s in run.steps}
    assert outcomes["install"] == outcomes["data"] == "skipped", "a cache hit installs and downloads nothing"
    assert sorted(p.name for p in store.iterdir()) == before
    assert outcomes["grade"] == "success", run.step("grade").output[-3000:]
    report = json.loads((repo / classroom.REPORT_PATH).read_text())
    assert {q["id"]: q["score"] for q in report["questions"]} == EXPECTED[name]
    _check_against_report(run, report)
    assert run.reporter is not None
    assert run.reporter.failed == (None if name == "solution" else "Some tests failed.")
    if name == "corrupt":
        assert all("is not valid JSON" in t["name"] for t in _reported(run).values())
    assert "## Points:" in run.summary


@pytest.mark.slow
@pytest.mark.parametrize("name", ["missing", "broken_install", "timeout"])
def test_nothing_graded_still_reports_0_of_100_with_the_reason(name: str, template: Path,
                                                               submissions: dict[str, str | None],
                                                               tmp_path: Path) -> None:
    repo, home = _repo(template, tmp_path, submissions[name])
    workflow = yaml.safe_load((repo / ".github/workflows/classroom.yml").read_text())
    python = Python(_bin_dir(tmp_path / "setup-python", BASE_PYTHON), _python().version)
    store = tmp_path / "cache"
    overrides: dict[str, str] = {}
    if name == "broken_install":
        store.mkdir()  # a first push: nothing cached
        missing = tmp_path / "nowhere" / "mlp_autograder-0.1.0-py3-none-any.whl"
        overrides = {"GRADER": f"mlp-autograder @ {missing.as_uri()}", "TORCH_INDEX": (tmp_path / "no-index").as_uri()}
        # A report committed by the student claims 100; the grader did not run, so it must count for nothing.
        (repo / ".grade").mkdir()
        fake = {"submission": "mlp.ipynb", "score": 100, "max_score": 100, "device": "cpu", "seconds": 1,
                "questions": [{"id": q.id, "score": q.points, "max_score": q.points, "status": "passed",
                               "message": ""} for q in QUESTIONS]}
        (repo / classroom.REPORT_PATH).write_text(json.dumps(fake))
    else:
        _fill_cache(store, workflow, python, Path(sys.prefix))
    timeouts = {"grade": 3.0} if name == "timeout" else {}  # the grade step's 20 minutes, shortened
    run = run_job(workflow, classroom.JOB_ID, repo, home, python, store, env_overrides=overrides,
                  step_timeouts=timeouts)
    outcomes = {s.id: s.outcome for s in run.steps}
    assert run.reporter is not None and run.reporter.points == ("0", "100")
    assert run.reporter.failed == "Some tests errored."
    tests = _reported(run)
    assert all(t["score"] == 0 and t["status"] == "error" for t in tests.values())
    if name == "broken_install":
        assert outcomes["install"] == "failure" and outcomes["grade"] == "skipped"
        assert not any(store.iterdir()), "a failed install must not be cached"
        assert all("could not be installed" in t["message"] for t in tests.values())
    elif name == "timeout":
        assert outcomes["grade"] == "failure"
        assert all("failed or ran past its time limit" in t["message"] for t in tests.values())
    else:
        assert outcomes["grade"] == "failure"
        assert all("mlp.ipynb is missing" in t["message"] for t in tests.values())
    errors = [ln for ln in run.reporter.console if ln.startswith("Error: ")]
    assert len(errors) == len(QUESTIONS), "each question's line says why"


# --- a self-hosted runner whose Python needs LD_LIBRARY_PATH -------------------------------------------

def _tool_cache_python(tmp: Path) -> Python:
    """A copy of this interpreter that starts only with LD_LIBRARY_PATH, like a self-hosted tool cache's.

    setup-python's builds link libpython through a run path of the prefix they were built for; moved
    into another runner's tool cache, that path is wrong, so setup-python exports LD_LIBRARY_PATH
    (src/find-python.ts).  Here the copy's run path is overwritten with one that does not exist, and
    the library it needs is renamed (same length), so that no system libpython can stand in for it.
    """
    libdir, ldlibrary = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    binary = BASE_PYTHON.read_bytes()
    if not sysconfig.get_config_var("Py_ENABLE_SHARED") or not libdir or libdir.encode() not in binary:
        pytest.skip(f"{BASE_PYTHON} does not link libpython through a run path; nothing to move")
    prefix = tmp / "_tool" / "Python" / "3.11" / "x64"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "lib").mkdir()
    copy = prefix / "bin" / BASE_PYTHON.name
    renamed = ldlibrary.replace("python", "pyth0n", 1)
    if binary.count(ldlibrary.encode()) != 1:
        pytest.skip(f"{BASE_PYTHON} does not name {ldlibrary} exactly once")
    binary = binary.replace(libdir.encode(), b"/" + b"x" * (len(libdir) - 1))
    copy.write_bytes(binary.replace(ldlibrary.encode(), renamed.encode()))
    copy.chmod(0o755)
    (prefix / "lib" / renamed).symlink_to(Path(libdir) / ldlibrary)
    stdlib = Path(sysconfig.get_path("stdlib"))
    (prefix / "lib" / stdlib.name).symlink_to(stdlib)
    for name in ("python", "python3"):
        (prefix / "bin" / name).symlink_to(copy.name)
    return Python(prefix / "bin", _python().version, prefix / "lib")


def _venv_on(python: Python, venv: Path) -> Path:
    """The grader's venv made by that interpreter, its packages this checkout's (instead of pip's copy)."""
    env = {"PATH": RUNNER_PATH, "LD_LIBRARY_PATH": str(python.lib_dir)}
    subprocess.run([str(python.bin_dir / "python"), "-m", "venv", "--without-pip", str(venv)], env=env, check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    here = next(Path(sys.prefix).glob("lib/python*/site-packages"))
    (site / "zz_grader.pth").write_text(f"import site; site.addsitedir({str(here)!r})\n")
    script = venv / "bin" / "autograder"
    script.write_text(f"#!{venv}/bin/python\nimport sys\nfrom autograder.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return venv


@pytest.mark.slow
def test_every_step_runs_on_a_python_that_needs_ld_library_path(template: Path, submissions: dict[str, str | None],
                                                                 tmp_path: Path) -> None:
    """The self-hosted (GPU) case on CPU: the same steps, a tool-cache Python that needs LD_LIBRARY_PATH."""
    python = _tool_cache_python(tmp_path)
    bare = subprocess.run([str(python.bin_dir / "python3"), "-c", "pass"], env={"PATH": RUNNER_PATH},
                          capture_output=True, text=True, check=False)
    assert bare.returncode != 0 and "error while loading shared libraries" in bare.stderr, "the stand-in must need LD_LIBRARY_PATH"
    # What the command-grader would have run: PATH and HOME only, so the same interpreter cannot start.
    assert "LD_LIBRARY_PATH" not in COMMAND_GRADER_ENV
    repo, home = _repo(template, tmp_path, submissions["partial"])
    workflow = yaml.safe_load((repo / ".github/workflows/classroom.yml").read_text())
    store = tmp_path / "cache"
    _fill_cache(store, workflow, python, _venv_on(python, tmp_path / "grader-venv"))
    started = time.monotonic()
    run = run_job(workflow, classroom.JOB_ID, repo, home, python, store)
    assert run.step("grade").outcome == "success", run.step("grade").output[-3000:]
    report = json.loads((repo / classroom.REPORT_PATH).read_text())
    assert report["score"] == sum(POINTS[q] for q in PARTIAL), "the sandboxed child did not start"
    assert report["artifacts"]["sandbox"]["files"].startswith(("landlock", "none"))
    _check_against_report(run, report)
    assert time.monotonic() - started < 600


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("MLP_CLASSROOM_COLD"), reason="set MLP_CLASSROOM_COLD=1: installs the grader "
                    "and torch into a fresh venv (about 6 GB, minutes); measures a first and a second push")
def test_a_first_push_installs_and_caches_a_second_installs_nothing(template: Path, tmp_path: Path,
                                                                   submissions: dict[str, str | None]) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(dist)], check=True)
    wheel = next(dist.glob("mlp_autograder-*.whl"))
    repo_template = tmp_path / "template"
    classroom.write_template(repo_template, release_notebook=RELEASE, source=GraderSource.wheel_file(wheel.as_uri(), wheel))
    python = Python(_bin_dir(tmp_path / "setup-python", BASE_PYTHON), _python().version)
    store = tmp_path / "cache"
    store.mkdir()
    overrides = {"TORCH_INDEX": "https://pypi.org/simple"}  # PyTorch's own index is unreachable here
    times = {}
    for push in ("cold", "warm"):
        (tmp_path / push).mkdir()
        repo, home = _repo(repo_template, tmp_path / push, submissions["solution"])  # a fresh runner each time
        workflow = yaml.safe_load((repo / ".github/workflows/classroom.yml").read_text())
        run = run_job(workflow, classroom.JOB_ID, repo, home, python, store, env_overrides=overrides)
        times[push] = {s.id: round(s.seconds, 1) for s in run.steps if s.seconds}
        assert run.reporter is not None and run.reporter.points == ("100", "100"), run.step("grade").output[-2000:]
        outcomes = {s.id: s.outcome for s in run.steps}
        assert outcomes["install"] == ("success" if push == "cold" else "skipped")
    print(json.dumps(times, indent=1))
