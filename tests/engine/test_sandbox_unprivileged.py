"""Grading as an unprivileged user, as the grade step runs on GitHub's ubuntu-latest (user `runner`).

The test creates a user (it needs root and `useradd`; it skips with the reason otherwise), grades
the solution and the partial example as root and as that user with the same seed and one thread,
and compares the verdicts.  `artifacts.sandbox` must say which layers held: on a kernel that lets
the user make a user namespace (`unshare -Urn`), the network layer too.  On Ubuntu 24.04, where
AppArmor restricts unprivileged user namespaces, the network layer reads `none (...)` instead and
the verdicts stay the same (inputs are fresh per grading and the labels stay in the parent).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.course.examples import build

ROOT = Path(__file__).resolve().parents[2]
USER = "mlp-grade-probe"
SEED = 20261201
SYSTEM_PYTHON = Path("/usr/bin/python3.11")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux only")]


def _as(user: str | None, args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    prefix = ["runuser", "-u", user, "--"] if user else []
    env = ["env", "-i", "PATH=/usr/bin:/bin", f"HOME={home}", "LANG=C.UTF-8"]
    return subprocess.run([*prefix, *env, *args], cwd=cwd, capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if os.geteuid() != 0:
        pytest.skip("creating a user needs root (useradd); as a non-root user every grading is already unprivileged")
    if not (shutil.which("useradd") and shutil.which("runuser") and shutil.which("userdel")):
        pytest.skip("useradd, runuser or userdel is missing")
    created = False
    try:
        pwd.getpwnam(USER)
    except KeyError:
        done = subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", USER], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            pytest.skip(f"useradd {USER} failed: {done.stderr.strip()}")
        created = True
    yield USER
    if created:
        subprocess.run(["userdel", "--remove", USER], capture_output=True, check=False)


def _interpreter_for(user: str, scratch: Path) -> Path:
    """A Python the user can run, with this checkout's installed packages (its venv may sit in /root)."""
    mine = Path(sys.executable)
    if _as(user, [str(mine), "-c", "import autograder"], scratch, scratch).returncode == 0:
        return mine
    if not SYSTEM_PYTHON.is_file():
        pytest.skip(f"{user} cannot run {mine} (its interpreter is not readable) and there is no {SYSTEM_PYTHON}")
    venv = scratch / "venv"
    subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    here = next(Path(sys.prefix).glob("lib/python*/site-packages"))
    (site / "zz_checkout.pth").write_text(f"import site; site.addsitedir({str(here)!r})\n")
    probe = _as(user, [str(venv / "bin" / "python"), "-c", "import autograder, torch"], scratch, scratch)
    if probe.returncode != 0:
        pytest.skip(f"{user} cannot import this checkout's packages: {probe.stderr.strip()[-300:]}")
    return venv / "bin" / "python"


def _grade(user: str | None, python: Path, notebook: Path, home: Path) -> dict[str, Any]:
    out = notebook.with_suffix(f".{user or 'root'}.json")
    done = _as(user, [str(python), "-m", "autograder", "grade", notebook.name, "--json", str(out), "--seed", str(SEED),
                      "--threads", "1", "--device", "cpu", "-q"], notebook.parent, home)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture
def scratch() -> Any:
    """A folder the user can reach (pytest's own tmp_path sits under a folder only root may enter)."""
    folder = Path(tempfile.mkdtemp(prefix="mlp-unprivileged-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_an_unprivileged_grading_keeps_the_verdicts_and_names_the_layers(user: str, scratch: Path) -> None:
    home = Path(pwd.getpwnam(user).pw_dir)
    python = _interpreter_for(user, scratch)
    release, source = nbformat.read(ROOT / "release/mlp/mlp.ipynb", 4), nbformat.read(ROOT / "source/mlp/mlp.ipynb", 4)
    work = scratch / "work"
    work.mkdir()
    for name in ("solution", "partial"):
        (work / f"{name}.ipynb").write_text(build(name, release, source).content)
    shutil.chown(work, user)
    can_unshare = _as(user, ["unshare", "-Urn", "true"], work, home).returncode == 0 if shutil.which("unshare") else False
    for name, expected in (("solution", 100.0), ("partial", 38.0)):
        theirs = _grade(user, python, work / f"{name}.ipynb", home)
        ours = _grade(None, Path(sys.executable), work / f"{name}.ipynb", Path.home())
        assert theirs["score"] == ours["score"] == expected
        verdicts = [{k: q[k] for k in ("id", "score", "status", "message")} for q in theirs["questions"]]
        assert verdicts == [{k: q[k] for k in ("id", "score", "status", "message")} for q in ours["questions"]]
        layers = theirs["artifacts"]["sandbox"]
        assert set(layers) == {"network", "files", "syscalls", "device"}
        assert layers["network"] == ("user+network namespace" if can_unshare else layers["network"])
        assert layers["network"].startswith(("user+network namespace", "none ("))
        assert layers["files"].startswith(("landlock ABI", "none ("))
        assert layers["syscalls"].startswith(("seccomp", "none ("))
        assert ours["artifacts"]["sandbox"]["network"] == "network namespace"  # root: no user namespace needed
