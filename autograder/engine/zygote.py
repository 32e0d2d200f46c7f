"""The parent's side of the zygote (`autograder.engine.child`): start it once, ask it for children.

One zygote serves a whole process (every grading of a `grade-all`, from any worker thread): starting
it costs the imports of torch and d2l once; each child after that is a fork.  `shared()` returns it,
starting a fresh one when there is none or the last one died.  Requests are serialised by a lock.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import SandboxError

__all__ = ["Zygote", "shared"]

ZYGOTE_MODULE = "autograder.engine.child"
# Variables passed through to the zygote (and so to every child) when the parent has them: OpenBLAS
# needs these on some processors to compute right (see the machine's notes); CUDA needs its devices.
_PASS_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH")


class Zygote:
    """A running zygote and the socket to it."""

    def __init__(self, startup_timeout: float = 120.0) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="mlp-zygote-"))
        (self.home / "mpl").mkdir()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.home), "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
               "MPLCONFIGDIR": str(self.home / "mpl"), "TMPDIR": str(self.home), "PYTHONHASHSEED": "0",
               "PYTHONDONTWRITEBYTECODE": "1", "XDG_CACHE_HOME": str(self.home / "cache"),
               # One thread in the zygote, so that forking it is safe; each child sets its own count.
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               # The grader runs torch.compile'd functions eagerly (the compiler needs a subprocess).
               "TORCH_COMPILE_DISABLE": "1", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
        env.update({k: os.environ[k] for k in _PASS_THROUGH if k in os.environ})
        self.log = open(self.home / "zygote.log", "ab")  # kept open as long as the process runs
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-m", ZYGOTE_MODULE, str(theirs.fileno())], env=env, cwd=self.home,
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, pass_fds=(theirs.fileno(),),
            start_new_session=True)
        theirs.close()
        self._closed = False
        self.sock = ours
        self.lock = threading.Lock()
        reply = self._receive(startup_timeout)
        if "ready" not in reply:
            self.close()
            raise SandboxError(f"the grader's zygote did not start: {reply}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _receive(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([self.sock], [], [], 0.25)
            if ready:
                data = self.sock.recv(4096)
                if not data:
                    raise SandboxError(f"the grader's zygote ended ({self._tail()})")
                reply = json.loads(data)
                return reply if isinstance(reply, dict) else {}
            if self.proc.poll() is not None:
                raise SandboxError(f"the grader's zygote ended with status {self.proc.returncode} ({self._tail()})")
            if time.monotonic() > deadline:
                raise SandboxError(f"the grader's zygote did not answer within {timeout:.0f} s")

    def _tail(self) -> str:
        try:
            return (self.home / "zygote.log").read_text(errors="replace")[-800:].strip() or "no output"
        except OSError:
            return "no log"

    def fork(self, stdin: int, reply: int, stdout: int, stderr: int) -> int:
        """A new grading child with these four descriptors; returns its pid (also its process group)."""
        with self.lock:
            socket.send_fds(self.sock, [json.dumps({"op": "fork"}).encode()], [stdin, reply, stdout, stderr])
            answer = self._receive(30.0)
        if not isinstance(answer.get("pid"), int):
            raise SandboxError(f"the grader's zygote refused a fork: {answer}")
        return int(answer["pid"])

    def reap(self, pid: int) -> int | None:
        """The child's wait status once it has ended (None while it runs)."""
        with self.lock:
            self.sock.sendall(json.dumps({"op": "reap", "pid": pid}).encode())
            answer = self._receive(30.0)
        status = answer.get("status")
        return status if isinstance(status, int) else None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.sock.close()
        finally:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, 9)
                except ProcessLookupError:
                    pass
            self.proc.wait()
            self.log.close()
            shutil.rmtree(self.home, ignore_errors=True)


_SHARED: Zygote | None = None
_SHARED_LOCK = threading.Lock()


def shared() -> Zygote:
    """The process's zygote, started (again) when there is none or it died."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None or not _SHARED.alive():
            if _SHARED is not None:
                _SHARED.close()
            _SHARED = Zygote()
            atexit.register(_SHARED.close)
        return _SHARED
