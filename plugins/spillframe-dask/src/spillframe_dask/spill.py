"""Spill alerts: workers report what they wrote to disk, the client logs it.

Each worker's :class:`SpillReporter` polls the counters its ``SpillBuffer``
keeps of disk writes (``cumulative_metrics[("disk-write", ...)]``, fed both when
managed memory passes the ``target`` threshold and when the memory monitor
evicts past ``spill``). At most once per ``interval`` seconds it publishes what
was written since its last report as a worker event on :data:`TOPIC`, with the keys
that went to disk since then grouped by key name (``hash-join-<token>-3``: query
and stage). The keys are taken as they are written (the buffer's
``fast_to_slow_callbacks``), not by looking at the disk later: a key spilled, read
back and released between two looks would otherwise be counted by no stage. The
client turns each event into one line on the ``spillframe`` logger (see
:class:`spillframe_dask.metrics.QueryMonitor`)::

    Spilled 340 MiB, 12 objects, write throughput 576 MiB/s (worker tcp://..., query q3, stage hash-join)
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from dask.sizeof import sizeof
from distributed.diagnostics.plugin import WorkerPlugin
from tornado.ioloop import PeriodicCallback

from spillframe.runners.alerts import spill_alert
from spillframe_dask.metrics import key_name

logger = logging.getLogger("spillframe")

TOPIC = "spillframe-spill"
MIB = 1024**2


@dataclass(frozen=True, slots=True)
class SpillCounters:
    """Cumulative disk writes of one worker's spill buffer."""

    bytes: float = 0.0
    count: float = 0.0
    seconds: float = 0.0

    def __sub__(self, other: SpillCounters) -> SpillCounters:
        return SpillCounters(
            self.bytes - other.bytes, self.count - other.count, self.seconds - other.seconds
        )


def read_counters(data: Any) -> SpillCounters | None:
    """The spill counters of ``worker.data``; None when it does not spill."""
    metrics = getattr(data, "cumulative_metrics", None)
    if metrics is None:
        return None
    return SpillCounters(
        metrics.get(("disk-write", "bytes"), 0.0),
        metrics.get(("disk-write", "count"), 0.0),
        metrics.get(("disk-write", "seconds"), 0.0),
    )


def format_alert(event: dict[str, Any]) -> str:
    """The log line for one spill event of no known query.

    Examples
    --------
    >>> format_alert({"bytes": 1690 * MIB, "count": 9, "seconds": 1690 / 576,
    ...               "worker": "tcp://127.0.0.1:4000"})
    'Spilled 1690 MiB, 9 objects, write throughput 576 MiB/s (worker tcp://127.0.0.1:4000)'
    """
    return spill_alert(event["bytes"], event["count"], event["seconds"], event["worker"])


class SpilledKeys:
    """The keys a worker's spill buffer writes to disk, grouped by key name, as
    ``{key name: [bytes, count]}`` (bytes as the worker measured them in memory).

    Called by the buffer from whichever thread evicts (a task's, the memory
    monitor's), hence the lock; :meth:`take` hands over and forgets what was seen.
    """

    def __init__(self, worker: Any) -> None:
        self._worker = worker
        self._lock = threading.Lock()
        self._groups: dict[str, list[float]] = {}

    def __call__(self, key: Any, value: Any) -> None:
        state = self._worker.state.tasks.get(key)
        nbytes = getattr(state, "nbytes", None) or sizeof(value)
        with self._lock:
            entry = self._groups.setdefault(key_name(key), [0.0, 0])
            entry[0] += nbytes
            entry[1] += 1

    def take(self) -> dict[str, list[float]]:
        with self._lock:
            groups, self._groups = self._groups, {}
        return groups


class SpillReporter(WorkerPlugin):
    """Publishes a worker's spilling at most once every ``interval`` seconds.

    Parameters
    ----------
    interval : float
        Minimum seconds between two reports of one worker.
    poll : float
        Seconds between two looks at the counters.
    """

    name = "spillframe-spill-reporter"
    idempotent = True

    def __init__(self, interval: float = 5.0, poll: float = 0.5) -> None:
        self.interval = interval
        self.poll = poll
        self._worker: Any = None
        self._callback: PeriodicCallback | None = None
        self._reported = SpillCounters()
        self._last_report = float("-inf")
        self._spilled: SpilledKeys | None = None

    def setup(self, worker: Any) -> None:
        # Importing the plugin's package registers the compact-table sizeof here too.
        import spillframe_dask.partitions  # noqa: F401

        self._worker = worker
        self._reported = read_counters(worker.data) or SpillCounters()
        callbacks = getattr(worker.data, "fast_to_slow_callbacks", None)
        if callbacks is not None:
            self._spilled = SpilledKeys(worker)
            callbacks.append(self._spilled)
        self._callback = PeriodicCallback(self.check, self.poll * 1000)
        self._callback.start()

    def teardown(self, worker: Any) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
        callbacks = getattr(worker.data, "fast_to_slow_callbacks", None)
        if self._spilled is not None and callbacks is not None and self._spilled in callbacks:
            callbacks.remove(self._spilled)

    def check(self) -> None:
        """Publish what was spilled since the last report, if it is time to."""
        event = self.report()
        if event is not None:
            self._worker.log_event(TOPIC, event)

    def report(self, force: bool = False) -> dict[str, Any] | None:
        """What was spilled since the last report, when there is some and the interval
        passed (or ``force``); it then counts as reported."""
        counters = read_counters(self._worker.data)
        if counters is None:
            return None
        new = counters - self._reported
        now = time.monotonic()
        if new.count <= 0 or (not force and now - self._last_report < self.interval):
            return None
        self._reported, self._last_report = counters, now
        groups = self._spilled.take() if self._spilled is not None else {}
        return {
            "bytes": new.bytes,
            "count": new.count,
            "seconds": new.seconds,
            "worker": self._worker.address,
            "groups": groups,
        }


def flush_spill_report(dask_worker: Any) -> dict[str, Any] | None:
    """Run on a worker (``client.run``) when a query ends: what it spilled since its
    last report, so that the query's stats and alerts include it."""
    plugin = dask_worker.plugins.get(SpillReporter.name)
    return plugin.report(force=True) if plugin is not None else None
