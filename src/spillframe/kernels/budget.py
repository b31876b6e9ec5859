"""The memory a running kernel may use, as its runner granted it.

A runner reserves memory for every task from the plan's estimate (see
:mod:`spillframe.physical.memory`) and, while the task's kernel runs, makes that
reservation known as a :class:`MemoryGrant`. Wide kernels (sort, join, aggregation)
read it with :func:`current_grant` and switch to their out-of-core forms when
their input outgrows it. Without a grant (a kernel called directly, or a runner
that sets none) kernels work in memory.

Examples
--------
>>> with granted(MemoryGrant(64 << 20)) as grant:
...     current_grant() is grant
True
>>> current_grant() is None
True
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["MemoryGrant", "current_grant", "granted", "SPILL_COMPRESSION"]

#: Spill files (the runner's and the kernels') are plain Arrow IPC, as DuckDB's temp
#: files are uncompressed: lz4 took 3.5x the time of an uncompressed write (48 MiB of
#: lineitem buckets: 95 vs 27 ms) and was the largest cost of the SF1 out-of-core join
#: on 2 cores, for files half the size.
SPILL_COMPRESSION = None


@dataclass
class MemoryGrant:
    """Bytes a kernel may hold at once, where it may spill, and what it spilled.

    Parameters
    ----------
    limit : int
        Bytes of tables the kernel may hold at once (its inputs, what it builds, its
        output). Out-of-core kernels keep below it by writing the rest to disk.
    spill_dir : str, optional
        Parent directory for the kernel's temporary files (default: the system's).
    """

    limit: int
    spill_dir: str | None = None
    spilled_bytes: int = 0
    spilled_objects: int = 0
    write_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError(f"MemoryGrant.limit must be a positive int, got {self.limit!r}")

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"]  # a grant can travel (to a worker process); its lock is new
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def record_spill(self, nbytes: int, seconds: float) -> None:
        """Count ``nbytes`` (in-memory size) written to disk in ``seconds``."""
        with self._lock:
            self.spilled_bytes += nbytes
            self.spilled_objects += 1
            self.write_seconds += seconds

    @contextlib.contextmanager
    def scratch_dir(self) -> Iterator[str]:
        """A private (0700) directory for temporary files, removed on exit."""
        parent = self.spill_dir or tempfile.gettempdir()
        os.makedirs(parent, exist_ok=True)
        path = tempfile.mkdtemp(prefix="spillframe-kernel-", dir=parent)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


_GRANT: contextvars.ContextVar[MemoryGrant | None] = contextvars.ContextVar(
    "spillframe_memory_grant", default=None
)


def current_grant() -> MemoryGrant | None:
    """The grant of the task running in this thread, or None outside a runner."""
    return _GRANT.get()


@contextlib.contextmanager
def granted(grant: MemoryGrant | None) -> Iterator[MemoryGrant | None]:
    """Make ``grant`` the current one inside a ``with`` block (this thread only)."""
    token = _GRANT.set(grant)
    try:
        yield grant
    finally:
        _GRANT.reset(token)
