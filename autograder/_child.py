"""The grading child: confines itself, runs the student's cells, probes them, writes plain values.

Started by `grader` as `python -I -m autograder._child IO_DIR STATUS_FD` in a fresh session, with a
scrubbed environment and its working directory holding only the submission.  Before any student
code runs it imports what it needs, then applies every layer of `_sandbox`.  It reports progress
on the status pipe (`S step` / `E step` lines) and results as files under IO_DIR/results; the
grader never trusts it for a verdict, only for numbers.
"""

from __future__ import annotations

import builtins
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from . import _sandbox

_open = builtins.open
_write = os.write


def _status(fd: int, kind: str, step: str) -> None:
    try:
        _write(fd, f"{kind} {step}\n".encode())
    except OSError:
        pass


def _confine(plan: dict[str, Any], io_dir: Path) -> dict[str, str]:
    layers: dict[str, str] = {"network": _sandbox.no_network()}
    import numpy  # noqa: F401  (imported before the file system closes)
    import torch

    # Everything the child needs from this package, and what the notebook itself imports from it
    # (checks, datamodule and, with it, d2l): the package's folder is out of reach once the file
    # system closes.
    from . import _wire, checks, datamodule, inkernel, probes, static  # noqa: F401

    device = plan["device"]
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.cuda.init()
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(int(plan["threads"]))
    layers["device"] = device
    limits = plan["limits"]
    _sandbox.limit_resources(None if device == "cuda" else limits["address_space"], limits["file_size"],
                             limits["open_files"], limits["cpu_seconds"])
    ro = [Path(p) for p in _sandbox.expand_allowed([Path(p) for p in plan["read_only"]],
                                                   [Path(p) for p in plan["denied"]])]
    # This process's own /proc entry and system-wide counters; never another process's.
    ro += [Path(f"/proc/{os.getpid()}"), *(Path("/proc") / f for f in ("cpuinfo", "meminfo", "stat", "sys"))]
    rw = [Path(p) for p in plan["read_write"]]
    files = [Path(p) for p in ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")]
    files += sorted(Path("/dev").glob("nvidia*")) if device == "cuda" else []
    layers["files"] = _sandbox.landlock(ro, rw, files)
    layers["syscalls"] = _sandbox.seccomp()
    return layers


def _run_cell(source: str, label: str, ns: dict[str, Any]) -> str | None:
    from .static import python_source

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

    def __init__(self, data_dir: Path, device: str) -> None:
        self.dir, self.device = data_dir, device
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


def _unit(name: str, ns: dict[str, Any], inputs: dict[str, Any], plan: dict[str, Any], data: _Data,
          status_fd: int) -> dict[str, Any]:
    import torch

    from . import probes

    dims = plan["dims"]
    d, h, q = dims["d"], dims["h"], dims["q"]
    nonlin = {k.split(".", 1)[1]: v for k, v in inputs.items() if k.startswith("nonlin.")}
    if name in ("relu", "sigmoid", "tanh"):
        x = inputs["relu_x"] if name == "relu" else inputs["st_x"]
        return probes.probe_activation(ns[name], name, x)
    if name == "plot":
        out: dict[str, Any] = {"x": inputs["plot_x"]}
        for fn in ("relu", "sigmoid", "tanh"):
            try:
                r = probes.probe_activation(ns[fn], fn, inputs["plot_x"])
                out[fn], out[f"{fn}_grad"] = r["values"], r["grad"]
            except probes.ProbeError:
                continue
        return out
    if name == "collapse":
        c = {k.split(".", 1)[1]: v for k, v in inputs.items() if k.startswith("collapse.")}
        return probes.probe_affine_collapse(ns["collapse_affine"], c)
    if name == "scratch":
        return probes.probe_scratch(ns["MLPScratch"], d, h, q, nonlin, inputs["images"])
    if name == "concise":
        return probes.probe_concise(ns["MLP"], h, q, nonlin, inputs["images"])
    if name in ("train_scratch", "train_concise"):
        cls = ns["MLPScratch" if name == "train_scratch" else "MLP"]
        what = "MLPScratch" if name == "train_scratch" else "MLP"
        hp = {"num_outputs": 10, "num_hiddens": 256, "lr": plan["budget"]["lr"]}
        if what == "MLPScratch":
            hp["num_inputs"] = 784
        budget = probes.TrainingBudget(**plan["budget"])
        X, y = data.train()
        result = probes.train_and_predict(lambda: cls(**hp), what, budget, X, y, data.test,
                                          torch.device(plan["resolved_device"]),
                                          progress=lambda msg: _status(status_fd, "P", msg))
        return result
    raise KeyError(name)


def main(argv: list[str]) -> int:
    io_dir, status_fd = Path(argv[1]), int(argv[2])
    plan = json.loads((io_dir / "plan.json").read_text(encoding="utf-8"))
    _status(status_fd, "S", "startup")
    layers = _confine(plan, io_dir)
    plan["resolved_device"] = layers["device"]
    from . import _wire
    from .probes import ProbeError

    results = io_dir / "results"
    _wire.dump(results / "sandbox", layers)
    import numpy as np

    with np.load(io_dir / "inputs.npz", allow_pickle=False) as f:
        inputs = {k: f[k] for k in f.files}
    _status(status_fd, "E", "startup")
    data = _Data(Path(plan["data_dir"]), layers["device"])
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    skip = set(plan["skip"])
    for cell in plan["cells"]:
        step = f"cell:{cell['index']}"
        if step in skip:
            continue
        _status(status_fd, "S", step)
        error = _run_cell(cell["source"], cell["label"], ns)
        _wire.dump(results / f"cell-{cell['index']}", {"error": error})
        _status(status_fd, "E", step)
    for name in plan["units"]:
        step = f"unit:{name}"
        if step in skip:
            continue
        _status(status_fd, "S", step)
        missing = [n for n in plan["unit_names"][name] if n not in ns]
        if missing:
            value: dict[str, Any] = {"missing": missing}
        else:
            try:
                value = {"values": _unit(name, ns, inputs, plan, data, status_fd)}
            except ProbeError as exc:
                value = {"error": str(exc)}
            except BaseException as exc:  # the student's error (or exit) inside the probe
                value = {"error": f"{type(exc).__name__}: {exc}"}
        _wire.dump(results / f"unit-{name}", value)
        _status(status_fd, "E", step)
    _status(status_fd, "S", "done")
    sys.stdout.flush()
    os._exit(0)  # no atexit hooks a submission might have registered


if __name__ == "__main__":
    sys.exit(main(sys.argv))
