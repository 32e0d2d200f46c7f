"""Measure the reference solution's test accuracy over many seeds of the grader's training run.

The grader's accuracy threshold (`checks.ACCURACY_THRESHOLD`) is set from this distribution so
that a correct solution fails less than once in 10,000 gradings.  Usage:

    .venv/bin/python benchmarks/accuracy_threshold.py --seeds 40 --out out/accuracy.json

It trains the reference MLPScratch and MLP (the solution notebook's, `examples.solution_namespace`) exactly
as the grader does (`probes.train_and_predict`, the grader's training run) on CPU, one thread per run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from autograder.course.examples import solution_namespace
from mlp_lab import probes
from mlp_lab.data import load_fashion_mnist
from mlp_lab.inputs import TRAINING_RUN

Z_1E4 = 3.719  # one-sided normal quantile for a 1-in-10,000 failure rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=TRAINING_RUN["epochs"])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ns = solution_namespace()
    ds = load_fashion_mnist()
    X = torch.from_numpy(ds.train_images).float().div_(255)
    y = torch.from_numpy(ds.train_labels).long()
    test = torch.from_numpy(ds.test_images).float().div_(255)
    makers = {"MLPScratch": lambda: ns["MLPScratch"](num_inputs=784, num_outputs=10, num_hiddens=256, lr=0.1),
              "MLP": lambda: ns["MLP"](num_outputs=10, num_hiddens=256, lr=0.1)}
    results: dict[str, dict[str, list[float]]] = {m: {"before": [], "after": [], "seconds": []} for m in makers}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name, make in makers.items():
            budget = probes.TrainingBudget(**{**TRAINING_RUN, "epochs": args.epochs, "seed": seed})
            r = probes.train_and_predict(make, name, budget, X, y, lambda: test,
                                         torch.device("cpu"))
            for key in ("before", "after"):
                results[name][key].append(float((r[key].argmax(1) == ds.test_labels).mean()))
            results[name]["seconds"].append(r["seconds"])
            print(f"seed {seed:3d} {name:10s} before {results[name]['before'][-1]:.4f} "
                  f"after {results[name]['after'][-1]:.4f} ({r['seconds']:.1f} s)", flush=True)
    summary = {}
    for name, r in results.items():
        acc = r["after"]
        mean, sd = statistics.mean(acc), statistics.stdev(acc)
        summary[name] = {"n": len(acc), "mean": mean, "sd": sd, "min": min(acc), "max": max(acc),
                         "mean_minus_z_sd": mean - Z_1E4 * sd, "before_max": max(r["before"]),
                         "seconds_mean": statistics.mean(r["seconds"])}
        print(f"{name}: n={len(acc)} mean {mean:.4f} sd {sd:.4f} range {min(acc):.4f}-{max(acc):.4f} "
              f"mean-3.72sd {mean - Z_1E4 * sd:.4f}; before training max {max(r['before']):.3f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "epochs": args.epochs,
                                        "summary": summary,
                                        "runs": results}, indent=2))


if __name__ == "__main__":
    main()
