"""Grade the solution notebook with the hardened grader and store its training curves for feedback pages.

Usage: .venv/bin/python scripts/make_reference_curves.py [--notebook source/mlp/mlp.ipynb] [--seed 0]
Writes autograder/course/reference_curves.json: {"source", "device", "train_loss": {"MLPScratch": [...], "MLP": [...]}}
(the per-epoch training loss of the reference solution in the grader's own training run).  Rerun it
whenever the grader's training budget changes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.course.feedback import REFERENCE_CURVES_FILE, write_reference_curves
from autograder.engine import grade_notebook

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=ROOT / "source" / "mlp" / "mlp.ipynb")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REFERENCE_CURVES_FILE)
    args = parser.parse_args()
    report = grade_notebook(args.notebook, device="cpu", seed=args.seed,
                            progress=lambda msg: print(msg, file=sys.stderr))
    if report.score != report.max_score:
        bad = ", ".join(f"{q.id} ({q.status})" for q in report.questions if q.status != "passed")
        print(f"the solution did not get full marks ({report.score:g}/{report.max_score:g}: {bad}); "
              "refusing to store its curves as the reference", file=sys.stderr)
        return 1
    notebook = args.notebook.resolve()
    report.submission = str(notebook.relative_to(ROOT)) if notebook.is_relative_to(ROOT) else notebook.name
    write_reference_curves(report, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
