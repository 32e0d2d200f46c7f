"""The parent <-> child protocol: framed messages on two pipes, the parent in charge of every step.

The parent writes commands to the child's stdin; the child answers on a reply pipe whose descriptor
number it picked itself at random (it is in no argument, no environment variable, no file).  A frame
is one line of JSON (a header, at most `MAX_HEADER` bytes) and then exactly `size` bytes of payload.

    parent -> child   Command("plan")  + the Plan as JSON       once, first
                      Command("cell", token, "12")              run notebook cell 12
                      Command("unit", token, "relu") + inputs   probe a unit (inputs: `wire.encode`d)
                      Command("exit")
    child -> parent   Reply("ready", token="", ...) + layers    the sandbox is up (payload: its layers)
                      Reply("done", token) + result             the step ended (payload: `wire.encode`d)
                      Reply("progress", text=...)               a line for the progress display

The parent sends one command, starts that step's clock, and accepts only the `done` reply that carries
the step's token, a random value it drew when it sent the command: nothing the student's code ran
before the command could know it.  Progress lines never touch a clock.  Anything malformed, too large,
or out of turn ends the child (`ProtocolError`); the parent then charges the step and starts a fresh
child for the rest.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import time
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = ["MAX_HEADER", "Command", "Frame", "FrameReader", "ProtocolError", "Reply", "frame_bytes", "new_token",
           "write_frame"]

MAX_HEADER = 4096
MAX_PAYLOAD = 64 * 1024 * 1024

Op = Literal["plan", "cell", "unit", "exit"]
Kind = Literal["ready", "done", "progress"]


class ProtocolError(Exception):
    """The other side closed the pipe or sent something that is not a well-formed frame."""


def new_token() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Command:
    op: Op
    token: str = ""
    target: str = ""

    def header(self) -> dict[str, Any]:
        return {"op": self.op, "token": self.token, "target": self.target}

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> Command:
        if header.get("op") not in get_args(Op):
            raise ProtocolError(f"unknown command {str(header.get('op'))[:40]!r}")
        return cls(header["op"], str(header.get("token", "")), str(header.get("target", "")))


@dataclass(frozen=True)
class Reply:
    kind: Kind
    token: str = ""
    text: str = ""

    def header(self) -> dict[str, Any]:
        return {"kind": self.kind, "token": self.token, "text": self.text}

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> Reply:
        kind, token, text = header.get("kind"), header.get("token", ""), header.get("text", "")
        if kind not in get_args(Kind) or not isinstance(token, str) or not isinstance(text, str):
            raise ProtocolError("a reply that is not one of ready, done, progress")
        return cls(kind, token[:64], text[:500])


@dataclass(frozen=True)
class Frame:
    header: dict[str, Any]
    payload: bytes


def frame_bytes(header: dict[str, Any], payload: bytes = b"") -> bytes:
    """One frame: the header line (with the payload's size) and the payload."""
    head = json.dumps({**header, "size": len(payload)}, separators=(",", ":")).encode() + b"\n"
    if len(head) > MAX_HEADER:
        raise ValueError("frame header too long")
    return head + payload


def write_frame(fd: int, header: dict[str, Any], payload: bytes = b"") -> None:
    """Write one frame, all of it (blocking)."""
    data = memoryview(frame_bytes(header, payload))
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _parse_header(line: bytes) -> dict[str, Any]:
    try:
        header = json.loads(line.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ProtocolError("a frame header that is not JSON") from None
    size = header.get("size") if isinstance(header, dict) else None
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_PAYLOAD:
        raise ProtocolError("a frame whose size is missing or out of bounds")
    return header


class FrameReader:
    """Reads frames from a pipe the other side writes, never waiting past a deadline."""

    def __init__(self, fd: int, max_payload: int = MAX_PAYLOAD) -> None:
        self.fd, self.max_payload = fd, max_payload
        self._buf = b""

    def _fill(self, deadline: float) -> bool:
        """Read what is there; False when the deadline passed first.  ProtocolError on EOF."""
        wait = deadline - time.monotonic()
        if wait <= 0:
            return False
        ready, _, _ = select.select([self.fd], [], [], min(wait, 0.25))  # deadline=math.inf blocks
        if not ready:
            return True
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            raise ProtocolError("the child closed its end")
        self._buf += chunk
        return True

    def read(self, deadline: float, poll: Any = None) -> Frame | None:
        """The next frame, or None at the deadline.  `poll()` runs between reads (limits, say)."""
        while b"\n" not in self._buf[:MAX_HEADER + 1]:
            if len(self._buf) > MAX_HEADER:
                raise ProtocolError("a frame header longer than the limit")
            if poll is not None:
                poll()
            if not self._fill(deadline):
                return None
        line, _, rest = self._buf.partition(b"\n")
        header = _parse_header(line)
        size = header["size"]
        if size > self.max_payload:
            raise ProtocolError(f"a payload of {size} bytes (limit {self.max_payload})")
        self._buf = rest
        while len(self._buf) < size:
            if poll is not None:
                poll()
            if not self._fill(deadline):
                return None
        payload, self._buf = self._buf[:size], self._buf[size:]
        return Frame(header, payload)
