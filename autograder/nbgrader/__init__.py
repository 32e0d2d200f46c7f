"""The nbgrader glue: what the instructor notebook's hidden tests and `nbgrader_config.py` import.

    hidden.py        `require(qid, globals())`: the hidden tests, run in the student's kernel
    preprocessors.py `HideHiddenTests`, for `nbgrader generate_feedback`
    graders/         the hidden graders as a pytest plugin (`pytest -c graders/pytest.ini ...`)
"""

from __future__ import annotations

from .hidden import require

__all__ = ["require"]
