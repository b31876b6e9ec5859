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
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError
from dataclasses import dataclass, field

try:
    import fcntl
except ImportError:  # Windows: no flock; the pid check alone decides
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "MemoryGrant",
    "current_grant",
    "granted",
    "check_cancelled",
    "private_dir",
    "remove_private_dir",
    "sweep_stale_dirs",
    "SPILL_COMPRESSION",
]

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
    cancel : threading.Event, optional
        Set by the runner when the query stops (interrupted, failed, or its consumer
        went away); long kernels call :func:`check_cancelled` between batches. It does
        not travel to other processes.
    """

    limit: int
    spill_dir: str | None = None
    cancel: threading.Event | None = field(default=None, repr=False, compare=False)
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
        state["cancel"] = None
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
        path = private_dir(self.spill_dir or tempfile.gettempdir(), "kernel")
        try:
            yield path
        finally:
            remove_private_dir(path)


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


def check_cancelled() -> None:
    """Raise ``concurrent.futures.CancelledError`` when the running task's query was
    stopped; a no-op outside a runner. Kernels call it between batches.

    >>> check_cancelled()  # no grant: nothing to stop
    """
    grant = _GRANT.get()
    if grant is not None and grant.cancel is not None and grant.cancel.is_set():
        raise CancelledError("the query was stopped")


# -- private spill directories ------------------------------------------------------------

#: ``spillframe-<kind>-<pid>-<random>``: the pid says whose directory it is, so a later
#: process can remove the directories of one that crashed.
_DIR_PATTERN = re.compile(r"^spillframe-(?:spill|kernel)-(\d+)-")
#: Held (flock) by the owner for the directory's lifetime: a process in another pid
#: namespace (a container sharing the directory) has pids this one cannot see, and its
#: lock is what keeps a sweep away from its live files.
_OWNER_LOCK = ".owner.lock"
#: A directory without a lock file is swept only this old (it may be being created).
_UNLOCKED_GRACE_SECONDS = 60.0
_SWEPT: set[str] = set()
_SWEPT_LOCK = threading.Lock()
_HELD: dict[str, int] = {}  # directory -> its lock's file descriptor


def private_dir(parent: str, kind: str) -> str:
    """A new 0700 directory ``spillframe-<kind>-<pid>-*`` under ``parent`` (created if
    missing), locked by this process until :func:`remove_private_dir`. The first one a
    process makes in a parent first removes the directories left there by spillframe
    processes that are gone (crashed or killed).

    >>> import shutil, tempfile
    >>> parent = tempfile.mkdtemp()
    >>> path = private_dir(parent, "spill")
    >>> oct(os.stat(path).st_mode & 0o777), os.path.basename(path).startswith("spillframe-spill-")
    ('0o700', True)
    >>> remove_private_dir(path); os.listdir(parent)
    []
    >>> shutil.rmtree(parent)
    """
    os.makedirs(parent, exist_ok=True)
    with _SWEPT_LOCK:
        first = parent not in _SWEPT
        _SWEPT.add(parent)
    if first:
        sweep_stale_dirs(parent)
    path = tempfile.mkdtemp(prefix=f"spillframe-{kind}-{os.getpid()}-", dir=parent)
    fd = os.open(os.path.join(path, _OWNER_LOCK), os.O_CREAT | os.O_RDWR, 0o600)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with _SWEPT_LOCK:
        _HELD[path] = fd
    return path


def remove_private_dir(path: str) -> None:
    """Remove a directory made by :func:`private_dir` and release its lock."""
    with _SWEPT_LOCK:
        fd = _HELD.pop(path, None)
    shutil.rmtree(path, ignore_errors=True)
    if fd is not None:
        os.close(fd)


def sweep_stale_dirs(parent: str) -> list[str]:
    """Remove the spill directories under ``parent`` whose owner process is gone;
    returns the paths removed. Directories of live processes are left alone: those
    whose pid is alive here, and those whose owner still holds their lock (a process
    this one cannot see)."""
    removed: list[str] = []
    try:
        entries = os.listdir(parent)
    except OSError:
        return removed
    for entry in entries:
        match = _DIR_PATTERN.match(entry)
        if match is None or _alive(int(match.group(1))):
            continue
        path = os.path.join(parent, entry)
        if _owner_holds(path):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _owner_holds(path: str) -> bool:
    """Whether a live process holds ``path``'s lock (or may be creating it)."""
    try:
        fd = os.open(os.path.join(path, _OWNER_LOCK), os.O_RDWR)
    except FileNotFoundError:
        try:
            age = time.time() - os.stat(path).st_mtime
        except OSError:
            return True
        return age < _UNLOCKED_GRACE_SECONDS
    except OSError:
        return True
    try:
        if fcntl is None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True
