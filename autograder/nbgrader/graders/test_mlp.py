"""One test per question id; each passes exactly when the hardened grader passed that question."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from autograder.report import Report
from mlp_lab.questions import QUESTION_IDS


def _question_test(qid: str) -> Callable[[Report], None]:
    def test(report: Report) -> None:
        result = report.result(qid)
        if result.status != "passed":
            pytest.fail(f"{qid} ({result.status}, {result.score:g}/{result.max_score:g}): {result.message}",
                        pytrace=False)

    test.__name__ = f"test_{qid}"
    test.__doc__ = f"Does the submission pass {qid}?"
    return test


for _qid in QUESTION_IDS:
    globals()[f"test_{_qid}"] = _question_test(_qid)
