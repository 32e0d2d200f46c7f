"""Play the integrity issue's attacks against a grader and print what each one scored.

    .venv/bin/python benchmarks/attacks.py [--python OTHER_VENV/bin/python] [--only NAME,...] [--out FILE.json]

Each attack is a notebook: the untouched release's stubs (relu, sigmoid, tanh, collapse_affine,
MLPScratch, MLP all raise NotImplementedError) plus cells that forge what the grader reads, written
for the grader of commit ae41637 (its module names, its argv, its files).  A grader that cannot be
fooled gives each 0 points (or, for the honest cases, full points) and a report every time.  `--python`
picks the interpreter whose `autograder` is tried (e.g. a checkout of ae41637 with its own .venv),
so the same notebooks run against the old and the new grader, one after the other.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

HANG = "    while True:\n        pass\n"
STUBS = ("import torch\nfrom torch import nn\nfrom d2l import torch as d2l\n"
         + "".join(f"def {n}(*a, **k):\n    raise NotImplementedError()\n"
                   for n in ("relu", "sigmoid", "tanh", "collapse_affine"))
         + "class MLPScratch(d2l.Classifier):\n    def __init__(self, *a, **k):\n        raise NotImplementedError()\n"
         + "class MLP(d2l.Classifier):\n    def __init__(self, *a, **k):\n        raise NotImplementedError()\n")
SOLUTION = "solution"  # replaced by the source notebook's answers

# The old child ran probes through module attributes at call time: replace them with code that
# computes the right numbers from the grader's own inputs.
FORGED_PROBES = '''
import numpy as np
import autograder.probes as P
def _sig(x):
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))
def fake(fn, name, x):
    x = np.asarray(x, dtype=np.float64)
    if name == "relu":
        return {"values": np.maximum(x, 0), "grad": (x > 0).astype(float), "calls": []}
    if name == "sigmoid":
        s = _sig(x)
        return {"values": s, "grad": s * (1 - s), "calls": []}
    t = np.tanh(x)
    return {"values": t, "grad": 1 - t ** 2, "calls": []}
P.probe_activation = fake
'''
# The old child's argv named its status descriptor: announce steps that never ran, and reset the
# clock of a long cell by re-announcing it.
TIMER_RESET = '''
import os, sys, time
fd = int(sys.argv[2])
end = time.time() + 75
while time.time() < end:
    os.write(fd, b"S cell:2\\n")
    time.sleep(10)
import torch
def relu(X):
    return torch.clamp(X, min=0)
'''
# Evading the from-scratch check: a helper the old scan never read, and an op whose name the old
# run-time recorder did not match.
FROM_SCRATCH_EVASION = '''
import torch
def _act(X):
    return torch.ops.aten.relu.default(X)
def relu(X):
    return _act(X)
'''
# Honest code the old grader failed.
PERCENT_TIME = "%%time\nimport torch\ndef relu(X):\n    return torch.clamp(X, min=0)\n"
LINE_SEPARATOR = "import torch\n# max(0, x)\u2028is relu\ndef relu(X):\n    return torch.clamp(X, min=0)\n"
FORWARD_HANGS = "def _hang(self, X):\n" + HANG + "\nMLPScratch.forward = _hang\n"

ATTACKS: dict[str, tuple[list[str], str]] = {
    # name: (cells, what a sound grader gives)
    "forged probes": ([STUBS, FORGED_PROBES], "0 points or review"),
    # relu is defined only after 75 s: a cell killed at its 60 s limit defines nothing.
    "timer reset by status lines": ([STUBS, TIMER_RESET], "0 points (the cell killed at 60 s)"),
    "from-scratch evasion": ([SOLUTION, FROM_SCRATCH_EVASION], "from_scratch 0 or review"),
    "%%time definition cell": ([STUBS, PERCENT_TIME], "relu_values and relu_grad passed"),
    "U+2028 in a comment": ([STUBS, LINE_SEPARATOR], "relu_values and relu_grad passed"),
    "forward that hangs": ([SOLUTION, FORWARD_HANGS], "graded in about a minute"),
}


def _solution_code() -> str:
    """The solution's answers, without the kit import (an older grader's environment has no kit)."""
    from autograder.course.examples import solution_code

    return solution_code().replace("from mlp_lab import FashionMNISTData, check\n", "")


def _notebook(cells: list[str], path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(_solution_code() if c == SOLUTION else c) for c in cells]
    nbformat.write(nb, path)
    return path


def play(python: str, names: list[str], timeout: float) -> list[dict[str, object]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="attacks-") as tmp:
        for name in names:
            cells, sound = ATTACKS[name]
            nb = _notebook(cells, Path(tmp) / f"{name.replace(' ', '_')}.ipynb")
            out = Path(tmp) / f"{nb.stem}.json"
            started = time.monotonic()
            done = subprocess.run([python, "-m", "autograder", "grade", str(nb), "--json", str(out), "-q",
                                   "--timeout", str(timeout)], capture_output=True, text=True, check=False)
            seconds = time.monotonic() - started
            row: dict[str, object] = {"attack": name, "sound": sound, "exit": done.returncode,
                                      "seconds": round(seconds, 1)}
            if out.is_file():
                report = json.loads(out.read_text())
                row["score"] = report["score"]
                row["statuses"] = {q["id"]: f"{q['score']:g} {q['status']}" for q in report["questions"]}
            else:
                row["score"] = None
                row["error"] = (done.stderr or done.stdout)[-400:]
            rows.append(row)
            print(f"{name:30s} exit {done.returncode}  score {row['score']}  {seconds:6.1f} s   (sound: {sound})",
                  flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=sys.executable, help="The interpreter whose autograder is tried.")
    ap.add_argument("--only", default=",".join(ATTACKS), help="Comma-separated attack names.")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rows = play(args.python, [n.strip() for n in args.only.split(",") if n.strip()], args.timeout)
    if args.out:
        args.out.write_text(json.dumps({"python": args.python, "date": time.strftime("%Y-%m-%d"), "rows": rows},
                                       indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
