"""SpillStore: task outputs held in memory within one byte budget, the rest on disk.

The budget is shared with the reservations of running tasks. Over it, the least
recently used outputs are written to Arrow IPC files in a private
directory and read back on demand. Files are deleted when no task needs them any
more, and the directory when the store closes.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import pyarrow as pa

from spillframe.errors import SpillError
from spillframe.kernels.budget import SPILL_COMPRESSION, private_dir, remove_private_dir
from spillframe.units import format_bytes

MiB = 1 << 20
# Read on the reading thread (see the write options in SpillStore._write).
_READ_OPTIONS = pa.ipc.IpcReadOptions(use_threads=False)


@dataclass
class SpillStats:
    """Totals since the store was created."""

    spilled_bytes: int = 0
    spilled_objects: int = 0
    write_seconds: float = 0.0
    unspilled_objects: int = 0


class SpillStore:
    """Thread-safe key -> pa.Table store under one memory budget, spilling to disk.

    The budget covers the tables held here *and* the reservations of running tasks
    (:meth:`reserve`): when the two together exceed ``memory_limit``, the least
    recently used tables are written to Arrow IPC files. Files are
    written outside the store's lock, so other threads keep reading and storing while
    one table is written; a table being written stays readable until it is on disk.

    A task that will be the last reader of a table claims it (:meth:`claim`) when
    it is admitted: from then on the table counts in that task's reservation instead of
    here and is never spilled, and the task takes it (:meth:`take`), reading it back
    from disk if it was spilled before the claim.

    Parameters
    ----------
    memory_limit : int
        Bytes of stored tables plus running tasks' reservations kept in memory.
    spill_dir : str, optional
        Parent directory for this store's private spill directory.
    spill_limit : int, optional
        Most bytes this store may write to disk; more raises :class:`SpillError`.
    on_spill : callable, optional
        ``on_spill(key, nbytes, seconds)`` after each table is written to disk (the
        runner counts it for the key's stage and alerts the user).
    """

    def __init__(
        self,
        memory_limit: int,
        spill_dir: str | None = None,
        spill_limit: int | None = None,
        on_spill: Callable[[Hashable, int, float], None] | None = None,
    ) -> None:
        self.memory_limit = memory_limit
        self.on_spill = on_spill
        self.spill_limit = spill_limit
        self._parent = spill_dir or tempfile.gettempdir()
        self._dir: str | None = None
        self._memory: OrderedDict[Hashable, pa.Table] = OrderedDict()  # spillable
        self._writing: dict[Hashable, pa.Table] = {}  # being written to disk
        self._claimed: dict[Hashable, pa.Table | None] = {}  # None: claimed while on disk
        self._disk: dict[Hashable, tuple[str, int]] = {}
        self._sizes: dict[Hashable, int] = {}
        self._memory_bytes = 0  # _memory and _writing
        self._writing_bytes = 0
        self._disk_bytes = 0
        self._reserved = 0
        self._lock = threading.RLock()
        self._counter = 0
        self.stats = SpillStats()

    # -- public ---------------------------------------------------------------------
    @property
    def memory_bytes(self) -> int:
        """Bytes of stored tables in memory (claimed ones count in their reservation)."""
        return self._memory_bytes

    @property
    def reserved_bytes(self) -> int:
        return self._reserved

    @property
    def disk_bytes(self) -> int:
        return self._disk_bytes

    def nbytes(self, key: Hashable) -> int:
        """In-memory size of the table under ``key``, wherever it is now."""
        with self._lock:
            return self._sizes[key]

    def reserve(self, nbytes: int, make_room: bool = True) -> None:
        """Count ``nbytes`` for a starting task; spills stored tables to make room (or
        leaves that to a :meth:`make_room` call of the task's own thread)."""
        with self._lock:
            self._reserved += nbytes
        if make_room:
            self._make_room()

    def make_room(self) -> None:
        """Spill least recently used tables until stored + reserved bytes fit."""
        self._make_room()

    def release(self, nbytes: int) -> None:
        """Return a finished (or failed) task's reservation."""
        with self._lock:
            self._reserved = max(0, self._reserved - nbytes)

    def put(self, key: Hashable, table: pa.Table, release: int = 0) -> None:
        """Store ``table`` (and return ``release`` reserved bytes of the task that made
        it); may spill the least recently used tables to stay within the budget."""
        nbytes = table.nbytes  # computed over the buffers on every call: once
        with self._lock:
            self._memory[key] = table
            self._sizes[key] = nbytes
            self._memory_bytes += nbytes
            self._reserved = max(0, self._reserved - release)
        self._make_room()

    def get(self, key: Hashable) -> pa.Table:
        """The table stored under ``key`` (read back from disk if it was spilled)."""
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
            table = self._writing.get(key, self._claimed.get(key))
            if table is not None:
                return table
            path, _ = self._disk[key]
        return self._read(path)

    def claim(self, key: Hashable) -> int:
        """Hand ``key``'s table over to the task that will :meth:`take` it; returns its
        in-memory size, which that task's reservation now covers."""
        with self._lock:
            if key in self._claimed:
                return self._sizes[key]
            self._claimed[key] = self._pop_resident(key)  # None: on disk, read by take()
            return self._sizes[key]

    def take(self, key: Hashable) -> pa.Table:
        """Remove ``key`` and return its table (claimed or not)."""
        with self._lock:
            if key not in self._claimed:
                self.claim(key)
            table = self._claimed.pop(key)
            self._sizes.pop(key, None)
            entry = self._disk.pop(key, None) if table is None else None
        if entry is None:
            return table  # type: ignore[return-value]
        try:
            return self._read(entry[0])
        finally:
            with self._lock:
                self._disk_bytes -= entry[1]
            _unlink(entry[0])

    def delete(self, key: Hashable) -> None:
        """Forget ``key`` and remove its spill file."""
        with self._lock:
            self._sizes.pop(key, None)
            if self._pop_resident(key) is not None:
                return
            self._claimed.pop(key, None)
            entry = self._disk.pop(key, None)
            if entry is not None:
                self._disk_bytes -= entry[1]
        if entry is not None:
            _unlink(entry[0])

    def _pop_resident(self, key: Hashable) -> pa.Table | None:
        """Remove ``key``'s table from the in-memory ones (spillable or being written;
        a write under way then drops its file) and from their byte count."""
        table = self._memory.pop(key, None)
        if table is None:
            table = self._writing.pop(key, None)
            if table is not None:
                self._writing_bytes -= table.nbytes
        if table is not None:
            self._memory_bytes -= table.nbytes
        return table

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._sizes

    def record_kernel_spill(self, nbytes: int, objects: int, seconds: float) -> None:
        """Count what a kernel spilled itself (an out-of-core sort, join or aggregation)."""
        with self._lock:
            self.stats.spilled_bytes += nbytes
            self.stats.spilled_objects += objects
            self.stats.write_seconds += seconds

    def close(self) -> None:
        """Drop every entry and delete the spill directory."""
        with self._lock:
            self._memory.clear()
            self._writing.clear()
            self._claimed.clear()
            self._disk.clear()
            self._sizes.clear()
            self._memory_bytes = self._disk_bytes = self._writing_bytes = self._reserved = 0
            directory, self._dir = self._dir, None
        _OPEN_STORES.discard(self)
        if directory:
            remove_private_dir(directory)

    # -- spilling ---------------------------------------------------------------------
    def _make_room(self) -> None:
        """Spill least recently used tables until stored + reserved bytes fit the limit.

        Victims are chosen under the lock, counting what other threads are already
        writing, and written outside it.
        """
        with self._lock:
            excess = self._memory_bytes - self._writing_bytes + self._reserved - self.memory_limit
            # Chosen without copying the keys: a store of thousands of buckets (a sort's
            # exchange) is asked after every put, mostly with nothing to spill.
            chosen = []
            if excess > 0:
                for key in self._memory:  # least recently used first
                    size = self._sizes[key]
                    if size == 0:
                        continue  # nothing to gain from writing an empty table
                    chosen.append(key)
                    excess -= size
                    if excess <= 0:
                        break
            victims = []
            for key in chosen:
                table = self._memory.pop(key)
                self._writing[key] = table
                self._writing_bytes += table.nbytes
                victims.append((key, table))
        for i, (key, table) in enumerate(victims):
            try:
                path, size, seconds = self._write(table)
            except BaseException:
                with self._lock:  # nothing lost: the unwritten tables stay in memory
                    for k, t in victims[i:]:
                        if self._writing.pop(k, None) is not None:
                            self._writing_bytes -= t.nbytes
                            self._memory[k] = t
                raise
            self._written(key, table, path, size, seconds)
            if self.on_spill is not None:
                self.on_spill(key, table.nbytes, seconds)

    def _written(
        self, key: Hashable, table: pa.Table, path: str, size: int, seconds: float
    ) -> None:
        with self._lock:
            self.stats.spilled_bytes += table.nbytes
            self.stats.spilled_objects += 1
            self.stats.write_seconds += seconds
            if self._writing.get(key) is table:
                del self._writing[key]
                self._writing_bytes -= table.nbytes
                self._memory_bytes -= table.nbytes
                self._disk[key] = (path, size)
                self._disk_bytes += size
                return
        _unlink(path)  # claimed, taken or deleted while it was being written

    def _directory(self) -> str:
        with self._lock:
            if self._dir is None:
                if os.path.exists(self._parent) and not os.path.isdir(self._parent):
                    raise SpillError(
                        f"cannot spill to {self._parent!r}: it is a file, not a directory; "
                        + REMEDIES
                    )
                try:
                    self._dir = private_dir(self._parent, "spill")
                except OSError as exc:
                    raise SpillError(
                        f"cannot create a spill directory in {self._parent!r} "
                        f"({exc.strerror or exc}); " + REMEDIES
                    ) from None
                _OPEN_STORES.add(self)
            return self._dir

    def _write(self, table: pa.Table) -> tuple[str, int, float]:
        directory = self._directory()
        needed = table.nbytes
        with self._lock:
            if self.spill_limit is not None and self._disk_bytes + needed > self.spill_limit:
                raise SpillError(
                    f"spilling {format_bytes(needed)} to {directory!r} would exceed its limit "
                    f"of {format_bytes(self.spill_limit)} ({format_bytes(self._disk_bytes)} "
                    "used); raise spill_limit=, or " + REMEDIES
                )
            self._counter += 1
            path = os.path.join(directory, f"{self._counter:08d}.arrow")
        free = shutil.disk_usage(directory).free
        if free < needed:
            raise SpillError(_no_space(directory, needed, free, self._disk_bytes))
        start = time.perf_counter()
        try:
            # Written on this thread: Arrow's pool threads would allocate the buffers in
            # their own allocator heaps, which nothing returns to the OS.
            options = pa.ipc.IpcWriteOptions(compression=SPILL_COMPRESSION, use_threads=False)
            with (
                pa.OSFile(path, "wb") as sink,
                pa.ipc.new_file(sink, table.schema, options=options) as writer,
            ):
                writer.write_table(table)
        except OSError as exc:
            _unlink(path)
            if "No space left" in str(exc) or getattr(exc, "errno", None) == errno.ENOSPC:
                free = shutil.disk_usage(directory).free
                raise SpillError(_no_space(directory, needed, free, self._disk_bytes)) from None
            raise SpillError(
                f"cannot spill {format_bytes(needed)} to {directory!r}: {exc}; " + REMEDIES
            ) from None
        return path, os.path.getsize(path), time.perf_counter() - start

    def _read(self, path: str) -> pa.Table:
        with pa.memory_map(path) as source:
            table = pa.ipc.open_file(source, options=_READ_OPTIONS).read_all()
        with self._lock:
            self.stats.unspilled_objects += 1
        return table


#: What a user can do when spilling fails, named in every SpillError.
REMEDIES = (
    "pass spill_dir= a directory on a disk with room, raise memory_limit= so that less "
    "is spilled, or filter early (where) and use into_partitions to make partitions smaller"
)

# Stores that made a spill directory and have not closed: closed at interpreter exit,
# so a query left running (an iterator never finished) leaves no files behind.
_OPEN_STORES: weakref.WeakSet[SpillStore] = weakref.WeakSet()


@atexit.register
def _close_open_stores() -> None:
    for store in list(_OPEN_STORES):
        store.close()


def _no_space(directory: str, needed: int, free: int, used: int) -> str:
    return (
        f"no space left in {directory!r} to spill {format_bytes(needed)} more "
        f"({format_bytes(used)} spilled there by this query, {format_bytes(free)} free); "
        + REMEDIES
    )


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
