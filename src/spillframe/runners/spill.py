"""SpillStore: task outputs held in memory up to a byte budget, the rest on disk.

Over the budget, the least recently used outputs are written to compressed Arrow
IPC files in a private directory and read back on demand. Files are deleted when
no task needs them any more, and the directory when the store closes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

import pyarrow as pa

from spillframe.errors import SpillError

logger = logging.getLogger("spillframe")

MiB = 1 << 20
ALERT_INTERVAL_SECONDS = 5.0


@dataclass
class SpillStats:
    """Totals since the store was created."""

    spilled_bytes: int = 0
    spilled_objects: int = 0
    write_seconds: float = 0.0
    unspilled_objects: int = 0


class SpillStore:
    """Thread-safe key -> pa.Table store with LRU spilling to disk.

    Parameters
    ----------
    memory_limit : int
        Bytes of tables kept in memory before the least recently used are spilled.
    spill_dir : str, optional
        Parent directory for this store's private spill directory.
    spill_limit : int, optional
        Most bytes this store may write to disk; more raises :class:`SpillError`.
    """

    def __init__(self, memory_limit: int, spill_dir: str | None = None,
                 spill_limit: int | None = None) -> None:
        self.memory_limit = memory_limit
        self.spill_limit = spill_limit
        self._parent = spill_dir or tempfile.gettempdir()
        self._dir: str | None = None
        self._memory: OrderedDict[Hashable, pa.Table] = OrderedDict()
        self._disk: dict[Hashable, tuple[str, int]] = {}
        self._memory_bytes = 0
        self._disk_bytes = 0
        self._lock = threading.RLock()
        self._counter = 0
        self.stats = SpillStats()
        self._alert = SpillStats()
        self._last_alert = time.monotonic()

    # -- public ---------------------------------------------------------------------
    @property
    def memory_bytes(self) -> int:
        return self._memory_bytes

    @property
    def disk_bytes(self) -> int:
        return self._disk_bytes

    def put(self, key: Hashable, table: pa.Table) -> None:
        """Store ``table``; may spill older entries to stay under the memory limit."""
        with self._lock:
            self._memory[key] = table
            self._memory_bytes += table.nbytes
            self._spill_over_limit(keep=key)

    def get(self, key: Hashable) -> pa.Table:
        """The table stored under ``key`` (read back from disk if it was spilled)."""
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
            path, _ = self._disk[key]
        with pa.memory_map(path) as source:
            table = pa.ipc.open_file(source).read_all()
        self.stats.unspilled_objects += 1
        return table

    def delete(self, key: Hashable) -> None:
        """Forget ``key`` and remove its spill file."""
        with self._lock:
            table = self._memory.pop(key, None)
            if table is not None:
                self._memory_bytes -= table.nbytes
                return
            entry = self._disk.pop(key, None)
        if entry is not None:
            self._disk_bytes -= entry[1]
            _unlink(entry[0])

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._memory or key in self._disk

    def close(self) -> None:
        """Drop every entry and delete the spill directory."""
        with self._lock:
            self._memory.clear()
            self._disk.clear()
            self._memory_bytes = self._disk_bytes = 0
            directory, self._dir = self._dir, None
        if directory:
            shutil.rmtree(directory, ignore_errors=True)

    # -- spilling ---------------------------------------------------------------------
    def _spill_over_limit(self, keep: Hashable) -> None:
        while self._memory_bytes > self.memory_limit and len(self._memory) > 1:
            key = next(iter(self._memory))
            if key == keep:
                self._memory.move_to_end(key)
                key = next(iter(self._memory))
            table = self._memory[key]
            self._write(key, table)
            del self._memory[key]
            self._memory_bytes -= table.nbytes
        self._maybe_alert()

    def _directory(self) -> str:
        if self._dir is None:
            try:
                os.makedirs(self._parent, exist_ok=True)
                self._dir = tempfile.mkdtemp(prefix="spillframe-spill-", dir=self._parent)
            except OSError as exc:
                raise SpillError(f"cannot create a spill directory in {self._parent!r}: "
                                 f"{exc}; pass spill_dir= to choose another") from None
        return self._dir

    def _write(self, key: Hashable, table: pa.Table) -> None:
        directory = self._directory()
        needed = table.nbytes
        if self.spill_limit is not None and self._disk_bytes + needed > self.spill_limit:
            raise SpillError(
                f"spilling {needed / MiB:.1f} MiB to {directory!r} would exceed its limit of "
                f"{self.spill_limit / MiB:.1f} MiB ({self._disk_bytes / MiB:.1f} MiB used); "
                "raise spill_limit or memory_limit, or use fewer, smaller partitions"
            )
        free = shutil.disk_usage(directory).free
        if free < needed:
            raise SpillError(f"not enough disk space in {directory!r} to spill "
                             f"{needed / MiB:.1f} MiB ({free / MiB:.1f} MiB free)")
        self._counter += 1
        path = os.path.join(directory, f"{self._counter:08d}.arrow")
        start = time.perf_counter()
        try:
            options = pa.ipc.IpcWriteOptions(compression="lz4")
            with pa.OSFile(path, "wb") as sink, \
                    pa.ipc.new_file(sink, table.schema, options=options) as writer:
                writer.write_table(table)
        except OSError as exc:
            _unlink(path)
            raise SpillError(f"cannot spill {needed / MiB:.1f} MiB to {directory!r}: {exc}") \
                from None
        elapsed = time.perf_counter() - start
        size = os.path.getsize(path)
        self._disk[key] = (path, size)
        self._disk_bytes += size
        for stats in (self.stats, self._alert):
            stats.spilled_bytes += needed
            stats.spilled_objects += 1
            stats.write_seconds += elapsed

    def _maybe_alert(self) -> None:
        now = time.monotonic()
        if self._alert.spilled_objects and now - self._last_alert >= ALERT_INTERVAL_SECONDS:
            self.flush_alert()

    def flush_alert(self) -> None:
        """Log what was spilled since the last alert (at most one line)."""
        alert, self._alert = self._alert, SpillStats()
        self._last_alert = time.monotonic()
        if alert.spilled_objects:
            logger.warning(spill_message(alert.spilled_bytes, alert.spilled_objects,
                                         alert.write_seconds, "local"))


def spill_message(nbytes: int, objects: int, seconds: float, worker: str) -> str:
    """``Spilled 1690 MiB, 9 objects, write throughput 576 MiB/s (worker ...)``."""
    throughput = nbytes / MiB / seconds if seconds > 0 else float("inf")
    return (f"Spilled {nbytes / MiB:.0f} MiB, {objects} objects, "
            f"write throughput {throughput:.0f} MiB/s (worker {worker})")


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
