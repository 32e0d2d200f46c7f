"""What the grader tells a child, and how it names what the child does: small types that serialise themselves.

* `Plan`: everything one grading child needs (the cells to run, the units to probe, where the data and
  its inputs are, its limits and the file-system rules of its sandbox); written once as JSON.
* `Step`: one thing a child does (`startup`, `cell:12`, `unit:relu`, `done`); the status lines and the
  parent's bookkeeping use it, never ad-hoc strings.
* `StepStatus`: how a step ended, as the parent saw it.
* `Limits` (the parent's) and `ChildLimits` (what a child applies to itself with rlimits).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

__all__ = ["ChildLimits", "GiB", "Limits", "Plan", "PlannedCell", "Step", "StepKind", "StepStatus"]

GiB = 1024**3
_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")

StepKind = Literal["startup", "cell", "unit", "done"]
StepStatus = Literal["ok", "timeout", "crashed", "memory", "disk"]


@dataclass(frozen=True)
class Step:
    """One step of a child: `Step("cell", "12")` is written `cell:12`."""

    kind: StepKind
    name: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" if self.name else self.kind

    @classmethod
    def parse(cls, text: str) -> Step:
        """The step `str(step)` wrote; ValueError for anything else."""
        kind, _, name = text.partition(":")
        if (kind not in get_args(StepKind) or (kind in ("cell", "unit")) != bool(name)
                or (name and not _NAME.fullmatch(name))):
            raise ValueError(f"not a step: {text[:80]!r}")
        return cls(kind, name)  # type: ignore[arg-type]

    @classmethod
    def cell(cls, index: int) -> Step:
        return cls("cell", str(index))

    @classmethod
    def unit(cls, unit_id: str) -> Step:
        return cls("unit", unit_id)




@dataclass(frozen=True)
class Limits:
    """Per-child limits the parent enforces.  Seconds are wall-clock; memory is resident memory (RSS)."""

    startup: float = 90.0
    cell: float = 60.0
    unit: float = 45.0
    training: float = 240.0
    memory: int = 4 * GiB
    address_space: int = 16 * GiB
    disk: int = 512 * 1024 * 1024
    file_size: int = 128 * 1024 * 1024
    open_files: int = 512


@dataclass(frozen=True)
class ChildLimits:
    """What the child applies to itself with rlimits before any student code runs."""

    address_space: int
    file_size: int
    open_files: int
    cpu_seconds: int


@dataclass(frozen=True)
class PlannedCell:
    index: int  # position among all cells of the notebook, counted from 1 as Jupyter users count
    label: str
    source: str


@dataclass
class Plan:
    """Everything one grading child needs; the parent writes it as JSON, the child reads it back."""

    cells: list[PlannedCell]
    units: list[str]
    device: Literal["auto", "cpu", "cuda"]
    threads: int
    work_dir: str
    data_dir: str
    limits: ChildLimits
    read_only: list[str]
    read_write: list[str]
    denied: list[str]
    skip: list[str] = field(default_factory=list)  # steps (str(Step)) a restarted child must not run again

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        raw: dict[str, Any] = json.loads(text)
        raw["cells"] = [PlannedCell(**c) for c in raw["cells"]]
        raw["limits"] = ChildLimits(**raw["limits"])
        return cls(**raw)

    def steps(self) -> list[Step]:
        """Every step of a full grading, in order: the cells, then the units."""
        return [Step.cell(c.index) for c in self.cells] + [Step.unit(u) for u in self.units]
