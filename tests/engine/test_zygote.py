"""The zygote: children are forks of one process that imported everything once, and none outlives the grader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat

from autograder.engine import zygote as zygote_module


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_forks_are_fresh_processes_of_one_zygote() -> None:
    z = zygote_module.shared()
    pids = []
    for _ in range(2):
        cmd_r, cmd_w = os.pipe()
        rep_r, rep_w = os.pipe()
        with open(os.devnull, "wb") as null:
            pid = z.fork(cmd_r, rep_w, null.fileno(), null.fileno())
        for fd in (cmd_r, cmd_w, rep_w, rep_r):
            os.close(fd)  # no plan will come: the child reads the end of its stdin and exits
        pids.append(pid)
    assert len(set(pids)) == 2 and z.pid not in pids
    for pid in pids:
        deadline = time.monotonic() + 10
        while z.reap(pid) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid)


def test_no_child_outlives_a_killed_grader(tmp_path: Path) -> None:
    """Kill -9 the grading process while a child spins in a student's loop: do the zygote and the child go too?"""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("while True:\n    pass")]
    path = tmp_path / "spin.ipynb"
    nbformat.write(nb, path)
    code = textwrap.dedent(f"""
        from autograder.engine import Limits, grade_notebook
        grade_notebook({str(path)!r}, only=["relu_values"], limits=Limits(cell=600))
    """)
    grader = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    zygotes: list[int] = []
    children: list[int] = []
    while time.monotonic() < deadline and not children:
        zygotes = _children(grader.pid)
        children = [c for z in zygotes for c in _children(z)]
        time.sleep(0.5)
    assert children, "no grading child started"
    time.sleep(1)  # the child is in the student's loop now
    os.kill(grader.pid, signal.SIGKILL)
    grader.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p) for p in zygotes + children):
        time.sleep(0.2)
    assert not [p for p in zygotes + children if _alive(p)]
