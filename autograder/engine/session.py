"""Running a plan in grading children, with the parent in charge of every step and every clock.

A child is forked by the zygote (`zygote.py`) for this grading.  The parent sends it the plan, waits
for `ready` (its sandbox is up), then sends one command per step (a cell, or a unit with its inputs)
and starts that step's clock; only the `done` reply carrying the step's token ends the step (see
`protocol`).  A step that runs past its budget, a child that dies, exceeds its memory or disk, or sends
anything malformed, is killed; the step is charged; a fresh child replays the cells that ran and goes
on with the steps that are left.  A unit whose `after` unit (the same student code, run first) timed
out or crashed is not started at all: a `forward` that hangs costs its own probe's seconds once.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlp_lab.questions import unit

from . import wire
from .plan import GiB, Limits, Plan, Step, StepStatus
from .protocol import Command, FrameReader, ProtocolError, Reply, frame_bytes, new_token
from .zygote import Zygote

__all__ = ["Session", "StepOutcome"]

_STARTUP = Step("startup")
_REAP_TRIES = 40


@dataclass(frozen=True)
class StepOutcome:
    status: StepStatus
    message: str = ""


class _Stop(Exception):
    """The current child must go: why, as the outcome its current step gets."""

    def __init__(self, outcome: StepOutcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


class Session:
    """Runs the steps in fresh children until every step has finished, been skipped or run out of time.

    After `run`, `outcomes` holds every step's outcome, `results` the decoded answer of every step that
    finished (a `WireError` when the answer was unreadable), `sandbox` the layers the last child set up.
    """

    def __init__(self, run_dir: Path, plan: Plan, unit_inputs: Mapping[str, Mapping[str, Any]], limits: Limits,
                 deadline: float, progress: Callable[[str], None] | None, zygotes: Callable[[], Zygote]) -> None:
        self.run_dir, self.plan, self.limits, self.deadline = run_dir, plan, limits, deadline
        self.unit_inputs, self.progress, self.zygotes = unit_inputs, progress, zygotes
        self.zygote = zygotes()
        self.outcomes: dict[Step, StepOutcome] = {}
        self.results: dict[Step, Any] = {}
        self.sandbox: dict[str, str] = {}
        self.peak_rss = 0  # bytes, the largest resident memory a child of this session was seen with
        self.steps = plan.steps()

    def budget(self, step: Step) -> float:
        if step.kind == "startup":
            return self.limits.startup
        if step.kind == "cell":
            return self.limits.cell
        u = unit(step.name)
        return self.limits.training if u.kind == "training" else min(u.budget, self.limits.unit)

    def run(self) -> None:
        while True:
            pending = [s for s in self.steps if s not in self.outcomes]
            if not pending:
                return
            if time.monotonic() >= self.deadline:
                for s in pending:
                    self.outcomes[s] = StepOutcome("timeout", "the grading ran out of its total time")
                return
            self._child()

    # --- one child ----------------------------------------------------------------------------------

    def _fresh_work(self) -> Path:
        work = Path(self.plan.work_dir)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        shutil.copyfile(self.run_dir / "submission.ipynb", work / "submission.ipynb")
        return work

    def _child(self) -> None:
        self._fresh_work()
        cmd_r, cmd_w = os.pipe()
        rep_r, rep_w = os.pipe()
        with open(self.run_dir / "child.out", "ab") as out, open(self.run_dir / "child.err", "ab") as err:
            try:
                if not self.zygote.alive():  # it died (a kernel without seccomp lets a child signal it)
                    self.zygote = self.zygotes()
                pid = self.zygote.fork(cmd_r, rep_w, out.fileno(), err.fileno())
            finally:
                os.close(cmd_r)
                os.close(rep_w)
        os.set_blocking(cmd_w, False)
        reader = FrameReader(rep_r)
        current: Step = _STARTUP
        replaying = False
        try:
            self._send(cmd_w, Command("plan"), self.plan.to_json().encode(), pid, _STARTUP)
            frame = self._await(reader, pid, time.monotonic() + self.budget(_STARTUP), "")
            self.sandbox = _layers(frame.payload)
            for step in self.steps:
                outcome = self.outcomes.get(step)
                if (step.kind == "unit" and outcome is not None) or (step.kind == "cell" and outcome and outcome.status != "ok"):
                    continue
                current, replaying = step, outcome is not None
                if step.kind == "unit" and self._skip_after_failure(step):
                    continue
                token = new_token()
                payload = wire.encode(dict(self.unit_inputs[step.name])) if step.kind == "unit" else b""
                started = time.monotonic()
                self._send(cmd_w, Command(step.kind, token, step.name), payload, pid, step)  # type: ignore[arg-type]
                frame = self._await(reader, pid, min(started + self.budget(step), self.deadline), token, step)
                if not replaying:
                    self.outcomes[step] = StepOutcome("ok")
                    self.results[step] = _decode(frame.payload)
            current = Step("done")
            self._send(cmd_w, Command("exit"), b"", pid, current)
        except _Stop as stop:
            self._charge(current, replaying, stop.outcome)
        except (ProtocolError, OSError) as err:
            self._charge(current, replaying, StepOutcome("crashed", self._ended(pid, err)))
        finally:
            os.close(cmd_w)
            os.close(rep_r)
            self._kill(pid)

    def _skip_after_failure(self, step: Step) -> bool:
        for prior in unit(step.name).after:
            outcome = self.outcomes.get(Step.unit(prior))
            if outcome is not None and outcome.status != "ok":
                self.outcomes[step] = StepOutcome(outcome.status, f"not started, because {unit(prior).what} "
                                                  f"did not finish: {outcome.message}")
                return True
        return False

    def _send(self, fd: int, cmd: Command, payload: bytes, pid: int, step: Step) -> None:
        """Write a command without ever blocking past the step's budget (a child that stops reading)."""
        budget = 5.0 if step.kind == "done" else self.budget(step)
        limit = min(time.monotonic() + budget, self.deadline)
        view = memoryview(frame_bytes(cmd.header(), payload))
        while view:
            self._check(pid)
            _, writable, _ = select.select([], [fd], [], 0.25)
            if writable:
                try:
                    view = view[os.write(fd, view[: 1 << 16]):]
                except BlockingIOError:
                    continue
            elif time.monotonic() >= limit:
                raise _Stop(StepOutcome("timeout", f"it did not take its input within {budget:.0f} s"))

    def _await(self, reader: FrameReader, pid: int, limit: float, token: str, step: Step = _STARTUP) -> Any:
        """The reply that ends this step; progress lines are passed on and never extend the clock."""
        while True:
            frame = reader.read(limit, poll=lambda: self._check(pid))
            if frame is None:
                raise _Stop(StepOutcome("timeout", "the grading ran out of its total time" if limit >= self.deadline
                                        else f"it ran longer than {self.budget(step):.0f} s"))
            reply = Reply.from_header(frame.header)
            if reply.kind == "progress":
                if self.progress:
                    self.progress("".join(ch for ch in reply.text if ch.isprintable()))
                continue
            expected = "ready" if step == _STARTUP else "done"
            if reply.kind != expected or reply.token != token:
                raise ProtocolError(f"an answer out of turn ({reply.kind})")
            # A step that flooded memory or disk faster than the polls saw is charged here, not the next.
            self._check(pid)
            return frame

    def _check(self, pid: int) -> None:
        over = self._over_limits(pid)
        if over is not None:
            raise _Stop(over)

    def _charge(self, step: Step, replaying: bool, outcome: StepOutcome) -> None:
        """Give `outcome` to the step the child failed on, so that every failed child moves grading on.

        A cell that ran before and now fails while a fresh child replays it (it flooded memory, say,
        and was noticed only later) takes the blame itself and is not replayed again: the steps after
        it, the units above all, never pay for it.
        """
        if step.kind == "done":
            return
        if step == _STARTUP:
            for s in self.steps:  # no step of this child ran: they all share the fate
                if s not in self.outcomes:
                    self.outcomes[s] = StepOutcome(outcome.status, f"the grader's process could not start: "
                                                   f"{outcome.message}")
            return
        if replaying:
            outcome = StepOutcome(outcome.status, f"{outcome.message} (when it ran again for a fresh process)")
        self.outcomes[step] = outcome
        self.results.pop(step, None)

    def _ended(self, pid: int, err: Exception) -> str:
        status = self._kill(pid)
        if status is None:
            return f"the process stopped answering ({err})"
        code = os.waitstatus_to_exitcode(status)
        how = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        return f"the process ended ({how})"

    def _over_limits(self, pid: int) -> StepOutcome | None:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) * 1024
                        self.peak_rss = max(self.peak_rss, rss)
                        if rss > self.limits.memory:
                            return StepOutcome("memory", f"it used more than {self.limits.memory / GiB:.1f} GiB "
                                               "of memory")
                        break
        except (OSError, ValueError):
            return None
        written = _folder_size(Path(self.plan.work_dir), self.limits.disk)
        if written > self.limits.disk:
            return StepOutcome("disk", f"it wrote more than {self.limits.disk / 2**20:.0f} MiB of files")
        return None

    def _kill(self, pid: int) -> int | None:
        """Kill the child's process group and return its wait status (None if it could not be had)."""
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for _ in range(_REAP_TRIES):
            try:
                status = self.zygote.reap(pid)
            except Exception:
                return None
            if status is not None:
                return status
            time.sleep(0.05)
        return None


def _decode(payload: bytes) -> Any:
    try:
        return wire.decode(payload)
    except wire.WireError as err:
        return err


def _layers(payload: bytes) -> dict[str, str]:
    try:
        raw = wire.decode(payload, max_bytes=1 << 16)
    except wire.WireError:
        return {}
    return {str(k)[:40]: str(v)[:200] for k, v in raw.items()} if isinstance(raw, dict) else {}


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
