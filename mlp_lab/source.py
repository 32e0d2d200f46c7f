"""A notebook cell's Python: what the grader parses and runs of it.

IPython magics and shell escapes are not Python, so `ast` cannot parse a cell that has them.
"""

from __future__ import annotations

__all__ = ["python_source"]


def python_source(cell_source: str) -> str:
    """Cell source with IPython magics and shell escapes commented out, so `ast` can parse it."""
    if cell_source.lstrip().startswith("%%"):
        return ""
    lines = []
    for line in cell_source.splitlines():
        stripped = line.lstrip()
        lines.append("# " + line if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)
