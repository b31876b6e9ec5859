"""Give memory the C allocator keeps back to the OS when a worker runs high.

Distributed pauses a worker, and its nanny finally kills it, on *process*
memory. Spilling and unspilling thousands of partitions through comms and
spill files leaves freed chunks in glibc's heaps that are not returned to the
OS by themselves (measured: a paused worker at 478 MiB RSS with no data in
memory went down by 185 MiB after ``malloc_trim(0)``). Without this the
worker stays paused forever and the query hangs. :class:`MemoryTrimmer` calls
``malloc_trim(0)``, and asks Arrow's allocator to release the pages it caches
(jemalloc's dirty pages), whenever process memory is above a fraction of the limit.
With jemalloc it also sets the decay of freed pages: immediate on small workers,
where memory is tight, one second on large ones. (Immediate everywhere doubled the
time of TPC-H queries on 12 GiB workers; one second everywhere doubled the time
and the bytes spilled of an out-of-core join on 512 MiB workers, both measured.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

import psutil
import pyarrow as pa
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


#: jemalloc's decay while a worker has room: freed pages are reused for a second
#: before they go back to the OS (TPC-H ran up to 2x faster than with decay 0).
RELAXED_DECAY_MS = 1000


class MemoryTrimmer(WorkerPlugin):
    """Calls ``malloc_trim(0)`` while process memory is above ``fraction`` of the limit.

    Parameters
    ----------
    fraction : float
        Trim when process memory exceeds this fraction of the worker's memory limit.
    poll : float
        Seconds between two looks at process memory.
    small_worker_bytes : int
        With jemalloc: a worker whose memory limit per thread is below this returns
        freed pages to the OS at once; a larger one keeps them a second for reuse.
    """

    name = "spillframe-memory-trimmer"
    idempotent = True

    def __init__(
        self, fraction: float = 0.5, poll: float = 0.25, small_worker_bytes: int = 4 << 30
    ) -> None:
        self.fraction = fraction
        self.small_worker_bytes = small_worker_bytes
        self.poll = poll
        self.trims = 0
        self._limit = 0
        self._process: psutil.Process | None = None
        self._trim: Any = None
        self._callback: PeriodicCallback | None = None

    def setup(self, worker: Any) -> None:
        limit = worker.memory_manager.memory_limit
        if pa.default_memory_pool().backend_name == "jemalloc":
            # The decay applies to arenas created from now on, so it is chosen once,
            # before the worker's threads allocate.
            small = limit and limit / max(1, worker.state.nthreads) < self.small_worker_bytes
            pa.jemalloc_set_decay_ms(0 if small else RELAXED_DECAY_MS)
        self._trim = _load_trim()
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
            pa.default_memory_pool().release_unused()
            self._trim(0)
            self.trims += 1
