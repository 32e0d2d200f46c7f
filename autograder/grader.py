"""Grade one submission: out of process, confined, with a verdict computed from raw numbers.

Pipeline (each step a function below; `grade_notebook` runs them in this order):

1. `read_submission`   the notebook is read as data (never run here); unreadable -> every question
                       `error` with the reason;
2. `plan_cells`        which code cells run: all but grade cells and cells tagged `skip-grading`;
3. `static.scan_from_scratch`  the source is parsed for built-in activations and layers;
4. `inputs.draw_inputs`        fresh random inputs for this grading;
5. `_Session.run`      a child process (`_child`) confines itself and runs cells, then probes, one
                       step at a time; a step that hangs, crashes or exhausts memory is killed and
                       skipped, and a fresh child goes on with the rest;
6. `verdicts.verdict`  each question's verdict from the numbers the child wrote;
7. a `Report`, written by the caller after the child is gone.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import _wire, static, verdicts
from .data import DEBIAN_DIR, load_fashion_mnist
from .errors import NotebookError
from .inputs import draw_inputs
from .questions import QUESTIONS
from .report import QuestionResult, Report

__all__ = ["Limits", "PlannedCell", "grade_notebook", "plan_cells", "read_submission"]

SKIP_TAG = "skip-grading"
MAX_NOTEBOOK_BYTES = 16 * 1024 * 1024
GiB = 1024**3
# The grader's training run for the accuracy question: the lecture's lr and batch size, half of
# d2l's 10 epochs so that grading one submission stays within 30 s on a 2-core runner.  The
# threshold in checks.ACCURACY_THRESHOLD is measured for exactly this budget
# (benchmarks/accuracy_threshold.py).
GRADER_BUDGET: dict[str, Any] = {"epochs": 5, "batch_size": 256, "lr": 0.1, "final_lr": 0.01}


@dataclass(frozen=True)
class Limits:
    """Per-child limits.  Seconds are wall-clock; memory is resident memory (RSS)."""

    startup: float = 90.0
    cell: float = 60.0
    unit: float = 45.0
    training: float = 240.0
    memory: int = 4 * GiB
    address_space: int = 16 * GiB
    disk: int = 512 * 1024 * 1024
    file_size: int = 128 * 1024 * 1024
    open_files: int = 512


@dataclass(frozen=True)
class PlannedCell:
    index: int  # position among all cells of the notebook, counted from 1 as Jupyter users count
    label: str
    source: str


def read_submission(path: Path) -> Any:
    """The notebook as an nbformat 4 node; NotebookError says what is wrong in the student's words."""
    import nbformat

    try:
        size = path.stat().st_size
    except OSError as err:
        raise NotebookError(f"cannot read {path.name}: {err.strerror}") from None
    if size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"{path.name} is {size / 2**20:.0f} MiB; a notebook over 16 MiB is refused. "
                            "Clear the outputs (Kernel > Restart & Clear Output) and save again.")
    text = path.read_bytes().decode("utf-8", errors="replace")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise NotebookError(f"{path.name} is not valid JSON (line {err.lineno}, column {err.colno}: "
                            f"{err.msg}), so it is not a readable notebook. Open it in Jupyter; if it "
                            "will not open, restore it from git (git log -- <file>) and save again.") from None
    if not isinstance(raw, dict) or "cells" not in raw or not isinstance(raw["cells"], list):
        raise NotebookError(f"{path.name} is JSON but not a Jupyter notebook (no list of cells).")
    try:
        return nbformat.reads(text, as_version=4)
    except Exception as err:  # nbformat raises many kinds
        raise NotebookError(f"{path.name} is not a valid nbformat 4 notebook: {err}") from None


def plan_cells(nb: Any) -> list[PlannedCell]:
    """The code cells the child runs: not grade cells (tests), not cells tagged `skip-grading`."""
    planned = []
    for i, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {})
        nbg = meta.get("nbgrader", {}) or {}
        if nbg.get("grade") or SKIP_TAG in (meta.get("tags") or []):
            continue
        gid = nbg.get("grade_id")
        label = f"cell {i}" + (f" ({gid})" if gid else "")
        source = cell.get("source", "")
        planned.append(PlannedCell(i, label, source if isinstance(source, str) else "".join(source)))
    return planned


# --- data for the child -----------------------------------------------------------------------


_DATA_DIR: Path | None = None  # the training split as .npy files, written once per process


def _training_data() -> tuple[Path, np.ndarray, np.ndarray]:
    """A private folder with the training split and the test images (no labels), made once per process.

    Returns the folder, the test images and the test labels (kept here, never given to a child).
    """
    global _DATA_DIR
    ds = load_fashion_mnist()
    if _DATA_DIR is None:
        folder = Path(tempfile.mkdtemp(prefix="mlp-grader-data-"))
        atexit.register(shutil.rmtree, folder, True)
        np.save(folder / "train_images.npy", ds.train_images)
        np.save(folder / "train_labels.npy", ds.train_labels)
        _DATA_DIR = folder
    return _DATA_DIR, ds.test_images, ds.test_labels


def _denied_paths(submission: Path) -> list[Path]:
    from .data import _default_cache_dir

    package = Path(__file__).resolve().parent
    denied = [package, submission.resolve().parent, Path.home(), DEBIAN_DIR.parent,
              _default_cache_dir(), Path(tempfile.gettempdir())]
    if (package.parent / "pyproject.toml").exists():
        denied.append(package.parent)  # the course repository: source/ holds the solutions
    for var in ("FASHION_MNIST_DIR", "TORCHVISION_ROOT", "GITHUB_WORKSPACE", "RUNNER_TEMP"):
        if os.environ.get(var):
            denied.append(Path(os.environ[var]))
    return denied


def _read_only_roots() -> list[str]:
    # /proc is not here: the child adds its own /proc/<pid> and a few system files itself, so that
    # it cannot read other processes' environments (the grader's, with CI tokens) or command lines.
    roots = {"/usr", "/lib", "/lib64", "/bin", "/etc", "/sys", sys.prefix, sys.base_prefix,
             sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    roots.update(p for p in sys.path if p and os.path.isdir(p))
    return sorted(roots)


# --- the child session ------------------------------------------------------------------------


@dataclass
class _StepOutcome:
    status: str  # ok | timeout | crashed | memory | disk
    message: str = ""


class _Session:
    """Runs the steps in fresh children until every step has finished, been skipped or run out of time."""

    def __init__(self, run_dir: Path, plan: dict[str, Any], limits: Limits, deadline: float,
                 progress: Callable[[str], None] | None) -> None:
        self.run_dir, self.plan, self.limits, self.deadline = run_dir, plan, limits, deadline
        self.progress = progress
        self.outcomes: dict[str, _StepOutcome] = {}
        self.steps = [f"cell:{c['index']}" for c in plan["cells"]] + [f"unit:{u}" for u in plan["units"]]

    def _budget(self, step: str) -> float:
        if step == "startup":
            return self.limits.startup
        if step.startswith("cell:"):
            return self.limits.cell
        return self.limits.training if step.startswith("unit:train_") else self.limits.unit

    def run(self) -> None:
        while True:
            pending = [s for s in self.steps if s not in self.outcomes]
            if not pending:
                return
            if time.monotonic() >= self.deadline:
                for s in pending:
                    self.outcomes[s] = _StepOutcome("timeout", "the grading ran out of its total time")
                return
            done_units = [s for s in self.outcomes if s.startswith("unit:")]
            failed_cells = [s for s, o in self.outcomes.items() if s.startswith("cell:") and o.status != "ok"]
            self.plan["skip"] = done_units + failed_cells
            self._child(pending)

    def _fresh_folders(self) -> None:
        """A new child starts with only the submission in its working folder and no stray files in io/."""
        work = self.run_dir / "work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        shutil.copyfile(self.run_dir / "submission.ipynb", work / "submission.ipynb")
        io_dir = self.run_dir / "io"
        for entry in list(io_dir.iterdir()):
            if entry.name in ("plan.json", "inputs.npz", "results"):
                continue
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
        for entry in list((io_dir / "results").iterdir()):
            if entry.is_dir() or entry.suffix not in (".json", ".npz"):
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)

    def _child(self, pending: Sequence[str]) -> None:
        self._fresh_folders()
        io_dir = self.run_dir / "io"
        (io_dir / "plan.json").write_text(json.dumps(self.plan), encoding="utf-8")
        read_fd, write_fd = os.pipe()
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.run_dir / "work"), "LANG": "C.UTF-8",
               "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(self.run_dir / "work" / ".mpl"),
               "TMPDIR": str(self.run_dir / "work"), "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": str(self.plan["threads"]),
               "MKL_NUM_THREADS": str(self.plan["threads"]), "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
               "XDG_CACHE_HOME": str(self.run_dir / "work" / ".cache")}
        with open(self.run_dir / "child.out", "ab") as out, open(self.run_dir / "child.err", "ab") as err:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-m", "autograder._child", str(io_dir), str(write_fd)],
                cwd=self.run_dir / "work", env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                pass_fds=(write_fd,), start_new_session=True)
        os.close(write_fd)
        current, started, buf = "startup", time.monotonic(), b""
        finished: set[str] = set()
        try:
            while True:
                now = time.monotonic()
                limit = min(started + self._budget(current), self.deadline)
                ready, _, _ = select.select([read_fd], [], [], max(0.0, min(0.25, limit - now)))
                if ready:
                    chunk = os.read(read_fd, 65536)
                    if not chunk:  # the child is gone
                        break
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        kind, _, step = line.decode(errors="replace").partition(" ")
                        if kind == "S":
                            current, started = step, time.monotonic()
                            if step == "done":
                                return
                        elif kind == "E" and step == current:
                            finished.add(step)
                            if step != "startup":
                                self.outcomes[step] = _StepOutcome("ok")
                        elif kind == "P" and self.progress:
                            self.progress(step)
                    continue
                over = self._over_limits(proc.pid)
                if over is not None:
                    self._kill(proc)
                    self._fail(current, pending, over)
                    return
                if time.monotonic() >= limit:
                    self._kill(proc)
                    why = ("the grading ran out of its total time" if limit >= self.deadline
                           else f"it ran longer than {self._budget(current):.0f} s")
                    self._fail(current, pending, _StepOutcome("timeout", why))
                    return
            self._kill(proc)
            code = proc.returncode
            how = f"killed by signal {signal.Signals(-code).name}" if code and code < 0 else f"exit status {code}"
            self._fail(current, pending, _StepOutcome("crashed", f"the process ended ({how})"))
        finally:
            os.close(read_fd)
            self._kill(proc)

    def _fail(self, step: str, pending: Sequence[str], outcome: _StepOutcome) -> None:
        if step in self.outcomes:
            # The child died between two steps (a thread of the student's, say): blame the next step,
            # so that every failed child moves the grading forward.
            step = next((s for s in pending if s not in self.outcomes), "done")
            if step == "done":
                return
        if step in ("startup", "done"):
            for s in pending:  # no step of this child ran: they all share the fate
                if s not in self.outcomes:
                    self.outcomes[s] = _StepOutcome(outcome.status, f"the grader's process could not start: "
                                                    f"{outcome.message}")
            return
        self.outcomes[step] = outcome

    def _over_limits(self, pid: int) -> _StepOutcome | None:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        if int(line.split()[1]) * 1024 > self.limits.memory:
                            return _StepOutcome("memory", f"it used more than {self.limits.memory / GiB:.1f} GiB "
                                                "of memory")
                        break
        except (OSError, ValueError):
            return None
        written = sum(_folder_size(self.run_dir / d, self.limits.disk) for d in ("work", "io"))
        if written > self.limits.disk:
            return _StepOutcome("disk", f"it wrote more than {self.limits.disk / 2**20:.0f} MiB of files")
        return None

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()


def _folder_size(folder: Path, stop_at: int) -> int:
    total, seen = 0, 0
    stack = [folder]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for e in entries:
            seen += 1
            if seen > 20000:
                return stop_at + 1  # a flood of files is itself the problem
            try:
                if e.is_dir(follow_symlinks=False):
                    stack.append(Path(e.path))
                else:
                    total += e.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
        if total > stop_at:
            return total
    return total


# --- verdicts ---------------------------------------------------------------------------------


def _describe(step: str, outcome: _StepOutcome, cells: dict[int, str]) -> str:
    kind, _, name = step.partition(":")
    what = cells.get(int(name), step) if kind == "cell" else {
        "train_scratch": "training MLPScratch", "train_concise": "training MLP"}.get(name, f"checking {name}")
    return f"{what}: {outcome.message}"


def _collect(session: _Session, run_dir: Path, cells: list[PlannedCell]) -> tuple[dict[str, verdicts.UnitData], list[str]]:
    labels = {c.index: c.label for c in cells}
    notes: list[str] = []
    for c in cells:
        step = f"cell:{c.index}"
        outcome = session.outcomes.get(step)
        if outcome is not None and outcome.status != "ok":
            notes.append(_describe(step, outcome, labels))
            continue
        try:
            err = _wire.load(run_dir / "io" / "results" / f"cell-{c.index}").get("error")
        except (_wire.WireError, AttributeError):
            err = None
        if err:
            notes.append(f"{c.label} raised {str(err)[:300]}")
    units: dict[str, verdicts.UnitData] = {}
    for u in session.plan["units"]:
        step = f"unit:{u}"
        outcome = session.outcomes.get(step)
        if outcome is None or outcome.status != "ok":
            status = "timeout" if outcome is not None and outcome.status == "timeout" else "crashed"
            message = _describe(step, outcome, labels) if outcome else f"{u} did not run"
            units[u] = verdicts.UnitData(error=message, status=status)
            continue
        try:
            raw = _wire.load(run_dir / "io" / "results" / f"unit-{u}")
        except _wire.WireError as err:
            units[u] = verdicts.UnitData(error=f"the result was unreadable ({err})", status="error")
            continue
        if not isinstance(raw, dict):
            units[u] = verdicts.UnitData(error="the result was unreadable", status="error")
        elif "missing" in raw:
            names = ", ".join(str(n) for n in raw["missing"])
            units[u] = verdicts.UnitData(error=f"{names} is not defined. Run every cell from the top; "
                                         "a cell that raised an error defines nothing after the error.",
                                         status="missing")
        elif "error" in raw:
            units[u] = verdicts.UnitData(error=str(raw["error"]), status="error")
        else:
            units[u] = verdicts.UnitData(values=raw.get("values") or {})
    return units, notes


def _artifacts(units: dict[str, verdicts.UnitData], test_labels: np.ndarray) -> dict[str, Any]:
    from .checks import accuracy

    art: dict[str, Any] = {}
    plot = units.get("plot")
    if plot is not None and plot.status == "ok":
        art["activations"] = {k: np.asarray(v).ravel().tolist() for k, v in plot.values.items()}
    curves, accs = {}, {}
    for u, name in (("train_scratch", "MLPScratch"), ("train_concise", "MLP")):
        data = units.get(u)
        if data is not None and data.status == "ok" and "train_loss" in data.values:
            curves[name] = {"train_loss": np.asarray(data.values["train_loss"]).tolist()}
            after = np.asarray(data.values.get("after"))
            if after.ndim == 2 and after.shape[0] == test_labels.shape[0]:
                accs[name] = round(accuracy(after, test_labels), 4)
    if curves:
        art["curves"] = curves
    if accs:
        art["accuracy"] = accs
    return art


def grade_notebook(path: str | os.PathLike[str], *, device: str = "auto", timeout: float | None = None,
                   threads: int | None = None, progress: Callable[[str], None] | None = None,
                   seed: int | None = None, limits: Limits | None = None,
                   budget: dict[str, Any] | None = None, only: Sequence[str] | None = None) -> Report:
    """Grade one notebook; always returns a Report with every question (never raises for bad input).

    `only` grades just those question ids (the others are reported as not graded, 0 points); the
    units they need are all that runs, so `only=["relu_grad"]` trains nothing.
    """
    started = time.monotonic()
    submission = Path(path)
    limits = limits or Limits()
    total = float(timeout) if timeout is not None else 900.0
    deadline = started + total
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
    say = progress or (lambda _msg: None)
    try:
        nb = read_submission(submission)
    except NotebookError as err:
        return Report.all_failed(str(submission), device, time.monotonic() - started, "error", str(err))
    wanted = list(only) if only is not None else [q.id for q in QUESTIONS]
    unknown = sorted(set(wanted) - {q.id for q in QUESTIONS})
    if unknown:
        raise ValueError(f"unknown question ids {unknown}")
    units_needed = {u for qid in wanted for u in verdicts.QUESTION_UNITS[qid]}
    if only is None:
        units_needed.add("plot")
    cells = plan_cells(nb)
    findings = static.scan_from_scratch([static.Cell(c.label, c.source) for c in cells])
    rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
    inputs = draw_inputs(rng)
    train_budget = {**GRADER_BUDGET, "seed": int(rng.integers(2**31))}
    train_budget.update(budget or {})
    data_dir, test_images, test_labels = _training_data()
    perm = rng.permutation(test_labels.shape[0])
    run_dir = Path(tempfile.mkdtemp(prefix="mlp-grade-"))
    try:
        for sub in ("work", "io/results", "data"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(submission, run_dir / "submission.ipynb")
        np.save(run_dir / "data" / "test_images.npy", test_images[perm])
        for name in ("train_images.npy", "train_labels.npy"):
            os.link(data_dir / name, run_dir / "data" / name) if _same_fs(data_dir, run_dir) \
                else shutil.copyfile(data_dir / name, run_dir / "data" / name)
        flat = {k: v for k, v in inputs.items() if isinstance(v, np.ndarray)}
        for group in ("collapse", "nonlin"):
            flat.update({f"{group}.{k}": v for k, v in inputs[group].items()})
        np.savez(run_dir / "io" / "inputs.npz", **flat)
        n_threads = threads or _default_threads()
        plan = {
            "cells": [{"index": c.index, "label": c.label, "source": c.source} for c in cells],
            "units": [u for u in verdicts.UNITS if u in units_needed], "unit_names": {u: list(n) for u, n in verdicts.UNIT_NAMES.items()},
            "dims": inputs["dims"], "device": device, "threads": n_threads, "budget": train_budget,
            "data_dir": str(run_dir / "data"), "skip": [],
            "limits": {"address_space": limits.address_space, "file_size": limits.file_size,
                       "open_files": limits.open_files, "cpu_seconds": int(total * n_threads) + 60},
            # io/ holds the plan and the inputs, read-only to the child; only io/results is written.
            "read_only": [*_read_only_roots(), str(run_dir / "data"), str(run_dir / "io")],
            "read_write": [str(run_dir / "work"), str(run_dir / "io" / "results")],
            "denied": [str(p) for p in _denied_paths(submission)],
        }
        say(f"grading {submission.name}")
        session = _Session(run_dir, plan, limits, deadline, progress)
        session.run()
        units, notes = _collect(session, run_dir, cells)
        try:
            sandbox = _wire.load(run_dir / "io" / "results" / "sandbox")
        except _wire.WireError:
            sandbox = {}
        resolved = str(sandbox.get("device", device)) if isinstance(sandbox, dict) else device
        bud = ("{epochs} epochs of SGD, lr {lr:g} (last epoch {final_lr:g}), batch {batch_size}"
               .format(**train_budget))
        results = []
        for q in QUESTIONS:
            if q.id not in wanted:
                results.append(QuestionResult(q.id, 0.0, float(q.points), "error", "not graded in this run"))
                continue
            try:
                r = verdicts.verdict(q.id, inputs, units, findings, bud, test_labels[perm])
            except Exception as err:  # a malformed value from the child must cost only this question
                r = verdicts.CheckResult(False, f"the values your code returned could not be checked ({err})")
            needed = verdicts.QUESTION_UNITS[q.id]
            timed_out = any(units[u].status == "timeout" for u in needed if u in units)
            status = "passed" if r.passed else ("timeout" if timed_out else
                                                "error" if any(units[u].status in ("crashed", "error")
                                                               for u in needed if u in units) else "failed")
            message = r.message
            # Cell errors explain a name that is not defined; for any other failure they are noise.
            if not r.passed and notes and any(units[u].status == "missing" for u in needed if u in units):
                message += " [" + "; ".join(notes[:3]) + "]"
            results.append(QuestionResult(q.id, round(q.points * r.earned, 4), float(q.points), status, message))
        artifacts = _artifacts(units, test_labels[perm])
        artifacts["sandbox"] = {k: str(v) for k, v in sandbox.items()} if isinstance(sandbox, dict) else {}
        # Peak resident memory (Linux reports KiB) of this process and of the largest child so far.
        artifacts["peak_memory_mib"] = {
            "grader": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "child": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}
        return Report(str(submission), resolved, time.monotonic() - started, results, artifacts)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _default_threads() -> int:
    """Two torch threads on an idle machine; one when other work shares the cores.

    Measured on a 2-core runner: two threads train about 1.6x faster when the machine is idle,
    and about 10x slower than one thread when other processes compete for the cores.
    """
    cores = os.cpu_count() or 1
    idle = os.getloadavg()[0] < 0.5 * cores
    return min(cores, 2) if idle else 1


def _same_fs(a: Path, b: Path) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev
