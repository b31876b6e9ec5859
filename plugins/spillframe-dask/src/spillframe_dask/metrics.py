"""What each task did, from the workers to the client's query stats and progress bars.

On a worker, :func:`report_task` publishes one event per finished plan task on
:data:`TASK_TOPIC`: its key, start and end time, rows and bytes out, the memory it
was granted and what its kernel spilled. The scheduler forwards a worker's events to
the subscribed client in the order the worker sent them, and before it tells the
client of any result computed after them; so when a query's last output partition
arrives, the events of every task it needed have been handled.

On the client, a :class:`QueryMonitor` routes those events (and the spill events of
:mod:`spillframe_dask.spill`) to the running query whose token is in the task key:
its :class:`~spillframe.runners.stats.QueryRecorder` and its progress bars.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from spillframe.runners.alerts import spill_alert

if TYPE_CHECKING:
    from spillframe.runners.stats import QueryRecorder
    from spillframe_dask.graph import DaskGraph

TASK_TOPIC = "spillframe-task"


def key_name(key: Any) -> str:
    """The name of a Dask key: its first element when it is a tuple (or, as the
    scheduler's events carry keys, a list)."""
    return key[0] if isinstance(key, (tuple, list)) else str(key)


def report_task(start: float, outputs: list[Any], grant: Any, key: Any = None) -> None:
    """Publish what a plan task did on this worker (nothing outside a worker); ``key``
    names it, the running Dask task's key by default."""
    try:
        from distributed import get_worker

        worker = get_worker()
        if key is None:
            key = worker.get_current_task()
    except (ValueError, KeyError, AttributeError):
        return
    tables = [t for t in outputs if isinstance(t, pa.Table)]
    event = {
        "key": list(key) if isinstance(key, tuple) else key,
        "start": start,
        "end": time.time(),
        "rows": sum(t.num_rows for t in tables),
        "bytes": sum(t.nbytes for t in tables),
        "reserved": grant.limit if grant is not None else 0,
        "spilled_bytes": grant.spilled_bytes if grant is not None else 0,
        "spilled_objects": grant.spilled_objects if grant is not None else 0,
        "spill_seconds": grant.write_seconds if grant is not None else 0.0,
        "worker": worker.address,
    }
    worker.log_event(TASK_TOPIC, event)


def token_and_stage(group: str) -> tuple[str, int] | None:
    """``("<token>", 3)`` from a key name ``hash-join-<token>-3`` (or a bucket's
    ``hash-split-bucket-<token>-3``); None for keys that are not spillframe's.

    Examples
    --------
    >>> token_and_stage("hash-join-0123456789abcde0-3")
    ('0123456789abcde0', 3)
    >>> token_and_stage("sum-aggregate-abc") is None
    True
    """
    parts = group.rsplit("-", 2)
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


@dataclass
class _Watched:
    graph: DaskGraph
    recorder: QueryRecorder
    bars: dict[int, Any] = field(default_factory=dict)


class QueryMonitor:
    """The client's view of the queries it runs: routes worker events to them."""

    def __init__(self) -> None:
        self._queries: dict[str, _Watched] = {}
        self._lock = threading.Lock()

    def watch(self, graph: DaskGraph, recorder: QueryRecorder, bars: dict[int, Any]) -> None:
        with self._lock:
            self._queries[graph.token] = _Watched(graph, recorder, bars)

    def unwatch(self, token: str) -> None:
        with self._lock:
            watched = self._queries.pop(token, None)
        if watched is not None:
            for bar in watched.bars.values():
                bar.close()

    def _query(self, token: str) -> _Watched | None:
        with self._lock:
            return self._queries.get(token)

    def on_task(self, event: tuple[float, dict[str, Any]]) -> None:
        """Handler of :data:`TASK_TOPIC` events."""
        _, msg = event
        key = tuple(msg["key"]) if isinstance(msg["key"], list) else msg["key"]
        found = token_and_stage(key_name(key))
        watched = self._query(found[0]) if found else None
        if watched is None:
            return
        stage_id = found[1]
        recorder = watched.recorder
        recorder.task_finished(
            stage_id, msg["start"], msg["end"], msg["rows"], msg["bytes"], msg["reserved"]
        )
        if msg["spilled_objects"]:
            recorder.spilled(
                stage_id,
                msg["spilled_bytes"],
                msg["spilled_objects"],
                msg["spill_seconds"],
                msg["worker"],
            )
        bar = watched.bars.get(stage_id)
        if bar is not None:
            bar.update(1)

    def on_spill(self, event: tuple[float, dict[str, Any]]) -> str | None:
        """Handler of spill events: count them for the queries and stages whose data
        went to disk and alert through their recorders; a line without a query when
        none is known (returned, and logged by the caller)."""
        _, msg = event
        by_query: dict[str, dict[int, tuple[float, int]]] = {}
        for group, (nbytes, count) in (msg.get("groups") or {}).items():
            found = token_and_stage(group)
            if found is not None and self._query(found[0]) is not None:
                stages = by_query.setdefault(found[0], {})
                old = stages.get(found[1], (0.0, 0))
                stages[found[1]] = (old[0] + nbytes, old[1] + count)
        if not by_query:
            with self._lock:
                only = list(self._queries) if len(self._queries) == 1 else []
            if only:  # keys spilled and gone between two looks: the one running query's
                by_query[only[0]] = {-1: (msg["bytes"], int(msg["count"]))}
        if not by_query:
            return spill_alert(msg["bytes"], msg["count"], msg["seconds"], msg["worker"])
        total = sum(b for stages in by_query.values() for b, _ in stages.values()) or 1
        for token, stages in by_query.items():
            watched = self._query(token)
            if watched is None:
                continue
            for stage_id, (nbytes, count) in stages.items():
                watched.recorder.spilled(
                    stage_id if stage_id >= 0 else None,
                    int(nbytes),
                    count,
                    msg["seconds"] * nbytes / total,
                    msg["worker"],
                )
            watched.recorder.alert()
        return None

    def count_lost_workers(self, client: Any, token: str) -> None:
        """Count the workers removed (not retired) since the query started, and the
        stages whose tasks they were running."""
        watched = self._query(token)
        if watched is None:
            return
        with contextlib.suppress(Exception):  # the scheduler may be gone already
            for when, msg in client.get_events("all"):
                if when < watched.recorder.started or not isinstance(msg, dict):
                    continue
                if msg.get("action") != "remove-worker" or msg.get("expected"):
                    continue
                stages = []
                for key in msg.get("processing-tasks") or ():
                    found = token_and_stage(key_name(key))
                    if found is not None and found[0] == token:
                        stages.append(found[1])
                if stages:  # a worker running none of this query's tasks is another's loss
                    watched.recorder.worker_lost(stages)
