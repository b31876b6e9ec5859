"""Planner settings: partition sizes and join thresholds.

Examples
--------
>>> import spillframe as sf
>>> with sf.config.configure(partition_bytes=1 << 20):
...     sf.config.get_config().partition_bytes
1048576
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class Config:
    """Planner settings (immutable; change them with :func:`set_config` or :func:`configure`).

    Attributes
    ----------
    partition_bytes : int
        Target in-memory size of one partition; scans and exchanges are sized by it.
    broadcast_join_bytes : int
        A join side estimated below this many bytes is broadcast instead of shuffled;
        0 turns broadcast joins off.
    broadcast_index_bytes : int
        A larger threshold for a join side whose key is one integer-like column (a
        dimension table's primary key, in the usual case): each task of the other side
        indexes it once by key and streams past it, so it costs its own bytes and a
        lookup array, not a hash table rebuilt per chunk. Runners suggest a share of
        their memory budget (the py runner: half of ``memory_limit``); never below
        ``broadcast_join_bytes``.
    sort_samples_per_partition : int
        Rows sampled from each partition to choose a sort's range boundaries.
    max_exchange_partitions : int
        Upper bound on the partition count an exchange picks by itself.
    parallelism : int
        Partitions a scan or exchange aims for when its data is small enough to fit in
        fewer (default: the number of CPUs), so that every core has work.
    min_partition_bytes : int
        Smallest partition worth splitting off for parallelism.
    """

    partition_bytes: int = 128 * MiB
    broadcast_join_bytes: int = 16 * MiB
    broadcast_index_bytes: int = 16 * MiB
    sort_samples_per_partition: int = 1024
    max_exchange_partitions: int = 512
    parallelism: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)
    min_partition_bytes: int = 8 * MiB

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or value < (
                0 if field.name.startswith("broadcast_") else 1
            ):
                raise ValueError(f"config {field.name} must be a positive int, got {value!r}")

    def partitions_for(self, nbytes: int) -> int:
        """Partitions for ``nbytes`` of data: ``nbytes / partition_bytes``, raised towards
        ``parallelism`` while each part keeps at least ``min_partition_bytes``, and
        rounded up to a multiple of ``parallelism`` so that no core idles in the last
        round (3 partitions on 2 cores take as long as 4)."""
        by_size = -(-nbytes // self.partition_bytes)
        if by_size > self.parallelism:
            by_size = -(-by_size // self.parallelism) * self.parallelism
        for_cores = min(self.parallelism, nbytes // self.min_partition_bytes)
        return int(max(1, min(max(by_size, for_cores), self.max_exchange_partitions)))


# The session's settings (set_config outside any configure block, seen by every thread)
# and, per thread (context), the stack of configure blocks entered there: a block changes
# only the queries its own thread plans, so threads planning at once do not mix settings.
_Level = tuple[Config, frozenset[str]]  # the settings, and the names the user set
_SESSION: list[_Level] = [(Config(), frozenset())]
_SESSION_LOCK = threading.Lock()
_BLOCKS: contextvars.ContextVar[tuple[_Level, ...]] = contextvars.ContextVar(
    "spillframe_config_blocks", default=()
)


def _current() -> _Level:
    blocks = _BLOCKS.get()
    return blocks[-1] if blocks else _SESSION[0]


def get_config() -> Config:
    """The settings in force (in this thread's innermost ``configure`` block, if any)."""
    return _current()[0]


def set_config(**changes: Any) -> Config:
    """Change settings for the rest of the session (or, inside a ``configure`` block, for
    the rest of the block); unknown names raise TypeError."""
    valid = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(changes) - valid)
    if unknown:
        raise TypeError(f"unknown config option(s) {unknown}; valid: {sorted(valid)}")
    blocks = _BLOCKS.get()
    if blocks:
        config, explicit = blocks[-1]
        level = (dataclasses.replace(config, **changes), explicit | set(changes))
        _BLOCKS.set((*blocks[:-1], level))
        return level[0]
    with _SESSION_LOCK:
        config, explicit = _SESSION[0]
        _SESSION[0] = (dataclasses.replace(config, **changes), explicit | set(changes))
        return _SESSION[0][0]


def with_defaults(suggested: dict[str, Any]) -> Config:
    """The settings in force, with ``suggested`` values for the options the user did not
    set (a runner suggests partition sizes that fit its workers, for example).

    >>> with configure(partition_bytes=1 << 20):
    ...     with_defaults({"partition_bytes": 8 << 20, "parallelism": 3}).partition_bytes
    1048576
    >>> with_defaults({"parallelism": 3}).parallelism
    3
    """
    config, explicit = _current()
    free = {k: v for k, v in suggested.items() if k not in explicit}
    return dataclasses.replace(config, **free) if free else config


@contextlib.contextmanager
def configure(**changes: Any) -> Iterator[Config]:
    """Change settings inside a ``with`` block only, for queries planned in this thread
    (other threads keep the session's settings).

    >>> import threading
    >>> seen, outside = [], get_config().partition_bytes
    >>> with configure(partition_bytes=12345):
    ...     t = threading.Thread(target=lambda: seen.append(get_config().partition_bytes))
    ...     t.start(); t.join()
    ...     seen.append(get_config().partition_bytes)
    >>> seen == [outside, 12345]
    True
    """
    outer = _BLOCKS.get()
    _BLOCKS.set((*outer, _current()))
    try:
        yield set_config(**changes)
    finally:
        _BLOCKS.set(outer)
