"""Side-by-side benchmark, in one run on one machine: training path, grading, grade-all throughput.

    .venv/bin/python benchmarks/benchmark.py [--only training,grading,throughput,hangs] [--quick] [--out FILE.json]

Parts:

training    d2l's reference training of the lecture's scratch MLP (d2l 5.2.1: `d2l.FashionMNIST` +
            `d2l.Trainer`, 10 epochs, batch 256, lr 0.1) against the package's training path (the same
            model, seed and `d2l.Trainer`, with `mlp_lab.FashionMNISTData`): seconds, the
            ratio, and both test accuracies.  `d2l.FashionMNIST` downloads unless the files are there:
            the benchmark unzips Debian's files into `<root>/FashionMNIST/raw/` of a scratch root and
            points d2l at it (d2l reads `../data` relative to the working directory).  The progress
            board is off in both runs (`--board` turns it on in both).
grading     `nbgrader autograde` of the solution notebook (in a scratch course made from `source/` with
            `nbgrader generate_assignment`) against `autograder grade` of the same notebook: seconds
            and points.
throughput  `grade_all` on N copies of the solution (20; `--quick`: 4) with `jobs=1` and `jobs=2`:
            submissions per minute, and per minute per core.

Targets (issue 6): training path >= 15x faster than d2l's reference at equal accuracy; grade-all
>= 2 submissions per minute per core.  `--quick` runs 2 epochs and 4 submissions: a smoke test.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

PARTS = ("training", "grading", "throughput", "hangs")
HANG_TARGET_S = 60.0  # a submission whose every function hangs is graded within this
TRAINING_SPEEDUP_TARGET = 15.0
THROUGHPUT_TARGET_PER_CORE = 2.0  # submissions per minute per core
ACCURACY_EQUAL_TOL = 0.02  # "equal accuracy": within 3 sd of one run (issue 4: sd 0.0064 over 12 seeds)
SEED = 0
RAW_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


def machine() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpu": cpu,
            "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


# --- part 1: training --------------------------------------------------------------------------


def _scratch_mlp_class() -> type:
    """The lecture's scratch MLP (d2l 5.2.1) as the solution notebook writes it: the same model in both runs."""
    from autograder.course.examples import solution_namespace

    return solution_namespace(ROOT / "source" / "mlp" / "mlp.ipynb")["MLPScratch"]


def _d2l_root(scratch: Path) -> Path:
    """A torchvision root with Debian's files unzipped in FashionMNIST/raw/, so d2l does not download."""
    from mlp_lab.data import DEBIAN_DIR

    raw = scratch / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in RAW_NAMES:
        target = raw / name
        if not target.exists():
            src = Path(DEBIAN_DIR) / f"{name}.gz"
            if not src.is_file():
                raise SystemExit(f"benchmark: {src} missing; install Debian's dataset-fashion-mnist "
                                 "(bash scripts/setup.sh)")
            with gzip.open(src, "rb") as fin, target.open("wb") as fout:
                shutil.copyfileobj(fin, fout)
    return scratch / "data"


def _fit(data: Any, epochs: int, board: bool) -> tuple[float, Any]:
    import torch
    from d2l import torch as d2l

    torch.manual_seed(SEED)
    model = _scratch_mlp_class()(num_inputs=784, num_outputs=10, num_hiddens=256, lr=0.1)
    model.board.display = board
    trainer = d2l.Trainer(max_epochs=epochs)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # outside Jupyter the board prints "<Figure ...>"
        trainer.fit(model, data)
    return time.perf_counter() - start, model


def _test_accuracy(model: Any) -> float:
    import torch

    from mlp_lab.data import load_fashion_mnist

    t = load_fashion_mnist().as_tensors()
    model.eval()
    with torch.no_grad():
        return float(model.accuracy(model(t.test_images), t.test_labels))


def bench_training(epochs: int, board: bool, threads: int | None = None) -> dict[str, Any]:
    import torch
    from d2l import torch as d2l

    from mlp_lab.datamodule import FashionMNISTData

    threads = threads or os.cpu_count() or 1
    torch.set_num_threads(threads)  # both runs; d2l's DataLoader workers use one thread each
    with tempfile.TemporaryDirectory(prefix="bench-d2l-") as tmp:
        root = _d2l_root(Path(tmp))
        work = Path(tmp) / "work"
        work.mkdir()
        cwd = os.getcwd()
        os.chdir(work)  # d2l.DataModule's root is '../data'
        try:
            t0 = time.perf_counter()
            ref_data = d2l.FashionMNIST(batch_size=256)
            ref_setup = time.perf_counter() - t0
        finally:
            os.chdir(cwd)
        if (work / ref_data.root).resolve() != root.resolve() or len(ref_data.train) != 60_000:
            raise SystemExit(f"benchmark: d2l.FashionMNIST did not read {root}")
        ref_fit, ref_model = _fit(ref_data, epochs, board)
        ref_acc = _test_accuracy(ref_model)

    t0 = time.perf_counter()
    pkg_data = FashionMNISTData(batch_size=256, seed=SEED)
    pkg_setup = time.perf_counter() - t0
    pkg_fit, pkg_model = _fit(pkg_data, epochs, board)
    pkg_acc = _test_accuracy(pkg_model)
    ref_total, pkg_total = ref_setup + ref_fit, pkg_setup + pkg_fit
    speedup = ref_total / pkg_total
    return {
        "epochs": epochs, "batch_size": 256, "lr": 0.1, "board": board, "torch_threads": threads,
        "d2l_reference": {"setup_s": round(ref_setup, 2), "fit_s": round(ref_fit, 2),
                          "total_s": round(ref_total, 2), "test_accuracy": round(ref_acc, 4)},
        "package": {"setup_s": round(pkg_setup, 2), "fit_s": round(pkg_fit, 2),
                    "total_s": round(pkg_total, 2), "test_accuracy": round(pkg_acc, 4)},
        "speedup": round(speedup, 1),
        "equal_accuracy": abs(ref_acc - pkg_acc) <= ACCURACY_EQUAL_TOL,
        "target_met": speedup >= TRAINING_SPEEDUP_TARGET and abs(ref_acc - pkg_acc) <= ACCURACY_EQUAL_TOL,
    }


# --- part 2: nbgrader autograde against autograder grade ----------------------------------------


def _solution() -> Path:
    path = ROOT / "source" / "mlp" / "mlp.ipynb"
    if not path.is_file():
        raise SystemExit(f"benchmark: {path} not found (the solution notebook)")
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # nbgrader, alembic
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return env


def _run(cmd: list[str], cwd: Path, timeout: float) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - start, proc


def bench_grading() -> dict[str, Any]:
    bindir = Path(sys.executable).parent
    solution = _solution()
    out: dict[str, Any] = {"notebook": str(solution.relative_to(ROOT))}
    with tempfile.TemporaryDirectory(prefix="bench-nbgrader-") as tmp:
        course = Path(tmp)
        shutil.copytree(ROOT / "source", course / "source")
        if (ROOT / "nbgrader_config.py").is_file():
            shutil.copyfile(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
        gen_s, gen = _run([str(bindir / "nbgrader"), "generate_assignment", "mlp", "--force"], course, 600)
        if gen.returncode != 0:
            out["nbgrader"] = {"error": f"generate_assignment failed: {gen.stderr[-2000:]}"}
        else:
            sub = course / "submitted" / "bench" / "mlp"
            sub.mkdir(parents=True)
            shutil.copyfile(solution, sub / "mlp.ipynb")
            auto_s, auto = _run([str(bindir / "nbgrader"), "autograde", "mlp", "--force"], course, 1800)
            nb: dict[str, Any] = {"generate_assignment_s": round(gen_s, 2), "autograde_s": round(auto_s, 2),
                                  "returncode": auto.returncode}
            if auto.returncode == 0:
                from autograder.course.crosscheck import load_nbgrader_scores

                scores = load_nbgrader_scores(course / "gradebook.db")
                nb["score"] = scores.totals.get("bench")  # the grader's question ids only
                nb["max_score_all_cells"] = round(sum(scores.max_points.values()), 3)
                out["_nbgrader_scores"] = scores
            else:
                nb["error"] = auto.stderr[-2000:]
            out["nbgrader"] = nb
        report_path = course / "report.json"
        grade_s, grade = _run([sys.executable, "-m", "autograder", "grade", str(solution), "--json",
                               str(report_path)], course, 900)
        ag: dict[str, Any] = {"grade_s": round(grade_s, 2), "returncode": grade.returncode}
        if report_path.is_file():
            report = json.loads(report_path.read_text(encoding="utf-8"))
            ag.update(score=report["score"], max_score=report["max_score"], device=report["device"],
                      grader_seconds=report["seconds"],
                      not_passed={q["id"]: f"{q['status']}: {q['message']}" for q in report["questions"]
                                  if q["status"] != "passed"})
            if "curves" in report.get("artifacts", {}):
                out["_solution_report"] = report  # for --reference-curves
        else:
            ag["error"] = (grade.stderr or grade.stdout)[-2000:]
        out["autograder"] = ag
        nb_scores = out.pop("_nbgrader_scores", None)
        if nb_scores is not None and report_path.is_file():
            from autograder.course.crosscheck import crosscheck
            from autograder.report import Report

            found = crosscheck({"bench": Report.load(report_path)}, nb_scores)
            out["crosscheck"] = [{"question": d.question, "nbgrader": d.nbgrader, "autograder": d.autograder}
                                 for d in found]
    if "autograde_s" in out.get("nbgrader", {}) and "grade_s" in ag:
        out["ratio_nbgrader_over_autograder"] = round(out["nbgrader"]["autograde_s"] / ag["grade_s"], 2)
    return out


# --- part 3: grade-all throughput ----------------------------------------------------------------


def bench_throughput(n: int, jobs_list: tuple[int, ...], progress: bool) -> dict[str, Any]:
    from autograder.course.batch import grade_all

    solution = _solution().read_bytes()
    results: dict[str, Any] = {"submissions": n, "runs": []}
    with tempfile.TemporaryDirectory(prefix="bench-grade-all-") as tmp:
        subs = Path(tmp) / "submissions"
        subs.mkdir()
        for i in range(n):
            (subs / f"student{i:02d}.ipynb").write_bytes(solution)
        for jobs in jobs_list:
            start = time.perf_counter()
            batch = grade_all(subs, out_dir=Path(tmp) / f"out-jobs{jobs}", jobs=jobs, progress=progress)
            seconds = time.perf_counter() - start
            per_min = n / seconds * 60
            statuses: dict[str, int] = {}
            for row in batch.rows:
                statuses[row.status] = statuses.get(row.status, 0) + 1
            results["runs"].append({
                "jobs": jobs, "seconds": round(seconds, 1), "per_minute": round(per_min, 2),
                "per_minute_per_core": round(per_min / jobs, 2),
                "full_marks": sum(r.total == r.max_score for r in batch.rows), "statuses": statuses,
                "target_met": per_min / jobs >= THROUGHPUT_TARGET_PER_CORE,
            })
    return results


# --- part 4: a submission whose every function hangs ---------------------------------------------

_HANG = "    while True:\n        pass\n"
ALL_HANG = ("import torch\nfrom d2l import torch as d2l\n"
            + "".join(f"def {n}(*args, **kwargs):\n{_HANG}" for n in ("relu", "sigmoid", "tanh", "collapse_affine"))
            + "".join(f"class {c}(d2l.Classifier):\n    def __init__(self, *args, **kwargs):\n"
                      "        while True:\n            pass\n" for c in ("MLPScratch", "MLP", "MLPDeep")))


def bench_hangs() -> dict[str, Any]:
    """`autograder grade` (a fresh process, zygote start included) of a notebook whose every function hangs."""
    import nbformat

    with tempfile.TemporaryDirectory(prefix="bench-hangs-") as tmp:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(ALL_HANG)]
        path = Path(tmp) / "hangs.ipynb"
        nbformat.write(nb, path)
        out = Path(tmp) / "report.json"
        seconds, done = _run([sys.executable, "-m", "autograder", "grade", str(path), "--json", str(out), "-q"],
                             cwd=Path(tmp), timeout=900)
        report = json.loads(out.read_text(encoding="utf-8")) if out.is_file() else {}
    statuses: dict[str, int] = {}
    for q in report.get("questions", []):
        statuses[q["status"]] = statuses.get(q["status"], 0) + 1
    return {"seconds": round(seconds, 1), "score": report.get("score"), "statuses": statuses,
            "exit": done.returncode, "target_met": seconds <= HANG_TARGET_S}


# --- the table ---------------------------------------------------------------------------------


def table(res: dict[str, Any]) -> str:
    lines = [f"machine: {res['machine']['cpu']} ({res['machine']['cores']} cores), torch "
             f"{res['machine']['torch']}, {res['machine']['date']}, load {res['machine']['load_average']}"]
    row = "{:<44} {:>10} {:>10} {:>10}"
    if "training" in res:
        t = res["training"]
        lines += ["", f"(1) training: scratch MLP, {t['epochs']} epochs, batch 256, lr 0.1, board "
                      f"{'on' if t['board'] else 'off'}, {t.get('torch_threads', '?')} torch thread(s)",
                  row.format("", "setup s", "fit s", "accuracy")]
        for key, name in (("d2l_reference", "d2l.FashionMNIST + d2l.Trainer"),
                          ("package", "FashionMNISTData + d2l.Trainer")):
            p = t[key]
            lines.append(row.format(name, f"{p['setup_s']:.2f}", f"{p['fit_s']:.2f}", f"{p['test_accuracy']:.4f}"))
        lines.append(f"speed-up (total time): {t['speedup']}x (target >= {TRAINING_SPEEDUP_TARGET:g}x at equal "
                     f"accuracy: {'met' if t['target_met'] else 'NOT met'})")
    if "grading" in res:
        g = res["grading"]
        lines += ["", f"(2) grading {g['notebook']}", row.format("", "seconds", "points", "")]
        nb, ag = g.get("nbgrader", {}), g.get("autograder", {})
        lines.append(row.format("nbgrader autograde", f"{nb.get('autograde_s', float('nan')):.1f}",
                                f"{nb.get('score', '?')}/100", "")
                     + f"  (all grade cells: max {nb.get('max_score_all_cells', '?')}, written answers by hand)")
        lines.append(row.format("autograder grade", f"{ag.get('grade_s', float('nan')):.1f}",
                                f"{ag.get('score', '?')}/{ag.get('max_score', '?')}", ""))
        if "crosscheck" in g:
            lines.append("  crosscheck nbgrader vs autograder: " + (", ".join(
                f"{d['question']} {d['nbgrader']} vs {d['autograder']}" for d in g["crosscheck"]) or "same points"))
        for qid, why in ag.get("not_passed", {}).items():
            lines.append(f"  autograder {qid}: {why[:300]}")
        for side, d in (("nbgrader", nb), ("autograder", ag)):
            if "error" in d:
                lines.append(f"  {side} error: {d['error'][-300:]}")
    if "throughput" in res:
        th = res["throughput"]
        lines += ["", f"(3) grade-all on {th['submissions']} copies of the solution",
                  row.format("", "seconds", "per min", "/min/core")]
        for r in th["runs"]:
            lines.append(row.format(f"--jobs {r['jobs']}", f"{r['seconds']:.1f}", f"{r['per_minute']:.2f}",
                                    f"{r['per_minute_per_core']:.2f}") + f"  {r['statuses']}")
        lines.append(f"target >= {THROUGHPUT_TARGET_PER_CORE:g} per minute per core: "
                     + ", ".join(f"jobs {r['jobs']} {'met' if r['target_met'] else 'NOT met'}" for r in th["runs"]))
    if "hangs" in res:
        h = res["hangs"]
        lines += ["", "(4) autograder grade of a notebook whose every function hangs (a fresh process)",
                  f"{h['seconds']:.1f} s, {h['score']} points, statuses {h['statuses']} "
                  f"(target <= {HANG_TARGET_S:g} s: {'met' if h['target_met'] else 'NOT met'})"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {', '.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="2 epochs, 4 submissions: a smoke run")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--board", action="store_true", help="draw d2l's progress board in both trainings")
    parser.add_argument("--threads", type=int, default=None,
                        help="training: torch threads in both runs (default: the number of cores)")
    parser.add_argument("--submissions", type=int, default=None, help="throughput: copies (default 20; quick 4)")
    parser.add_argument("--reference-curves", type=Path, default=None,
                        help="also store the solution's training curves here (part grading)")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")

    res: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    steps: dict[str, Callable[[], dict[str, Any]]] = {
        "training": lambda: bench_training(2 if args.quick else 10, args.board, args.threads),
        "grading": bench_grading,
        "hangs": bench_hangs,
        "throughput": lambda: bench_throughput(args.submissions or (4 if args.quick else 20), (1, 2),
                                               progress=sys.stderr.isatty()),
    }
    for part in PARTS:
        if part in parts:
            print(f"benchmark: {part} ...", file=sys.stderr, flush=True)
            res[part] = steps[part]()
    solution_report = res.get("grading", {}).pop("_solution_report", None)
    if args.reference_curves is not None:
        if solution_report is None:
            print("benchmark: no training curves in the solution's report; reference curves not written",
                  file=sys.stderr)
        else:
            from autograder.course.feedback import write_reference_curves
            from autograder.report import Report

            write_reference_curves(Report.from_dict(solution_report), args.reference_curves)
    print(table(res))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
