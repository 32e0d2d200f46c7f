"""The grading engine: grade one submission out of process (`grade_notebook`).

    notebook.py  read a submission as data, choose the cells a child runs
    plan.py      the typed messages: Plan, Step, StepStatus, Limits
    stage.py     the run folder, the data (no test labels), each unit's inputs
    session.py   children: start, watch steps and limits, replace one that failed
    child/       the child's entry point and the sandbox it applies to itself
    wire.py      how a child hands back plain values (JSON and .npz, no pickle)
    judge.py     from the children's numbers to a verdict per question
    grade.py     `grade_notebook`: read -> plan -> stage -> run -> judge -> report
    fingerprint.py  a hash of the code that decides grades (batch regrades compare it)
"""

from __future__ import annotations

from .grade import DEFAULT_TIMEOUT, grade_notebook
from .plan import Limits

__all__ = ["DEFAULT_TIMEOUT", "Limits", "grade_notebook"]
