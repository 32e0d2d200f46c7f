"""The zygote: imports torch, d2l and the kit once, then forks a fresh grading child on request.

Started by `autograder.engine.zygote` as `python -I -m autograder.engine.child FD` with a scrubbed
environment and one Unix socket (descriptor FD) to the parent.  Importing torch and d2l takes 5-10 s on a
2-core machine; a fork of this process takes milliseconds, so a grading can replace a child that hung
or crashed at once, and a batch pays the imports once.  The zygote never runs student code and holds
nothing secret: no labels, no grader state, only imported modules.

Requests on the socket (JSON, one per message; the fork request carries four descriptors):

    {"op": "fork"}  + [stdin, reply, stdout, stderr]  ->  {"pid": N}
    {"op": "reap", "pid": N}                           ->  {"status": wait status, or null if running}

A forked child asks to be killed when the zygote ends, closes the socket and every other descriptor it
did not get, moves its reply pipe to a descriptor number drawn at random, starts its own session, and
serves one grading (`worker.serve`).
The zygote is single-threaded (its environment keeps OpenMP and BLAS at one thread), so forking it is
safe.  It exits when the parent closes the socket.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import signal
import socket
import sys
from typing import Any

# Everything a child needs, imported before any fork: these are the slow imports.
import numpy  # noqa: F401
import torch  # noqa: F401
from d2l import torch as d2l  # noqa: F401

import mlp_lab.datamodule
import mlp_lab.probes
import mlp_lab.scratch
import mlp_lab.visible  # noqa: F401

from . import worker

_REPLY_FDS = range(100, 1000)


_PR_SET_PDEATHSIG = 1


def _start_child(sock: socket.socket, fds: list[int], zygote: int) -> None:
    """In the forked child: keep only the four descriptors, then serve the grading; never returns."""
    try:
        # Die with the zygote (which exits when the grader goes), even in a loop that reads no command.
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != zygote:
            os._exit(71)
        sock.close()
        sys.argv = [""]  # nothing of the zygote's for the student's code to find
        os.setsid()
        stdin, reply, stdout, stderr = fds
        reply_fd = random.SystemRandom().choice([n for n in _REPLY_FDS if n not in fds])
        os.dup2(reply, reply_fd, inheritable=False)
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        os.closerange(3, reply_fd)
        os.closerange(reply_fd + 1, 65536)
        worker.serve(reply_fd)
    finally:
        os._exit(70)


def _answer(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message).encode())


def main() -> int:
    sock = socket.socket(fileno=int(sys.argv[1]))
    _answer(sock, {"ready": os.getpid()})
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 4096, 8)
        except OSError:
            return 0
        if not msg:
            return 0  # the parent is gone
        try:
            request = json.loads(msg)
        except ValueError:
            request = {}
        op = request.get("op") if isinstance(request, dict) else None
        if op == "fork" and len(fds) == 4:
            sys.stdout.flush()
            sys.stderr.flush()
            zygote = os.getpid()
            pid = os.fork()
            if pid == 0:
                _start_child(sock, fds, zygote)
            for fd in fds:
                os.close(fd)
            _answer(sock, {"pid": pid})
        elif op == "reap" and isinstance(request.get("pid"), int):
            for fd in fds:
                os.close(fd)
            try:
                done, status = os.waitpid(request["pid"], os.WNOHANG)
            except ChildProcessError:
                done, status = request["pid"], -1
            _answer(sock, {"status": status if done else None})
        else:
            for fd in fds:
                os.close(fd)
            _answer(sock, {"error": f"unknown request {str(op)[:40]}"})


if __name__ == "__main__":
    sys.exit(main())
