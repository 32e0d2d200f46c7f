"""Grade one submission: out of process, confined, with every verdict computed from raw numbers.

`grade_notebook` reads as its pipeline, one function per step:

1. read     `notebook.read_submission`: the notebook as data (never run here); unreadable -> every
            question `error` with the reason;
2. plan     `notebook.plan_cells` (which code cells run: all but grade cells and cells tagged
            `skip-grading`); the integrity gate (`gate.inspect_cells`: code that reaches into the
            grader or the interpreter -> every question `review`, and no child starts); the units
            the wanted questions need (`mlp_lab.questions.units_for`), the from-scratch scan of the
            source, and fresh inputs for each unit;
3. stage    `stage.stage`: the run folder, the data without test labels, the inputs;
4. run      `session.Session`: children confine themselves and run the cells, then the probes, one
            step at a time; a step that hangs, crashes or exhausts memory is killed and skipped, and a
            fresh child goes on with the rest;
5. judge    `judge.collect` / `judge.judge`: each question's verdict from the numbers the children
            wrote, and the artifacts the feedback pages draw;
6. a `Report`, written by the caller after every child is gone.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import resource
import secrets
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlp_lab import STUDENT_NAMES
from mlp_lab.errors import DataError
from mlp_lab.questions import QUESTION_IDS, QUESTIONS, Unit, units_for
from mlp_lab.scratch import Cell, scan_from_scratch

from ..errors import NotebookError
from ..report import QuestionResult, Report
from . import judge, zygote
from .gate import Finding, GateCell, inspect_cells
from .notebook import plan_cells, read_submission
from .plan import ChildLimits, Limits, Plan
from .session import Session
from .stage import denied_paths, read_only_roots, stage

__all__ = ["DEFAULT_TIMEOUT", "grade_notebook"]

DEFAULT_TIMEOUT = 900.0  # seconds for one submission, all children together


def _draw(units: Sequence[Unit], rng: np.random.Generator, training: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Fresh inputs for every unit (the training run's fields overridden by `training`, for tests)."""
    drawn = {}
    for u in units:
        values = u.draw(rng)
        if u.kind == "training" and training:
            values = {**values, **training}
        drawn[u.id] = values
    return drawn


def _default_threads() -> int:
    """Two torch threads on an idle machine; one when other work shares the cores.

    Measured on a 2-core runner: two threads train about 1.6x faster when the machine is idle,
    and about 10x slower than one thread when other processes compete for the cores.
    """
    cores = os.cpu_count() or 1
    idle = os.getloadavg()[0] < 0.5 * cores
    return min(cores, 2) if idle else 1


def _review(submission: Path, device: str, seconds: float, wanted: Sequence[str], findings: Sequence[Finding]) -> Report:
    """Every wanted question `review`, 0 points: the gate refused code that reaches into the grader."""
    shown = "; ".join(f.message for f in findings[:3]) + (f"; and {len(findings) - 3} more" if len(findings) > 3 else "")
    message = (f"Not graded: this notebook has code that reaches into the grader or the Python interpreter, "
               f"which the grader does not run ({shown}). An instructor will look at it; if it is an honest "
               "mistake, remove that code and submit again.")
    questions = [QuestionResult(q.id, 0.0, float(q.points), "review" if q.id in wanted else "error",
                                message if q.id in wanted else "not graded in this run") for q in QUESTIONS]
    return Report(str(submission), device, seconds, questions,
                  {"integrity": [dataclasses.asdict(f) for f in findings]})


def grade_notebook(path: str | os.PathLike[str], *, device: str = "auto", timeout: float | None = None,
                   threads: int | None = None, progress: Callable[[str], None] | None = None,
                   seed: int | None = None, limits: Limits | None = None,
                   budget: Mapping[str, Any] | None = None, only: Sequence[str] | None = None,
                   integrity_gate: bool = True) -> Report:
    """Grade one notebook; always returns a Report with every question (never raises for bad input).

    `only` grades just those question ids (the others are reported as not graded, 0 points); the
    units they need are all that runs, so `only=["relu_grad"]` trains nothing.  `budget` overrides
    fields of the training run (tests train for one epoch).  `integrity_gate=False` runs code the gate
    would refuse (only the sandbox's own tests want that).
    """
    started = time.monotonic()
    submission = Path(path)
    limits = limits or Limits()
    total = float(timeout) if timeout is not None else DEFAULT_TIMEOUT
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
    wanted = list(only) if only is not None else list(QUESTION_IDS)
    unknown = sorted(set(wanted) - set(QUESTION_IDS))
    if unknown:
        raise ValueError(f"unknown question ids {unknown}")
    # 1. read
    try:
        nb = read_submission(submission)
    except NotebookError as err:
        return Report.all_failed(str(submission), device, time.monotonic() - started, "error", str(err))
    # 2. plan: the gate, the cells, the units, the from-scratch scan, fresh inputs
    cells = plan_cells(nb)
    if integrity_gate:
        refused = inspect_cells([GateCell(c.index, c.source) for c in cells], kit_names=STUDENT_NAMES)
        if refused:
            return _review(submission, device, time.monotonic() - started, wanted, refused)
    units = units_for(wanted)
    scanned = functools.cache(lambda names: scan_from_scratch([Cell(c.label, c.source) for c in cells], names))
    rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
    unit_inputs = _draw(units, rng, budget)
    # 3. stage (without the data, and without the training units, when the dataset cannot be read)
    unavailable: dict[str, str] = {}
    try:
        staged = stage(submission, rng, with_data=any(u.kind == "training" for u in units))
    except DataError as err:
        unavailable = {u.id: f"the grader could not read Fashion-MNIST, so {u.what} did not run ({err})"
                       for u in units if u.kind == "training"}
        staged = stage(submission, rng, with_data=False)
    run_dir = staged.run_dir
    try:
        n_threads = threads or _default_threads()
        plan = Plan(
            cells=cells, units=[u.id for u in units if u.id not in unavailable], device=device,  # type: ignore[arg-type]
            threads=n_threads, work_dir=str(run_dir / "work"), data_dir=str(run_dir / "data"),
            limits=ChildLimits(limits.address_space, limits.file_size, limits.open_files,
                               cpu_seconds=int(total * n_threads) + 60),
            read_only=[*read_only_roots(), str(run_dir / "data")],
            read_write=[str(run_dir / "work")],
            denied=[str(p) for p in denied_paths(submission)],
        )
        # 4. run
        if progress:
            progress(f"grading {submission.name}")
        session = Session(run_dir, plan, unit_inputs, limits, started + total, progress, zygote.shared)
        session.run()
        # 5. judge
        unit_results = judge.collect(session.outcomes, session.results, plan.units, cells)
        unit_results.update({u: judge.UnitResult("error", {}, why) for u, why in unavailable.items()})
        notes = [*nb.problems, *judge.cell_notes(session.outcomes, session.results, cells)]
        questions = judge.judge(wanted, unit_inputs, unit_results, scanned, staged.test_labels, notes)
        resolved = session.sandbox.get("device", device)
        art = judge.artifacts(unit_results, staged.test_labels)
        art["sandbox"] = dict(session.sandbox)
        # Peak resident memory of this process (Linux reports KiB) and of the largest child.
        art["peak_memory_mib"] = {"grader": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                                  "child": round(session.peak_rss / 2**20, 1)}
        # 6. the report
        return Report(str(submission), resolved, time.monotonic() - started, questions, art)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
