"""The set-up files agree with pyproject.toml and the CI entry point is what the README says."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pyproject_pins() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return dict(dep.split("==", 1) for dep in deps)


def test_environment_yml_pins_torch_like_pyproject() -> None:
    """Does the conda file install the same torch and torchvision as pyproject.toml?"""
    pins = pyproject_pins()
    text = (ROOT / "environment.yml").read_text()
    assert re.findall(r"^\s*- (torch(?:vision)?)==(\S+)$", text, re.M) == [
        ("torch", pins["torch"]),
        ("torchvision", pins["torchvision"]),
    ]
    assert re.search(r"^\s*- python=3\.11$", text, re.M)
    assert re.search(r"^\s*- -e \.\[dev\]$", text, re.M)


def test_ci_run_is_executable_and_runs_the_readme_test_command() -> None:
    ci = ROOT / ".ci" / "run"
    assert os.access(ci, os.X_OK)
    text = ci.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert re.search(r"^bash scripts/test\.sh\b", text, re.M)
