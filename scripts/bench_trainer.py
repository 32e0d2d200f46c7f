"""Time d2l.Trainer(max_epochs=10) on the lecture's scratch MLP (d2l 5.2.1) with the in-memory data module.

Usage: .venv/bin/python scripts/bench_trainer.py [--epochs 10] [--no-board]
`--no-board` sets `model.board.display = False`, which skips d2l's per-epoch matplotlib redraw,
so the difference between the two runs is what the animator costs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

import torch
from d2l import torch as d2l

from autograder.course.examples import solution_namespace
from mlp_lab.datamodule import FashionMNISTData

# The lecture's scratch MLP (d2l 5.2.1), from the one reference solution the tests and benchmarks share.
MLPScratch = solution_namespace()["MLPScratch"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--no-board", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    data = FashionMNISTData(batch_size=256)
    t1 = time.perf_counter()
    model = MLPScratch(num_inputs=784, num_outputs=10, num_hiddens=256, lr=0.1)
    model.board.display = not args.no_board
    trainer = d2l.Trainer(max_epochs=args.epochs)
    with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter the board prints "<Figure ...>"
        trainer.fit(model, data)
    t2 = time.perf_counter()
    model.eval()
    with torch.no_grad():
        X, y = data.val.tensors
        acc = float(model.accuracy(model(X), y))
    print(f"data {t1 - t0:.2f}s  fit {t2 - t1:.2f}s ({args.epochs} epochs, board={'off' if args.no_board else 'on'}, "
          f"{torch.get_num_threads()} threads)"
          f"  test accuracy {acc:.4f}")


if __name__ == "__main__":
    main()
