"""Fixtures the course tests share."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def empty_gradebook(tmp_path_factory) -> Path:
    """An empty gradebook, made once: nbgrader runs the `alembic` executable (seconds) to create one."""
    from nbgrader.api import Gradebook

    path = tmp_path_factory.mktemp("gradebook") / "empty.db"
    old = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{old}"  # alembic lives beside python
    try:
        Gradebook(f"sqlite:///{path}").close()
    finally:
        os.environ["PATH"] = old
    return path
