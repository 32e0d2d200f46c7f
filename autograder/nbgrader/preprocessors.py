"""nbgrader preprocessors used by the course's `nbgrader_config.py` (private: only that file imports them).

    HideHiddenTests   for `nbgrader generate_feedback`: drops the `### BEGIN HIDDEN TESTS` region from
                      grade cells *and* every traceback frame that shows a line of it or of the grader's
                      own modules (the exception's message, written for the student, stays)

nbgrader 0.9.6's feedback shows the autograded notebook as it is, hidden tests included, and
IPython's tracebacks quote the failing line of a cell with its neighbours, so a failed
`require("accuracy", globals())` would also show the hidden region in the error output.
"""

from __future__ import annotations

import re
from typing import Any

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Unicode

__all__ = ["HideHiddenTests"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# A traceback frame inside the grader or the kit (e.g. `require` raising CheckFailed).
_GRADER_FRAME = re.compile(r"[/\\](autograder|mlp_lab)[/\\][\w/\\]*\.py")


class HideHiddenTests(Preprocessor):  # type: ignore[misc]
    """Remove hidden-test regions from cell sources and hidden-test lines from their tracebacks."""

    # nbconvert runs a preprocessor only when `enabled` (nbconvert's default: False).
    enabled = Bool(True).tag(config=True)
    begin = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end = Unicode("END HIDDEN TESTS").tag(config=True)
    placeholder = Unicode("(in the hidden checks: the message below says what went wrong)").tag(config=True)

    def _split(self, source: str) -> tuple[str, list[str]]:
        """(source without hidden regions, the hidden lines themselves, stripped)."""
        kept: list[str] = []
        hidden: list[str] = []
        inside = False
        for line in source.split("\n"):
            if self.begin in line:
                inside = True
            elif self.end in line:
                inside = False
            elif inside:
                if line.strip():
                    hidden.append(line.strip())
            else:
                kept.append(line)
        return "\n".join(kept).rstrip("\n"), hidden

    def _scrub(self, text: str, hidden: list[str]) -> str:
        plain = _ANSI.sub("", text)
        if (any(h in plain for h in hidden) or self.begin in plain or self.end in plain
                or _GRADER_FRAME.search(plain)):
            return self.placeholder
        return text

    def preprocess_cell(self, cell: Any, resources: Any, index: int) -> tuple[Any, Any]:
        if cell.cell_type != "code" or self.begin not in cell.source:
            return cell, resources
        cell.source, hidden = self._split(cell.source)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                frames = [self._scrub(frame, hidden) for frame in output.get("traceback", [])]
                output["traceback"] = [f for i, f in enumerate(frames)
                                       if not (f == self.placeholder and i and frames[i - 1] == self.placeholder)]
        return cell, resources
