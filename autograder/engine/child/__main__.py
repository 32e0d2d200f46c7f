"""The grading child: confines itself, runs the student's cells, probes them, writes plain values.

Started by `session.Session` as `python -I -m autograder.engine.child IO_DIR STATUS_FD` in a fresh
session, with a scrubbed environment and its working directory holding only the submission.  Before
any student code runs it imports what it needs (the kit, whose modules the notebook imports, and the
probes), then applies every layer of `sandbox`.  It reports progress on the status pipe (`S step` /
`E step` lines) and results as files under IO_DIR/results; the grader never trusts it for a verdict,
only for numbers.
"""

from __future__ import annotations

import builtins
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from .. import wire
from ..plan import Plan, Step
from . import sandbox

_write = os.write


def _status(fd: int, kind: str, step: Step | str) -> None:
    try:
        _write(fd, f"{kind} {step}\n".encode())
    except OSError:
        pass


def _confine(plan: Plan) -> dict[str, str]:
    layers: dict[str, str] = {"network": sandbox.no_network()}
    import numpy  # noqa: F401  (imported before the file system closes)
    import torch

    # Everything the child needs from the kit, which is also what the notebook imports from it (and,
    # with the data module, d2l): the package folders are out of reach once the file system closes.
    import mlp_lab.datamodule
    import mlp_lab.probes
    import mlp_lab.source
    import mlp_lab.visible  # noqa: F401

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
    from mlp_lab.source import python_source

    try:
        code = compile(python_source(source), f"<{label}>", "exec")
        exec(code, ns)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: the cell fails, grading goes on
        tb = traceback.extract_tb(exc.__traceback__)
        where = next((f"line {f.lineno}" for f in reversed(tb) if f.filename == f"<{label}>"), "")
        return f"{type(exc).__name__}: {exc}" + (f" ({where})" if where else "")
    return None


class _Data:
    """Training split and label-free test images, loaded on first use."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir
        self._train: tuple[Any, Any] | None = None

    def train(self) -> tuple[Any, Any]:
        import numpy as np
        import torch

        if self._train is None:
            X = np.load(self.dir / "train_images.npy", allow_pickle=False)
            y = np.load(self.dir / "train_labels.npy", allow_pickle=False)
            self._train = (torch.from_numpy(X).float().div_(255.0), torch.from_numpy(y).long())
        return self._train

    def test(self) -> Any:
        import numpy as np
        import torch

        X = np.load(self.dir / "test_images.npy", allow_pickle=False)
        return torch.from_numpy(X).float().div_(255.0)


def main(argv: list[str]) -> int:
    io_dir, status_fd = Path(argv[1]), int(argv[2])
    plan = Plan.from_json((io_dir / "plan.json").read_text(encoding="utf-8"))
    _status(status_fd, "S", "startup")
    layers = _confine(plan)
    import torch

    from mlp_lab.probes import PROBES, ProbeContext, ProbeError
    from mlp_lab.questions import unit

    results = io_dir / "results"
    wire.dump(results / "sandbox", layers)
    data = _Data(Path(plan.data_dir))
    ctx = ProbeContext(device=torch.device(layers["device"]), train=data.train, test_images=data.test,
                       progress=lambda msg: _status(status_fd, "P", msg))
    _status(status_fd, "E", "startup")
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    skip = set(plan.skip)
    for cell in plan.cells:
        step = Step.cell(cell.index)
        if str(step) in skip:
            continue
        _status(status_fd, "S", step)
        error = _run_cell(cell.source, cell.label, ns)
        wire.dump(results / f"cell-{cell.index}", {"error": error})
        _status(status_fd, "E", step)
    for unit_id in plan.units:
        step = Step.unit(unit_id)
        if str(step) in skip:
            continue
        _status(status_fd, "S", step)
        u = unit(unit_id)
        missing = [n for n in u.names if n not in ns]
        if missing:
            value: dict[str, Any] = {"missing": missing}
        else:
            try:
                inputs = wire.load(Path(plan.inputs_dir) / unit_id)
                value = {"values": PROBES[u.probe](u, {n: ns[n] for n in u.names}, inputs, ctx)}
            except ProbeError as exc:
                value = {"error": str(exc)}
            except BaseException as exc:  # the student's error (or exit) inside the probe
                value = {"error": f"{type(exc).__name__}: {exc}"}
        wire.dump(results / f"unit-{unit_id}", value)
        _status(status_fd, "E", step)
    _status(status_fd, "S", "done")
    sys.stdout.flush()
    os._exit(0)  # no atexit hooks a submission might have registered


if __name__ == "__main__":
    sys.exit(main(sys.argv))
