"""Grade one submission: out of process, confined, with every verdict computed from raw numbers.

`grade_notebook` reads as its pipeline, one function per step:

1. read     `notebook.read_submission`: the notebook as data (never run here); unreadable -> every
            question `error` with the reason;
2. plan     `notebook.plan_cells` (which code cells run: all but grade cells and cells tagged
            `skip-grading`), the units the wanted questions need (`mlp_lab.questions.units_for`),
            the from-scratch scan of the source, and fresh inputs for each unit;
3. stage    `stage.stage`: the run folder, the data without test labels, the inputs;
4. run      `session.Session`: children confine themselves and run the cells, then the probes, one
            step at a time; a step that hangs, crashes or exhausts memory is killed and skipped, and a
            fresh child goes on with the rest;
5. judge    `judge.collect` / `judge.judge`: each question's verdict from the numbers the children
            wrote, and the artifacts the feedback pages draw;
6. a `Report`, written by the caller after every child is gone.
"""

from __future__ import annotations

import os
import resource
import secrets
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlp_lab.questions import QUESTION_IDS, Unit, units_for
from mlp_lab.scratch import Cell, scan_from_scratch

from ..errors import NotebookError
from ..report import Report
from . import judge, zygote
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


def grade_notebook(path: str | os.PathLike[str], *, device: str = "auto", timeout: float | None = None,
                   threads: int | None = None, progress: Callable[[str], None] | None = None,
                   seed: int | None = None, limits: Limits | None = None,
                   budget: Mapping[str, Any] | None = None, only: Sequence[str] | None = None) -> Report:
    """Grade one notebook; always returns a Report with every question (never raises for bad input).

    `only` grades just those question ids (the others are reported as not graded, 0 points); the
    units they need are all that runs, so `only=["relu_grad"]` trains nothing.  `budget` overrides
    fields of the training run (tests train for one epoch).
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
    # 2. plan
    cells = plan_cells(nb)
    units = units_for(wanted)
    findings = scan_from_scratch([Cell(c.label, c.source) for c in cells])
    rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
    unit_inputs = _draw(units, rng, budget)
    # 3. stage
    staged = stage(submission, rng, with_data=any(u.kind == "training" for u in units))
    run_dir = staged.run_dir
    try:
        n_threads = threads or _default_threads()
        plan = Plan(
            cells=cells, units=[u.id for u in units], device=device, threads=n_threads,  # type: ignore[arg-type]
            work_dir=str(run_dir / "work"), data_dir=str(run_dir / "data"),
            limits=ChildLimits(limits.address_space, limits.file_size, limits.open_files,
                               cpu_seconds=int(total * n_threads) + 60),
            read_only=[*read_only_roots(), str(run_dir / "data")],
            read_write=[str(run_dir / "work")],
            denied=[str(p) for p in denied_paths(submission)],
        )
        # 4. run
        if progress:
            progress(f"grading {submission.name}")
        session = Session(run_dir, plan, unit_inputs, limits, started + total, progress, zygote.shared())
        session.run()
        # 5. judge
        unit_results = judge.collect(session.outcomes, session.results, plan.units, cells)
        notes = judge.cell_notes(session.outcomes, session.results, cells)
        questions = judge.judge(wanted, unit_inputs, unit_results, findings, staged.test_labels, notes)
        resolved = session.sandbox.get("device", device)
        art = judge.artifacts(unit_results, staged.test_labels)
        art["sandbox"] = dict(session.sandbox)
        # Peak resident memory (Linux reports KiB) of this process and of the largest child so far.
        art["peak_memory_mib"] = {
            "grader": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "child": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}
        # 6. the report
        return Report(str(submission), resolved, time.monotonic() - started, questions, art)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
