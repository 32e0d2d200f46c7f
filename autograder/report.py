"""Grading reports: the JSON format every tool reads, and the table a person reads.

JSON (written by `autograder grade --json` and by `grade-all`, one file per submission)::

    {"submission": str, "score": float, "max_score": float, "device": str, "seconds": float,
     "questions": [{"id": str, "score": float, "max_score": float,
                    "status": "passed" | "failed" | "error" | "timeout" | "review", "message": str}],
     "artifacts": {...}}            # optional: curves and activation samples for feedback pages

Every question id of `questions.QUESTION_IDS` is present in every report, whatever happened.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlp_lab.questions import QUESTION_IDS, QUESTIONS

from .files import write_json_atomic

__all__ = ["STATUSES", "QuestionResult", "Report", "Status", "render_table"]

# review: the grader's integrity gate refused code that reaches into the grader or the interpreter; an
# instructor should look (the message names the cell, the line and the construct).
Status = Literal["passed", "failed", "error", "timeout", "review"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "error", "timeout", "review")


@dataclass(frozen=True)
class QuestionResult:
    id: str
    score: float
    max_score: float
    status: Status
    message: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")
        if not 0 <= self.score <= self.max_score:
            raise ValueError(f"{self.id}: score {self.score} outside 0..{self.max_score}")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "score": self.score, "max_score": self.max_score,
                "status": self.status, "message": self.message}


@dataclass
class Report:
    submission: str
    device: str
    seconds: float
    questions: list[QuestionResult]
    artifacts: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = [q.id for q in self.questions]
        if sorted(ids) != sorted(QUESTION_IDS):
            raise ValueError(f"a report must hold each question once: got {ids}, want {list(QUESTION_IDS)}")
        order = {qid: i for i, qid in enumerate(QUESTION_IDS)}
        self.questions.sort(key=lambda q: order[q.id])

    @property
    def score(self) -> float:
        return round(sum(q.score for q in self.questions), 6)

    @property
    def max_score(self) -> float:
        return round(sum(q.max_score for q in self.questions), 6)

    def result(self, qid: str) -> QuestionResult:
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)

    def to_dict(self) -> dict[str, Any]:
        """The report as strict JSON values: a non-finite number (a student's nan) becomes None."""
        out: dict[str, Any] = {
            "submission": self.submission, "score": self.score, "max_score": self.max_score,
            "device": self.device, "seconds": round(self.seconds, 3),
            "questions": [q.to_dict() for q in self.questions],
        }
        if self.artifacts:
            out["artifacts"] = _finite(self.artifacts)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        return cls(
            submission=str(data["submission"]), device=str(data["device"]),
            seconds=float(data["seconds"]),
            questions=[QuestionResult(id=str(q["id"]), score=float(q["score"]),
                                      max_score=float(q["max_score"]), status=q["status"],
                                      message=str(q.get("message", "")))
                       for q in data["questions"]],
            artifacts=dict(data.get("artifacts") or {}),
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Report:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def write_json(self, path: str | os.PathLike[str]) -> None:
        write_json_atomic(path, self.to_dict())

    @classmethod
    def all_failed(cls, submission: str, device: str, seconds: float, status: Status,
                   message: str) -> Report:
        """A report where every question got `status` with the same message (e.g. unreadable notebook)."""
        return cls(submission=submission, device=device, seconds=seconds,
                   questions=[QuestionResult(q.id, 0.0, float(q.points), status, message)
                              for q in QUESTIONS])

    def table(self) -> str:
        return render_table(self)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _wrap(text: str, width: int) -> Iterable[str]:
    words, line = text.split(), ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            yield line
            line = w
        else:
            line = f"{line} {w}" if line else w
    yield line


def render_table(report: Report, message_width: int = 72) -> str:
    """A plain-text table of questions, points and messages."""
    rows = [("question", "points", "status", "message")]
    for q in report.questions:
        lines = list(_wrap(q.message, message_width)) or [""]
        rows.append((q.id, f"{q.score:g}/{q.max_score:g}", q.status, lines[0]))
        rows.extend(("", "", "", extra) for extra in lines[1:])
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    out = [f"{report.submission}  ({report.device}, {report.seconds:.1f} s)"]
    for i, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3])
        if i == 0:
            out.append("-" * (sum(widths) + 6 + message_width))
    out.append(f"total: {report.score:g} / {report.max_score:g}")
    return "\n".join(out)
