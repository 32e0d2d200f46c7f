"""One grading child: confine itself, then run the parent's commands one at a time.

It runs in a process the zygote (`python -I -m autograder.engine.child`) forked for one grading, with
every import already done: the kit (which the notebook imports), torch, d2l and the probes.  Its stdin
carries the parent's commands; it answers on the reply descriptor `reply_fd` (a number the zygote drew
at random; see `protocol`).  The first command is the plan: the child applies every sandbox layer
(`sandbox`) before it runs any student code.  Then each `cell` command runs one notebook cell in the
namespace the notebook's cells share, and each `unit` command calls a probe of the registry on the
student's names with the inputs the parent sent.  What it sends back is plain values (`wire`); the
parent judges.  The probe functions are bound here before any cell runs, so a cell cannot swap them.
"""

from __future__ import annotations

import builtins
import math
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import torch

from mlp_lab.probes import PROBES, ProbeContext, ProbeError
from mlp_lab.probing import autograd_on
from mlp_lab.questions import unit
from mlp_lab.source import python_source

from .. import wire
from ..plan import Plan
from ..protocol import Command, FrameReader, ProtocolError, Reply, write_frame
from . import sandbox

__all__ = ["serve"]

_PROBES = dict(PROBES)  # bound now, before any student code runs
_exit = os._exit


def _confine(plan: Plan) -> dict[str, str]:
    layers: dict[str, str] = {"network": sandbox.no_network()}
    device = plan.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.cuda.init()
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(plan.threads)
    layers["device"] = device
    limits = plan.limits
    sandbox.limit_resources(None if device == "cuda" else limits.address_space, limits.file_size,
                            limits.open_files, limits.cpu_seconds)
    ro = [Path(p) for p in sandbox.expand_allowed([Path(p) for p in plan.read_only],
                                                  [Path(p) for p in plan.denied])]
    # This process's own /proc entry and system-wide counters; never another process's.
    ro += [Path(f"/proc/{os.getpid()}"), *(Path("/proc") / f for f in ("cpuinfo", "meminfo", "stat", "sys"))]
    rw = [Path(p) for p in plan.read_write]
    files = [Path(p) for p in ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")]
    files += sorted(Path("/dev").glob("nvidia*")) if device == "cuda" else []
    layers["files"] = sandbox.landlock(ro, rw, files)
    layers["syscalls"] = sandbox.seccomp()
    return layers


def _run_cell(source: str, label: str, ns: dict[str, Any]) -> str | None:
    python = python_source(source)
    if python is None:
        return None  # a cell magic that is not Python (%%bash, %%html, ...): IPython would not run it as Python
    try:
        code = compile(python, f"<{label}>", "exec")
        exec(code, ns)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: the cell fails, grading goes on
        tb = traceback.extract_tb(exc.__traceback__)
        where = next((f"line {f.lineno}" for f in reversed(tb) if f.filename == f"<{label}>"), "")
        return f"{type(exc).__name__}: {exc}"[:2000] + (f" ({where})" if where else "")
    return None


class _Data:
    """Training split and label-free test images, loaded on first use."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir
        self._train: tuple[Any, Any] | None = None

    def train(self) -> tuple[Any, Any]:
        import numpy as np

        if self._train is None:
            X = np.load(self.dir / "train_images.npy", allow_pickle=False)
            y = np.load(self.dir / "train_labels.npy", allow_pickle=False)
            self._train = (torch.from_numpy(X).float().div_(255.0), torch.from_numpy(y).long())
        return self._train

    def test(self) -> Any:
        import numpy as np

        X = np.load(self.dir / "test_images.npy", allow_pickle=False)
        return torch.from_numpy(X).float().div_(255.0)


def _probe(unit_id: str, ns: dict[str, Any], inputs: Any, ctx: ProbeContext) -> dict[str, Any]:
    u = unit(unit_id)
    missing = [n for n in u.names if n not in ns]
    if missing:
        return {"missing": missing}
    try:
        with autograd_on():
            return {"values": _PROBES[u.probe](u, {n: ns[n] for n in u.names}, inputs, ctx)}
    except ProbeError as exc:
        return {"error": str(exc)[:2000]}
    except BaseException as exc:  # the student's error (or exit) inside the probe
        return {"error": f"{type(exc).__name__}: {exc}"[:2000]}


def _encode(value: dict[str, Any]) -> bytes:
    try:
        return wire.encode(value)
    except (TypeError, ValueError) as err:
        return wire.encode({"error": f"the probe's result could not be sent ({err})"})


def serve(reply_fd: int) -> None:
    """Read the plan and the commands from stdin, answer on `reply_fd`; never returns."""
    reader = FrameReader(0)
    try:
        first = reader.read(math.inf)
        if first is None or Command.from_header(first.header).op != "plan":
            raise ProtocolError("the first command must be the plan")
        plan = Plan.from_json(first.payload.decode("utf-8"))
        work = Path(plan.work_dir)
        os.environ.update({"HOME": str(work), "TMPDIR": str(work), "XDG_CACHE_HOME": str(work / ".cache")})
        os.chdir(work)
        layers = _confine(plan)
        data = _Data(Path(plan.data_dir))
        ctx = ProbeContext(device=torch.device(layers["device"]), train=data.train, test_images=data.test,
                           progress=lambda text: write_frame(reply_fd, Reply("progress", text=text[:200]).header()))
        write_frame(reply_fd, Reply("ready").header(), wire.encode(layers))
        cells = {str(c.index): c for c in plan.cells}
        ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        while True:
            frame = reader.read(math.inf)
            if frame is None:
                raise ProtocolError("no command")
            cmd = Command.from_header(frame.header)
            if cmd.op == "exit":
                break
            if cmd.op == "cell" and cmd.target in cells:
                cell = cells[cmd.target]
                result = _encode({"error": _run_cell(cell.source, cell.label, ns)})
            elif cmd.op == "unit":
                result = _encode(_probe(cmd.target, ns, wire.decode(frame.payload), ctx))
            else:
                raise ProtocolError(f"an unexpected command {cmd.op} {cmd.target[:40]}")
            sys.stdout.flush()
            sys.stderr.flush()
            write_frame(reply_fd, Reply("done", token=cmd.token).header(), result)
    except BaseException:  # a broken pipe or protocol: the parent sees the end of the pipe and says why
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        _exit(0)  # no atexit hooks a submission might have registered
