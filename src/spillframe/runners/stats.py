"""What a query did, stage by stage: the facts behind ``df.stats()`` and
``explain(analyze=True)``.

A runner fills one :class:`QueryRecorder` per query: a line per finished task (its
stage, start and end time, rows and bytes out, the memory it reserved), spilled
bytes as they happen, and lost workers. :meth:`QueryRecorder.finish` turns that into
an immutable :class:`QueryStats`. Times are wall-clock seconds (``time.time()``), so
tasks timed in other processes (Dask workers on one machine or NTP-synced ones) line
up with the client's.

Examples
--------
>>> from spillframe.physical.plan import PhysicalPlan, Stage, Task
>>> plan = PhysicalPlan({0: Stage(0, "scan-parquet", [Task(len, (), "scan-parquet")])}, 0)
>>> recorder = QueryRecorder(plan, runner="py")
>>> recorder.task_finished(0, start=10.0, end=10.5, rows=100, nbytes=800, reserved=4096)
>>> stats = recorder.finish()
>>> stats.stage(0).rows_out, stats.stage(0).peak_reserved_bytes
(100, 4096)
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from spillframe.physical.plan import PhysicalPlan
from spillframe.runners.alerts import SPILL_REMEDIES, spill_alert
from spillframe.units import format_bytes

logger = logging.getLogger("spillframe")

_QUERY_IDS = itertools.count(1)
#: At most one spill alert per worker this often (seconds), on every runner.
ALERT_INTERVAL_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class StageStats:
    """What one stage did (actuals) next to what the planner expected (estimates).

    Attributes
    ----------
    stage_id, name : int, str
        The plan's stage id and operator word (``scan-parquet``, ``hash-join``...).
    planned_tasks, tasks : int
        Tasks in the plan needed for the output; tasks that finished (a task run
        again after a lost worker counts once per run).
    wall_seconds : float
        From the first task's start to the last task's end.
    task_seconds : float
        Sum of the tasks' run times.
    rows_out, bytes_out : int
        Rows and in-memory bytes of every output the tasks produced (all buckets
        of a split).
    peak_reserved_bytes : int
        The most memory this stage's running tasks held reserved at one moment (the
        sum of their grants over tasks that overlapped in time). A grant is the plan's
        estimate refined by the runner: on ``py`` at least a thread's share of half
        the ``memory_limit``, at most all of it; on Dask what the worker had left,
        at least 1/16 of its memory limit.
    spilled_bytes, spilled_objects : int
        In-memory bytes written to disk, and files/objects written: the stage's
        outputs evicted by the runner and its kernels' own out-of-core runs.
    worker_restarts : int
        Workers lost while running one of this stage's tasks (Dask; 0 on ``py``).
    estimated_bytes, estimated_rows : int or None
        The planner's estimates of the stage's output.
    estimated_task_memory : int
        The largest reservation the plan asks for one task (``per task: memory``).
    """

    stage_id: int
    name: str
    planned_tasks: int
    tasks: int = 0
    wall_seconds: float = 0.0
    task_seconds: float = 0.0
    rows_out: int = 0
    bytes_out: int = 0
    peak_reserved_bytes: int = 0
    spilled_bytes: int = 0
    spilled_objects: int = 0
    worker_restarts: int = 0
    estimated_bytes: int | None = None
    estimated_rows: int | None = None
    estimated_task_memory: int = 0


@dataclass(frozen=True, slots=True)
class QueryStats:
    """Per-stage statistics of one query run (see :class:`StageStats`).

    ``complete`` is False when the consumer stopped early (``show``, ``limit``) or
    the query failed: then some stages ran only part of their tasks.

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"a": [1, 2, 3]}).where(sf.col("a") > 1)
    >>> _ = df.collect()
    >>> stats = df.stats()
    >>> stats.rows_out, [s.name for s in stats.stages]
    (2, ['from-memory-filter'])
    >>> list(stats.to_pandas().columns[:4])
    ['stage', 'operator', 'tasks', 'wall_s']
    """

    query_id: str
    name: str
    runner: str
    wall_seconds: float
    stages: tuple[StageStats, ...]
    output_stage: int
    complete: bool = True
    worker_restarts: int = 0
    #: Spilled data no stage could be named for (on Dask: outputs that were written to
    #: disk and gone again between two looks of the worker's spill reporter).
    unattributed_spilled_bytes: int = 0
    unattributed_spilled_objects: int = 0

    def stage(self, stage_id: int) -> StageStats:
        """The stats of stage ``stage_id``."""
        for s in self.stages:
            if s.stage_id == stage_id:
                return s
        raise KeyError(
            f"no stage {stage_id} in query {self.query_id}; stages: "
            f"{[s.stage_id for s in self.stages]}"
        )

    @property
    def rows_out(self) -> int:
        """Rows of the query's result (its output stage)."""
        return self.stage(self.output_stage).rows_out

    @property
    def spilled_bytes(self) -> int:
        """Bytes the query spilled, of every stage (and of no known stage)."""
        return sum(s.spilled_bytes for s in self.stages) + self.unattributed_spilled_bytes

    @property
    def spilled_objects(self) -> int:
        return sum(s.spilled_objects for s in self.stages) + self.unattributed_spilled_objects

    def to_pandas(self) -> Any:
        """One row per stage: the columns of :meth:`rows`."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def rows(self) -> list[dict[str, Any]]:
        """One dict per stage, the table ``to_pandas``, ``repr`` and notebooks show."""
        out = []
        for s in self.stages:
            row: dict[str, Any] = {
                "stage": s.stage_id,
                "operator": s.name,
                "tasks": s.tasks,
                "wall_s": round(s.wall_seconds, 3),
                "rows_out": s.rows_out,
                "bytes_out": s.bytes_out,
                "peak_reserved": s.peak_reserved_bytes,
                "est_task_memory": s.estimated_task_memory,
                "spilled_bytes": s.spilled_bytes,
                "spilled_objects": s.spilled_objects,
            }
            if self.runner != "py":
                row["worker_restarts"] = s.worker_restarts
            out.append(row)
        return out

    def summary(self) -> str:
        """``query q3 (spillframe-sort-from-parquet) on py: 0.42 s, 98 rows, spilled 0 B``."""
        text = (
            f"query {self.query_id} ({self.name}) on {self.runner}: {self.wall_seconds:.3f} s, "
            f"{self.rows_out} rows, spilled {format_bytes(self.spilled_bytes)} "
            f"in {self.spilled_objects} objects"
        )
        if self.runner != "py":
            text += f", {self.worker_restarts} worker restarts"
        if not self.complete:
            text += " (stopped early: not every task ran)"
        return text

    def __repr__(self) -> str:
        rows = self.rows()
        byte_columns = {"bytes_out", "peak_reserved", "est_task_memory", "spilled_bytes"}
        cells = [
            [format_bytes(v) if k in byte_columns else str(v) for k, v in row.items()]
            for row in rows
        ]
        header = list(rows[0]) if rows else []
        widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(header)]
        lines = [self.summary()]
        lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        lines.extend("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells)
        return "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        import html

        body = self.to_pandas().to_html(index=False, border=0)
        return f"<p>{html.escape(self.summary())}</p>{body}"


@dataclass
class _StageLog:
    runs: list[tuple[float, float, int]] = field(default_factory=list)  # start, end, reserved
    rows: int = 0
    nbytes: int = 0
    spilled_bytes: int = 0
    spilled_objects: int = 0
    restarts: int = 0


@dataclass
class _Pending:
    """Spilling not yet alerted, of one worker."""

    nbytes: int = 0
    objects: int = 0
    seconds: float = 0.0
    stages: dict[int, int] = field(default_factory=dict)  # stage id -> bytes
    last: float = field(default_factory=time.monotonic)


class QueryRecorder:
    """Collects what one query's tasks did; thread-safe (pool threads, event loops).

    Parameters
    ----------
    plan : PhysicalPlan
        The plan being run (stage names and the planner's estimates).
    runner : str
        The runner's name, shown in the summary.
    alert_interval : float
        Seconds between two spill alerts of one worker.
    """

    def __init__(
        self, plan: PhysicalPlan, runner: str, alert_interval: float = ALERT_INTERVAL_SECONDS
    ) -> None:
        self.plan = plan
        self.runner = runner
        self.query_id = f"q{next(_QUERY_IDS)}"
        self.alert_interval = alert_interval
        self.started = time.time()
        self._planned: dict[int, int] = {}
        for stage_id, _ in plan.reachable():
            self._planned[stage_id] = self._planned.get(stage_id, 0) + 1
        self._stages: dict[int, _StageLog] = {sid: _StageLog() for sid in self._planned}
        self._pending: dict[str, _Pending] = {}
        self._alerted = False
        self._lock = threading.Lock()
        self.worker_restarts = 0
        self._unattributed = [0, 0]  # bytes, objects

    def stage_name(self, stage_id: int) -> str:
        return self.plan.stages[stage_id].name

    def task_finished(
        self, stage_id: int, start: float, end: float, rows: int, nbytes: int, reserved: int
    ) -> None:
        """Count one finished task of ``stage_id`` (times from ``time.time()``)."""
        with self._lock:
            log = self._stages.setdefault(stage_id, _StageLog())
            log.runs.append((start, end, reserved))
            log.rows += rows
            log.nbytes += nbytes

    def worker_lost(self, stage_ids: Iterable[int]) -> None:
        """A worker died while running tasks of these stages (one entry per task)."""
        with self._lock:
            self.worker_restarts += 1
            for stage_id in set(stage_ids):
                self._stages.setdefault(stage_id, _StageLog()).restarts += 1

    def spilled(
        self, stage_id: int | None, nbytes: int, objects: int, seconds: float, worker: str
    ) -> None:
        """Count ``nbytes`` spilled for ``stage_id`` (None: no stage known) on ``worker``
        and alert if that worker's last alert is older than the interval."""
        with self._lock:
            if stage_id is not None:
                log = self._stages.setdefault(stage_id, _StageLog())
                log.spilled_bytes += nbytes
                log.spilled_objects += objects
            else:
                self._unattributed[0] += nbytes
                self._unattributed[1] += objects
            pending = self._pending.setdefault(worker, _Pending(last=0.0))
            pending.nbytes += nbytes
            pending.objects += objects
            pending.seconds += seconds
            if stage_id is not None:
                pending.stages[stage_id] = pending.stages.get(stage_id, 0) + nbytes
        self.alert(force=False)

    def alert(self, force: bool = True) -> None:
        """Log one line per worker with spilling not yet alerted (when its interval
        passed, or always with ``force``); the query's first line also logs the remedies."""
        now = time.monotonic()
        lines = []
        with self._lock:
            for worker, pending in list(self._pending.items()):
                if not pending.objects or (not force and now - pending.last < self.alert_interval):
                    continue
                stages = sorted(pending.stages, key=pending.stages.__getitem__, reverse=True)
                lines.append(
                    spill_alert(
                        pending.nbytes,
                        pending.objects,
                        pending.seconds,
                        worker,
                        self.query_id,
                        [self.stage_name(s) for s in stages if s in self.plan.stages],
                    )
                )
                if not self._alerted:
                    lines.append(SPILL_REMEDIES)
                self._alerted = True
                self._pending[worker] = _Pending(last=now)
        for line in lines:
            logger.warning(line)

    def finish(self, complete: bool = True) -> QueryStats:
        """The query's :class:`QueryStats`; logs what spilling was not alerted yet.
        ``complete``: the consumer read every output partition (else the stats say
        the query stopped early, unless every planned task ran anyway)."""
        self.alert(force=True)
        wall = time.time() - self.started
        with self._lock:
            stages = tuple(self._stage_stats(sid) for sid in sorted(self._stages))
            # Stopped early, but after every planned task had run (a limit met at the end).
            complete = complete or all(s.tasks >= s.planned_tasks for s in stages)
            return QueryStats(
                self.query_id,
                self.plan.name,
                self.runner,
                wall,
                stages,
                self.plan.output_stage,
                complete,
                self.worker_restarts,
                *self._unattributed,
            )

    def _stage_stats(self, stage_id: int) -> StageStats:
        log = self._stages[stage_id]
        stage = self.plan.stages[stage_id]
        runs = log.runs
        estimate = max((t.reservation().memory_bytes for t in stage.tasks), default=0)
        return StageStats(
            stage_id=stage_id,
            name=stage.name,
            planned_tasks=self._planned.get(stage_id, 0),
            tasks=len(runs),
            wall_seconds=(max(e for _, e, _ in runs) - min(s for s, _, _ in runs)) if runs else 0,
            task_seconds=sum(e - s for s, e, _ in runs),
            rows_out=log.rows,
            bytes_out=log.nbytes,
            peak_reserved_bytes=peak_concurrent(runs),
            spilled_bytes=log.spilled_bytes,
            spilled_objects=log.spilled_objects,
            worker_restarts=log.restarts,
            estimated_bytes=stage.estimated_bytes,
            estimated_rows=stage.estimated_rows,
            estimated_task_memory=estimate,
        )


def peak_concurrent(runs: Iterable[tuple[float, float, int]]) -> int:
    """The largest sum of ``amount`` over runs ``(start, end, amount)`` that overlap
    in time (a run ending at the instant another starts does not overlap it).

    Examples
    --------
    >>> peak_concurrent([(0, 2, 10), (1, 3, 5), (3, 4, 7)])
    15
    """
    events = sorted(
        [(s, 1, amount) for s, _, amount in runs] + [(e, 0, -amount) for _, e, amount in runs]
    )
    peak = current = 0
    for _, _, amount in events:  # ends (0) sort before starts (1) at the same instant
        current += amount
        peak = max(peak, current)
    return peak
