"""A pool of worker threads for `grade_all`, with a watchdog for gradings that hang.

Each grading is already a set of child processes, so threads suffice.  A worker stuck past
`hard_timeout` is abandoned (its result is reported as `None`) and a fresh worker takes its place,
so one hung grading never stalls the batch.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable

from ..report import Report

__all__ = ["Pool"]


class Pool:
    """`jobs` daemon worker threads; a worker stuck past `hard_timeout` is abandoned and replaced."""

    def __init__(self, jobs: int, work: Callable[[int], Report], hard_timeout: float | None) -> None:
        self.work, self.hard_timeout = work, hard_timeout
        self.tasks: queue.Queue[int] = queue.Queue()
        self.results: queue.Queue[tuple[int, Report | BaseException]] = queue.Queue()
        self.running: dict[int, float] = {}
        self.lock = threading.Lock()
        self.jobs = jobs

    def _worker(self) -> None:
        while True:
            try:
                i = self.tasks.get_nowait()
            except queue.Empty:
                return
            with self.lock:
                self.running[i] = time.monotonic()
            try:
                out: Report | BaseException = self.work(i)
            except BaseException as err:  # _grade_one never raises; this is a last line of defence
                out = err
            with self.lock:
                abandoned = self.running.pop(i, None) is None
            if not abandoned:
                self.results.put((i, out))
            else:
                return  # the watchdog already answered for this task and started a replacement

    def _spawn(self) -> None:
        threading.Thread(target=self._worker, daemon=True, name="grade-all-worker").start()

    def drain(self) -> list[tuple[int, Report | BaseException]]:
        """The results that finished but were not yet collected (used after Ctrl-C)."""
        out = []
        while True:
            try:
                out.append(self.results.get_nowait())
            except queue.Empty:
                return out

    def run(self, indices: Iterable[int]) -> Iterable[tuple[int, Report | BaseException | None]]:
        """Yield `(index, result)` as gradings finish; result None means the watchdog gave up on it."""
        n = 0
        for i in indices:
            self.tasks.put(i)
            n += 1
        for _ in range(min(self.jobs, n)):
            self._spawn()
        done = 0
        while done < n:
            try:
                yield self.results.get(timeout=0.5)
                done += 1
                continue
            except queue.Empty:
                pass
            if self.hard_timeout is None:
                continue
            now = time.monotonic()
            with self.lock:
                hung = [i for i, t in self.running.items() if now - t > self.hard_timeout]
                for i in hung:
                    del self.running[i]
            for i in hung:
                self._spawn()
                yield i, None
                done += 1
