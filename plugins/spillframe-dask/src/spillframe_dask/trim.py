"""Give memory the C allocator keeps back to the OS when a worker runs high.

Distributed pauses a worker, and its nanny finally kills it, on *process*
memory. Spilling and unspilling thousands of partitions through comms and
spill files leaves freed chunks in glibc's heaps that are not returned to the
OS by themselves (measured: a paused worker at 478 MiB RSS with no data in
memory went down by 185 MiB after ``malloc_trim(0)``). Without this the
worker stays paused forever and the query hangs. :class:`MemoryTrimmer` calls
``malloc_trim(0)`` whenever process memory is above a fraction of the limit.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

import psutil
from distributed.diagnostics.plugin import WorkerPlugin
from tornado.ioloop import PeriodicCallback


def _load_trim() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim this way
        return None


class MemoryTrimmer(WorkerPlugin):
    """Calls ``malloc_trim(0)`` while process memory is above ``fraction`` of the limit.

    Parameters
    ----------
    fraction : float
        Trim when process memory exceeds this fraction of the worker's memory limit.
    poll : float
        Seconds between two looks at process memory.
    """

    name = "spillframe-memory-trimmer"
    idempotent = True

    def __init__(self, fraction: float = 0.5, poll: float = 0.25) -> None:
        self.fraction = fraction
        self.poll = poll
        self.trims = 0
        self._limit = 0
        self._process: psutil.Process | None = None
        self._trim: Any = None
        self._callback: PeriodicCallback | None = None

    def setup(self, worker: Any) -> None:
        self._trim = _load_trim()
        limit = worker.memory_manager.memory_limit
        if self._trim is None or not limit:
            return
        self._limit = limit
        self._process = psutil.Process()
        self._callback = PeriodicCallback(self.check, self.poll * 1000)
        self._callback.start()

    def teardown(self, worker: Any) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    def check(self) -> None:
        """Trim if process memory is above the threshold."""
        if self._process.memory_info().rss > self.fraction * self._limit:
            self._trim(0)
            self.trims += 1
