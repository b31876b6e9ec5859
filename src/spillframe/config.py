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
import dataclasses
import os
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
        A join side estimated below this many bytes is broadcast instead of shuffled.
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
    sort_samples_per_partition: int = 1024
    max_exchange_partitions: int = 512
    parallelism: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)
    min_partition_bytes: int = 8 * MiB

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or value < (
                0 if field.name == "broadcast_join_bytes" else 1
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


_CONFIG = [Config()]
_EXPLICIT: list[frozenset[str]] = [frozenset()]  # names set by the user, per level


def get_config() -> Config:
    """The settings in force."""
    return _CONFIG[-1]


def set_config(**changes: Any) -> Config:
    """Change settings for the rest of the session; unknown names raise TypeError."""
    valid = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(changes) - valid)
    if unknown:
        raise TypeError(f"unknown config option(s) {unknown}; valid: {sorted(valid)}")
    _CONFIG[-1] = dataclasses.replace(_CONFIG[-1], **changes)
    _EXPLICIT[-1] = _EXPLICIT[-1] | set(changes)
    return _CONFIG[-1]


def with_defaults(suggested: dict[str, Any]) -> Config:
    """The settings in force, with ``suggested`` values for the options the user did not
    set (a runner suggests partition sizes that fit its workers, for example).

    >>> with configure(partition_bytes=1 << 20):
    ...     with_defaults({"partition_bytes": 8 << 20, "parallelism": 3}).partition_bytes
    1048576
    >>> with_defaults({"parallelism": 3}).parallelism
    3
    """
    free = {k: v for k, v in suggested.items() if k not in _EXPLICIT[-1]}
    return dataclasses.replace(_CONFIG[-1], **free) if free else _CONFIG[-1]


@contextlib.contextmanager
def configure(**changes: Any) -> Iterator[Config]:
    """Change settings inside a ``with`` block only."""
    _CONFIG.append(_CONFIG[-1])
    _EXPLICIT.append(_EXPLICIT[-1])
    try:
        yield set_config(**changes)
    finally:
        _CONFIG.pop()
        _EXPLICIT.pop()
