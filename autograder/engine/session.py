"""Running a plan in grading children: start one, watch its steps and limits, replace it when it fails.

A child (`autograder.engine.child`) runs the plan's steps in order and announces each on a status pipe
(`S <step>` when it starts one, `E <step>` when it ends it, `P <text>` for progress).  A step that hangs,
crashes, exits or exhausts memory or disk is killed and recorded; a fresh child then carries on with
the steps that are left, so a failure costs only the questions that need that step.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlp_lab.questions import unit

from .plan import GiB, Limits, Plan, Step, StepStatus

__all__ = ["Session", "StepOutcome"]

CHILD_MODULE = "autograder.engine.child"
_STARTUP = Step("startup")
_DONE = Step("done")


@dataclass(frozen=True)
class StepOutcome:
    status: StepStatus
    message: str = ""


class Session:
    """Runs the steps in fresh children until every step has finished, been skipped or run out of time."""

    def __init__(self, run_dir: Path, plan: Plan, limits: Limits, deadline: float,
                 progress: Callable[[str], None] | None) -> None:
        self.run_dir, self.plan, self.limits, self.deadline = run_dir, plan, limits, deadline
        self.progress = progress
        self.outcomes: dict[Step, StepOutcome] = {}
        self.steps = plan.steps()

    def _budget(self, step: Step) -> float:
        if step.kind == "startup":
            return self.limits.startup
        if step.kind == "cell":
            return self.limits.cell
        return self.limits.training if unit(step.name).kind == "training" else self.limits.unit

    def run(self) -> None:
        while True:
            pending = [s for s in self.steps if s not in self.outcomes]
            if not pending:
                return
            if time.monotonic() >= self.deadline:
                for s in pending:
                    self.outcomes[s] = StepOutcome("timeout", "the grading ran out of its total time")
                return
            done_units = [s for s in self.outcomes if s.kind == "unit"]
            failed_cells = [s for s, o in self.outcomes.items() if s.kind == "cell" and o.status != "ok"]
            self.plan.skip = [str(s) for s in done_units + failed_cells]
            self._child(pending)

    def _fresh_folders(self) -> None:
        """A new child starts with only the submission in its working folder and no stray files in io/."""
        work = self.run_dir / "work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        shutil.copyfile(self.run_dir / "submission.ipynb", work / "submission.ipynb")
        io_dir = self.run_dir / "io"
        for entry in list(io_dir.iterdir()):
            if entry.name in ("plan.json", "inputs", "results"):
                continue
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
        for entry in list((io_dir / "results").iterdir()):
            if entry.is_dir() or entry.suffix not in (".json", ".npz"):
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)

    def _environment(self) -> dict[str, str]:
        work = self.run_dir / "work"
        threads = str(self.plan.threads)
        return {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
                "MPLCONFIGDIR": str(work / ".mpl"), "TMPDIR": str(work), "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
                "CUBLAS_WORKSPACE_CONFIG": ":4096:8", "XDG_CACHE_HOME": str(work / ".cache"),
                # numpy's BLAS then starts no thread at import, so an unprivileged child is still
                # single-threaded when it unshares into a user+network namespace (sandbox.no_network).
                "OPENBLAS_NUM_THREADS": "1",
                # The interpreter itself may need it to start (setup-python's tool-cache Python on a
                # self-hosted runner links libpython from its own lib/).
                **({"LD_LIBRARY_PATH": os.environ["LD_LIBRARY_PATH"]} if os.environ.get("LD_LIBRARY_PATH") else {})}

    def _child(self, pending: Sequence[Step]) -> None:
        self._fresh_folders()
        io_dir = self.run_dir / "io"
        (io_dir / "plan.json").write_text(self.plan.to_json(), encoding="utf-8")
        read_fd, write_fd = os.pipe()
        with open(self.run_dir / "child.out", "ab") as out, open(self.run_dir / "child.err", "ab") as err:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-m", CHILD_MODULE, str(io_dir), str(write_fd)],
                cwd=self.run_dir / "work", env=self._environment(), stdin=subprocess.DEVNULL, stdout=out,
                stderr=err, pass_fds=(write_fd,), start_new_session=True)
        os.close(write_fd)
        current, started, buf = _STARTUP, time.monotonic(), b""
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
                        kind, _, text = line.decode(errors="replace").partition(" ")
                        if kind == "P":
                            if self.progress:
                                self.progress(text)
                            continue
                        try:
                            step = Step.parse(text)
                        except ValueError:
                            continue
                        if kind == "S":
                            current, started = step, time.monotonic()
                            if step == _DONE:
                                return
                        elif kind == "E" and step == current and step != _STARTUP:
                            self.outcomes[step] = StepOutcome("ok")
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
                    self._fail(current, pending, StepOutcome("timeout", why))
                    return
            self._kill(proc)
            code = proc.returncode
            how = f"killed by signal {signal.Signals(-code).name}" if code and code < 0 else f"exit status {code}"
            self._fail(current, pending, StepOutcome("crashed", f"the process ended ({how})"))
        finally:
            os.close(read_fd)
            self._kill(proc)

    def _fail(self, step: Step, pending: Sequence[Step], outcome: StepOutcome) -> None:
        if step in self.outcomes:
            # The child died between two steps (a thread of the student's, say): blame the next step,
            # so that every failed child moves the grading forward.
            step = next((s for s in pending if s not in self.outcomes), _DONE)
            if step == _DONE:
                return
        if step in (_STARTUP, _DONE):
            for s in pending:  # no step of this child ran: they all share the fate
                if s not in self.outcomes:
                    self.outcomes[s] = StepOutcome(outcome.status, f"the grader's process could not start: "
                                                   f"{outcome.message}")
            return
        self.outcomes[step] = outcome

    def _over_limits(self, pid: int) -> StepOutcome | None:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        if int(line.split()[1]) * 1024 > self.limits.memory:
                            return StepOutcome("memory", f"it used more than {self.limits.memory / GiB:.1f} GiB "
                                               "of memory")
                        break
        except (OSError, ValueError):
            return None
        written = sum(_folder_size(self.run_dir / d, self.limits.disk) for d in ("work", "io"))
        if written > self.limits.disk:
            return StepOutcome("disk", f"it wrote more than {self.limits.disk / 2**20:.0f} MiB of files")
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
