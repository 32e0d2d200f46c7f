"""GPU grading (`--device cuda`): the same thresholds, deterministic settings.  Skipped without CUDA."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from autograder.engine import grade_notebook
from mlp_lab.questions import MAX_SCORE


def _has_cuda() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True, check=False).returncode == 0


pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not _has_cuda(), reason="no CUDA device on this machine")]


@pytest.mark.slow
def test_reference_scores_100_on_the_gpu(make_notebook, reference_source) -> None:  # type: ignore[no-untyped-def]
    report = grade_notebook(make_notebook([reference_source]), device="cuda", seed=0)
    assert report.device == "cuda"
    assert report.score == MAX_SCORE, report.table()


def test_auto_picks_cuda_when_present(make_notebook, reference_source) -> None:  # type: ignore[no-untyped-def]
    report = grade_notebook(make_notebook([reference_source]), device="auto", only=["relu_values"], seed=0)
    assert report.device == "cuda"
