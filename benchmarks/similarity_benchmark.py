"""The similarity report on a 300-student synthetic course, side by side with copydetect, in one run.

    .venv/bin/python benchmarks/similarity_benchmark.py [--students 300] [--seeds 0-9] [--quick] [--out FILE]

1. Builds a synthetic course with scripts/synthetic_course.py (seed 0; not timed): 300 students
   by default, 12 groups of 3 copies (every disguise), 4 untouched releases, 6 relu-only answers.
2. Times `autograder similarity COURSE` as an instructor runs it (a subprocess: imports, reading
   every notebook, similarity.csv, index.html and the pages included).
3. Times copydetect 0.5.0 on the same code: the same cells of each student (read by
   `read_student`, one .py file each), the release's code as boilerplate, its default thresholds
   (noise = guarantee = 25, so no winnowing), its report written; a subprocess too.  Then runs it
   twice more with winnowing on (guarantee 30) under two PYTHONHASHSEEDs: do its scores repeat?
4. Separation: the lowest score of a copy pair against the highest score of any other pair, over
   all pairs and over complete submissions only (independent and copies), for both tools on seed 0;
   for `autograder similarity` also over every seed in --seeds.

Prints a table; writes the figures as JSON (default benchmarks/results/similarity.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "synthetic_course.py"
RELEASE = ROOT / "release" / "mlp" / "mlp.ipynb"
COMPLETE = ("independent", "copy")


def build_course(out: Path, students: int, seed: int) -> dict[str, Any]:
    groups, size, untouched, partial = (12, 3, 4, 6) if students >= 100 else (3, 3, 2, 2)
    independent = students - groups * (size - 1) - untouched - partial
    subprocess.run([sys.executable, str(SCRIPT), str(out), "--independent", str(independent), "--copy-groups",
                    str(groups), "--group-size", str(size), "--untouched", str(untouched), "--partial", str(partial),
                    "--seed", str(seed)], check=True, capture_output=True)
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def separation(scores: dict[tuple[str, str], float], manifest: dict[str, Any]) -> dict[str, float]:
    """Lowest copy-pair score; highest other score, over all pairs and over complete submissions."""
    copies = {tuple(p) for p in manifest["copy_pairs"]}
    kinds = {s: m["kind"] for s, m in manifest["students"].items()}
    others = {k: v for k, v in scores.items() if k not in copies}
    complete = [v for (a, b), v in others.items() if kinds[a] in COMPLETE and kinds[b] in COMPLETE]
    return {"lowest_copy": min(scores.get(c, 0.0) for c in copies), "highest_other": max(others.values(), default=0.0),
            "highest_other_complete": max(complete, default=0.0)}


def run_ours(course: Path, out: Path) -> tuple[float, dict[tuple[str, str], float], str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "autograder", "similarity", str(course), "--out", str(out),
                           "--release", str(RELEASE)], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    import csv

    with (out / "similarity.csv").open(encoding="utf-8", newline="") as fh:
        scores = {(r["student_a"], r["student_b"]): float(r["score"]) for r in csv.DictReader(fh)}
    return seconds, scores, done.stdout.splitlines()[0]


def copydetect_worker(course: Path, out: Path, guarantee: int) -> None:
    """(In a subprocess.) Run copydetect on the course; write scores and seconds to out/scores.json."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    start = time.perf_counter()
    from copydetect import CopyDetector

    from autograder.course.similarity import load_release, read_student
    from autograder.course.submissions import find_submissions

    release = load_release(RELEASE)
    code, boiler = out / "code", out / "boilerplate"
    code.mkdir(parents=True)
    boiler.mkdir()
    for sub in find_submissions(course):
        cells = read_student(sub.student, sub.path, release).cells
        (code / f"{sub.student}.py").write_text("\n\n".join(c.source for c in cells) + "\n", encoding="utf-8")
    (boiler / "release.py").write_text("\n\n".join(release.code) + "\n", encoding="utf-8")
    detector = CopyDetector(test_dirs=[str(code)], boilerplate_dirs=[str(boiler)], extensions=["py"],
                            noise_t=25, guarantee_t=guarantee, display_t=0.8, silent=True, autoopen=False,
                            out_file=str(out / "report.html"))
    detector.run()
    detector.generate_html_report()
    seconds = time.perf_counter() - start
    names = [Path(f).stem for f in detector.test_files]
    sim = detector.similarity_matrix
    scores = {}
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a, b = sorted((names[i], names[j]))
            scores[f"{a}|{b}"] = float(max(sim[i, j, 0], sim[i, j, 1]))
    report = out / "report.html"
    (out / "scores.json").write_text(json.dumps({"seconds": seconds, "scores": scores,
                                                 "report_bytes": report.stat().st_size}), encoding="utf-8")


def run_copydetect(course: Path, out: Path, guarantee: int, hash_seed: int) -> tuple[float, dict[tuple[str, str], float], int]:
    env = dict(os.environ, PYTHONHASHSEED=str(hash_seed), MPLBACKEND="Agg")
    start = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--copydetect-worker", str(course), str(out), str(guarantee)],
                   check=True, env=env, capture_output=True)
    seconds = time.perf_counter() - start
    data = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    scores = {tuple(k.split("|")): v for k, v in data["scores"].items()}
    return seconds, scores, int(data["report_bytes"])


def seeds_arg(text: str) -> list[int]:
    if "-" in text:
        lo, hi = (int(x) for x in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(x) for x in text.split(",")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--seeds", type=seeds_arg, default=list(range(10)), help="e.g. 0-9 or 0,3,5")
    parser.add_argument("--quick", action="store_true", help="60 students, seeds 0-1: a smoke test")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "similarity.json")
    parser.add_argument("--copydetect-worker", nargs=3, metavar=("COURSE", "OUT", "GUARANTEE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.copydetect_worker:
        course, out, guarantee = args.copydetect_worker
        copydetect_worker(Path(course), Path(out), int(guarantee))
        return 0
    students, seeds = (60, [0, 1]) if args.quick else (args.students, args.seeds)
    with tempfile.TemporaryDirectory(prefix="similarity-bench-") as tmp_s:
        tmp = Path(tmp_s)
        manifest = build_course(tmp / "course", students, seeds[0])
        ours_s, ours, summary = run_ours(tmp / "course", tmp / "ours")
        cd_s, cd, cd_bytes = run_copydetect(tmp / "course", tmp / "cd", 25, 0)
        _, cd_w1, _ = run_copydetect(tmp / "course", tmp / "cd_w1", 30, 1)
        _, cd_w2, _ = run_copydetect(tmp / "course", tmp / "cd_w2", 30, 2)
        drift = max(abs(cd_w1[k] - cd_w2.get(k, 0.0)) for k in cd_w1)
        per_seed = {seeds[0]: separation(ours, manifest)}
        for seed in seeds[1:]:
            m = build_course(tmp / f"course{seed}", students, seed)
            per_seed[seed] = separation(run_ours(tmp / f"course{seed}", tmp / f"ours{seed}")[1], m)
        page_bytes = sum(p.stat().st_size for p in (tmp / "ours").rglob("*.html"))
    rows = [("autograder similarity", ours_s, separation(ours, manifest)),
            ("copydetect 0.5.0", cd_s, separation(cd, manifest))]
    print(f"{students} submissions, seed {seeds[0]}, {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})")
    print(f"{'tool':<24}{'seconds':>9}{'ratio':>7}{'lowest copy':>13}{'highest other':>15}{'(complete)':>12}")
    for name, secs, sep in rows:
        print(f"{name:<24}{secs:>9.1f}{secs / ours_s:>7.2f}{sep['lowest_copy']:>13.3f}{sep['highest_other']:>15.3f}"
              f"{sep['highest_other_complete']:>12.3f}")
    lo = min(s["lowest_copy"] for s in per_seed.values())
    hi = max(s["highest_other"] for s in per_seed.values())
    print(f"autograder similarity over seeds {seeds[0]}-{seeds[-1]}: lowest copy {lo:.3f}, highest other {hi:.3f}")
    print(f"copydetect with winnowing (guarantee 30), PYTHONHASHSEED 1 vs 2: scores differ by up to {drift:.3f}")
    print(f"report size: ours {page_bytes / 1e6:.2f} MB of HTML pages; copydetect's one page {cd_bytes / 1e6:.2f} MB")
    print(summary)
    result = {"date": dt.date.today().isoformat(), "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "students": students, "seconds": {"autograder_similarity": ours_s, "copydetect": cd_s},
              "ratio_copydetect_to_ours": cd_s / ours_s,
              "separation_seed0": {name: sep for name, _, sep in rows},
              "separation_per_seed": {str(k): v for k, v in per_seed.items()},
              "separation_all_seeds": {"lowest_copy": lo, "highest_other": hi},
              "copydetect_winnowing_drift": drift, "html_bytes": {"ours": page_bytes, "copydetect": cd_bytes}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
