"""PyRunner: runs the physical plan in this process on a thread pool.

pyarrow releases the GIL in its kernels, so threads give real parallelism. Tasks
are started in the order of the output partition they feed, never further ahead
than a small window past the partition the consumer waits for, so ``show`` and
``limit`` stop early. Task outputs live in a :class:`SpillStore`; a task starts
only when its CPU, GPU and memory reservations fit.
"""

from __future__ import annotations

import atexit
import functools
import heapq
import os
import threading
import time
import weakref
from collections.abc import Hashable, Iterator
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import psutil
import pyarrow as pa

from spillframe.config import Config
from spillframe.errors import ResourceError, UDFError
from spillframe.kernels.budget import MemoryGrant, granted
from spillframe.kernels.narrow import PartitionStream
from spillframe.physical.memory import JOIN_FACTOR, SORT_FACTOR
from spillframe.physical.plan import (
    PhysicalPlan,
    ResourceRequest,
    Task,
    TaskRef,
    resolve_args,
)
from spillframe.runners.base import Runner
from spillframe.runners.progress import stage_bars, wants_progress
from spillframe.runners.spill import SpillStats, SpillStore
from spillframe.runners.stats import QueryRecorder
from spillframe.units import format_bytes, parse_bytes

MiB = 1 << 20
MAX_FACTOR = max(SORT_FACTOR, JOIN_FACTOR)
DEFAULT_PARTITION_BYTES = Config().partition_bytes


@dataclass(frozen=True, slots=True)
class Capacity:
    """What this machine offers to tasks."""

    num_cpus: float
    num_gpus: float
    memory_bytes: int

    def check(self, task: Task) -> None:
        """Raise ResourceError at once for a request this machine can never satisfy."""
        r = task.resources
        if (
            r.num_cpus > self.num_cpus
            or r.num_gpus > self.num_gpus
            or r.memory_bytes > self.memory_bytes
        ):
            raise ResourceError(
                f"{task.label or task.name} requests num_cpus={r.num_cpus:g}, "
                f"num_gpus={r.num_gpus:g}, memory_bytes={format_bytes(r.memory_bytes)}, but the "
                f"largest worker (this machine, py runner) has num_cpus={self.num_cpus:g}, "
                f"num_gpus={self.num_gpus:g}, memory_bytes={format_bytes(self.memory_bytes)}; "
                "lower the request with .override_options(...) or use a bigger runner"
            )


#: How long jemalloc keeps freed pages before returning them to the OS. 0 doubles the time of the SF1 out-of-core sort and join (every new
#: allocation faults its pages in again); 100 ms keeps the time and the bound.
FREED_PAGES_DECAY_MS = 100


def _return_freed_memory_promptly() -> bool:
    """Make Arrow's allocator hand freed pages back to the OS.

    The limit is a promise about the process's resident memory, and allocators keep
    what a finished task freed. With jemalloc as Arrow's default pool (what
    ``import spillframe`` picks before pyarrow loads, see :mod:`spillframe._allocator`)
    a 100 ms decay returns it; the mimalloc pool (pyarrow's default, kept when pyarrow
    was imported first) keeps freed pages in per-thread heaps (Arrow's own I/O and
    CPU threads' included), so each task's thread releases its heap when the task
    ends, which returns part of it. Measured at memory_limit=256 MiB on the SF1
    out-of-core cases, peak RSS sort/groupby/join: mimalloc 513/389/575-613 MiB,
    jemalloc at 100 ms 435/318/482 MiB (same times). Returns True for jemalloc.
    Arrow's pool is chosen when pyarrow loads and Acero allocates from the C++
    default, so the runner cannot switch it for the user.
    """
    if pa.default_memory_pool().backend_name != "jemalloc":
        return False
    pa.jemalloc_set_decay_ms(FREED_PAGES_DECAY_MS)
    return True


class PyRunner(Runner):
    """The local runner (registered as ``py``).

    Parameters
    ----------
    num_threads : int, optional
        Tasks run at once; default: the number of CPUs.
    memory_limit : int or str, optional
        The memory budget of a query (bytes, or a size such as ``"256MiB"``): stored
        task outputs plus the working memory reserved by running tasks stay within
        it, spilling outputs to disk and taking sort, join and aggregation out of
        core; partitions are sized so that every thread's task fits. Default: half of
        the memory available when the runner is created.
    spill_dir : str, optional
        Where spill files go; default: the system temporary directory.
    spill_limit : int or str, optional
        Most bytes spilled to disk per query before failing with a SpillError.
    num_gpus : float, optional
        GPUs tasks may reserve; default 0.
    progress : bool, optional
        Show a tqdm progress bar per stage (named by its operator); default: when
        stderr is a terminal, or when ``SPILLFRAME_PROGRESS=1``.
    """

    name = "py"
    records_stats = True

    def __init__(
        self,
        num_threads: int | None = None,
        memory_limit: int | str | None = None,
        spill_dir: str | None = None,
        spill_limit: int | str | None = None,
        num_gpus: float = 0,
        progress: bool | None = None,
    ) -> None:
        num_threads = num_threads or os.cpu_count() or 1
        if not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(f"num_threads must be a positive int, got {num_threads!r}")
        if memory_limit is not None:
            memory_limit = parse_bytes(memory_limit, "memory_limit")
        if spill_limit is not None:
            spill_limit = parse_bytes(spill_limit, "spill_limit")
        options: dict[str, Any] = {"num_threads": num_threads}
        for key, value in (
            ("memory_limit", memory_limit),
            ("spill_dir", spill_dir),
            ("spill_limit", spill_limit),
            ("num_gpus", num_gpus or None),
        ):
            if value is not None:
                options[key] = value
        super().__init__(**options)
        self.num_threads = num_threads
        self.memory_limit = memory_limit or psutil.virtual_memory().available // 2
        # Freed memory goes back to the OS (see the function), under the default budget
        # too: it is a budget all the same, and memory kept by the allocator after one
        # query is resident during the next (TPC-H SF1 Q1-Q22 in one process: Q6 peaked
        # at 436 MiB after Q1-Q5 with per-task release off, 335 MiB with it on).
        self.release_after_tasks = not _return_freed_memory_promptly()
        self.spill_dir = spill_dir
        self.spill_limit = spill_limit
        self.capacity = Capacity(num_threads, num_gpus, psutil.virtual_memory().total)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._last = threading.local()
        self._last_finished: SpillStats | None = None
        self.progress = wants_progress(progress)

    @property
    def last_spill_stats(self) -> SpillStats | None:
        """What the last query *this thread* ran spilled: each query has its own spill
        store, so queries run at once from several threads never see each other's
        figures. A thread that ran none sees the last query that finished (None before
        the first). ``df.stats()`` gives the same per query, stage by stage."""
        stats = getattr(self._last, "spill_stats", None)
        return stats if stats is not None else self._last_finished

    @last_spill_stats.setter
    def last_spill_stats(self, stats: SpillStats | None) -> None:
        self._last.spill_stats = stats
        self._last_finished = stats

    def planning_defaults(self) -> dict[str, Any]:
        """Partitions small enough that every thread's task fits the budget: the
        largest multiple in the memory model (a sort or join holds about three times
        its input) times the threads, times two so that stored outputs keep half the
        budget; at most the core's default of 128 MiB, at least 1 MiB.

        A join side indexable by its key is broadcast up to that same half of the
        budget (``broadcast_index_bytes``): stored once, it is the one output the
        tasks streaming past it keep."""
        per_task = self.memory_limit / (2 * self.num_threads * MAX_FACTOR)
        return {
            "partition_bytes": int(min(DEFAULT_PARTITION_BYTES, max(MiB, per_task))),
            "broadcast_index_bytes": self.memory_limit // 2,
        }

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.num_threads, thread_name_prefix="spillframe")
            return self._pool

    def run(self, plan: PhysicalPlan, stats: QueryRecorder | None = None) -> Iterator[pa.Table]:
        """Yield the output partitions in order, recording every task in ``stats``
        (see :class:`Runner`)."""
        execution = _Execution(plan, self, stats or QueryRecorder(plan, self.name))
        execution.check_resources()
        return execution.stream()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


Key = tuple[int, int]


def _store_key(ref: TaskRef) -> tuple[int, int, int | None]:
    return (ref.stage_id, ref.index, ref.output)


# Queries whose stream is still open (a consumer that never finished iterating): stopped
# at interpreter exit, while the modules they use still work, rather than by their
# generator's finalizer during teardown.
_OPEN_QUERIES: weakref.WeakSet[_Execution] = weakref.WeakSet()


@atexit.register
def _stop_open_queries() -> None:
    for execution in list(_OPEN_QUERIES):
        execution._shutdown()


class _Execution:
    """The state of one running query.

    Memory admission: the store's budget (``memory_limit``) covers the stored task
    outputs and the reservations of running tasks. A task reserves its plan estimate
    (:meth:`Task.reservation`), refined here from the actual sizes of the outputs it
    reads; it starts only when the reservation fits next to the running ones (the
    store spills outputs to make room), except that a task always starts when nothing
    else runs. Its kernel sees the reservation as its :class:`MemoryGrant` and goes
    out of core when its input outgrows it (a task estimated above the whole budget
    gets the budget).
    """

    def __init__(self, plan: PhysicalPlan, runner: PyRunner, recorder: QueryRecorder) -> None:
        self.plan = plan
        self.runner = runner
        self.recorder = recorder
        self.keys = plan.reachable()
        self.store = SpillStore(
            runner.memory_limit, runner.spill_dir, runner.spill_limit, self._stored_spilled
        )
        self.priority = plan.first_output()
        self.waiting_on: dict[Key, int] = {}
        self.readers: dict[Hashable, int] = {}
        self.dependents: dict[Key, list[Key]] = {k: [] for k in self.keys}
        for key in self.keys:
            refs = plan.task(key).refs()
            self.waiting_on[key] = len({r.key for r in refs})
            for ref in {r.key for r in refs}:
                self.dependents[ref].append(key)
            for ref in refs:
                store_key = _store_key(ref)
                self.readers[store_key] = self.readers.get(store_key, 0) + 1
        self.ready: list[tuple[int, Key]] = [
            (self.priority[k], k) for k in self.keys if self.waiting_on[k] == 0
        ]
        heapq.heapify(self.ready)
        self.running: dict[Future[Any], tuple[Key, ResourceRequest]] = {}
        self.in_use = ResourceRequest(0, 0, 0)
        self.done: set[Key] = set()
        # Set when the query stops early; running tasks stop at their next input or batch.
        self.cancel = threading.Event()
        self.bars = self._progress_bars()

    def check_resources(self) -> None:
        for key in self.keys:
            self.runner.capacity.check(self.plan.task(key))

    # -- the loop ----------------------------------------------------------------------
    def stream(self) -> Iterator[pa.Table]:
        _OPEN_QUERIES.add(self)
        outputs = self.plan.output.num_partitions
        window = max(2, self.runner.num_threads * 2)
        next_out = 0
        try:
            while next_out < outputs:
                key = (self.plan.output_stage, next_out)
                if key in self.done:
                    table = self.store.take((*key, None))
                    next_out += 1
                    # The consumer holds the partition until it asks for the next one:
                    # it stays in the budget until then.
                    held = table.nbytes
                    self.store.reserve(held)
                    try:
                        yield table
                    finally:
                        del table
                        self.store.release(held)
                    continue
                self._start_ready(next_out + window)
                if not self.running:
                    raise RuntimeError(f"scheduler stalled waiting for partition {next_out}")
                finished, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
                for future in finished:
                    self._finish(future)
        finally:
            self._shutdown()

    def _fits(self, r: ResourceRequest) -> bool:
        cap, used = self.runner.capacity, self.in_use
        if not self.running:
            return True  # a task that fits the machine always runs when nothing else does
        return (
            used.num_cpus + r.num_cpus <= cap.num_cpus
            and used.num_gpus + r.num_gpus <= cap.num_gpus
            and used.memory_bytes + r.memory_bytes <= self.runner.memory_limit
        )

    def _start_ready(self, horizon: int) -> None:
        deferred = []
        while self.ready and len(self.running) < self.runner.num_threads:
            prio, key = heapq.heappop(self.ready)
            task = self.plan.task(key)
            if prio > horizon:
                deferred.append((prio, key))
                break
            # The plan's estimate, refined from the actual sizes of the outputs it reads.
            refs = task.refs()
            request = task.reservation(
                sum(self.store.nbytes(_store_key(r)) for r in refs) if refs else None
            )
            grant = MemoryGrant(
                self._grant_bytes(request.memory_bytes), self.runner.spill_dir, self.cancel
            )
            request = ResourceRequest(request.num_cpus, request.num_gpus, grant.limit)
            if not self._fits(request):
                deferred.append((prio, key))
                continue
            takes = self._last_reads(task)
            for store_key in takes:
                self.store.claim(store_key)
            self._add_use(request, 1)
            # The task's own thread makes the room (spills) before it starts: this
            # thread goes on scheduling meanwhile.
            self.store.reserve(grant.limit, make_room=False)
            future = self.runner._executor().submit(self._run_task, key, grant, set(takes))
            self.running[future] = (key, request)
        for item in deferred:
            heapq.heappush(self.ready, item)

    def _grant_bytes(self, reservation: int) -> int:
        """What a starting task may hold: its reservation, at least a thread's fair
        share of half the budget (an estimate can be low, and a kernel granted too
        little would spill for nothing), at most the whole budget (a task estimated
        above it runs alone, its kernel out of core)."""
        limit = self.runner.memory_limit
        return max(1, min(limit, max(reservation, limit // (2 * self.runner.num_threads))))

    def _last_reads(self, task: Task) -> list[Hashable]:
        """Store keys this task reads once and no other task reads after it: it takes
        them over (their bytes move into its reservation)."""
        counts: dict[Hashable, int] = {}
        for ref in task.refs():
            counts[_store_key(ref)] = counts.get(_store_key(ref), 0) + 1
        return [k for k, n in counts.items() if n == 1 and self.readers.get(k) == 1]

    def _add_use(self, r: ResourceRequest, sign: int) -> None:
        u = self.in_use
        self.in_use = ResourceRequest(
            max(0, u.num_cpus + sign * r.num_cpus),
            max(0, u.num_gpus + sign * r.num_gpus),
            max(0, u.memory_bytes + sign * r.memory_bytes),
        )

    def _run_task(self, key: Key, grant: MemoryGrant, takes: set[Hashable]) -> None:
        """Run one task on a pool thread and store its outputs (so that spilling them
        happens here, not on the scheduling thread)."""
        task = self.plan.task(key)
        released = False
        start = time.time()
        try:
            self.store.make_room()

            def load(ref: TaskRef) -> pa.Table:
                if self.cancel.is_set():
                    raise CancelledError("the query was stopped")
                store_key = _store_key(ref)
                return (
                    self.store.take(store_key) if store_key in takes else self.store.get(store_key)
                )

            # A list of references becomes a stream that loads them one at a time.
            args = resolve_args(
                task.args,
                load,
                lambda refs: PartitionStream([functools.partial(load, ref) for ref in refs]),
            )
            with granted(grant):
                result = task.kernel(*args)
            del args
            if grant.spilled_objects:
                self.store.record_kernel_spill(
                    grant.spilled_bytes, grant.spilled_objects, grant.write_seconds
                )
                self.recorder.spilled(
                    key[0], grant.spilled_bytes, grant.spilled_objects, grant.write_seconds, "local"
                )
            outputs = list(enumerate(result)) if task.num_outputs > 1 else [(None, result)]
            del result
            self._record(key, start, outputs, grant.limit)
            kept = [(j, t) for j, t in outputs if self._is_needed((*key, j), t)]
            del outputs
            for i, (j, table) in enumerate(kept):
                last = i == len(kept) - 1
                self.store.put((*key, j), table, release=grant.limit if last else 0)
                released = released or last
        finally:
            if not released:
                self.store.release(grant.limit)
            if self.runner.release_after_tasks:
                pa.default_memory_pool().release_unused()

    def _record(
        self, key: Key, start: float, outputs: list[tuple[Any, Any]], reserved: int
    ) -> None:
        tables = [t for _, t in outputs if isinstance(t, pa.Table)]
        self.recorder.task_finished(
            key[0],
            start,
            time.time(),
            sum(t.num_rows for t in tables),
            sum(t.nbytes for t in tables),
            reserved,
        )

    def _stored_spilled(self, store_key: Hashable, nbytes: int, seconds: float) -> None:
        """The store wrote a task output to disk: count it for the stage that made it."""
        self.recorder.spilled(store_key[0], nbytes, 1, seconds, "local")  # type: ignore[index]

    def _is_needed(self, store_key: tuple[int, int, int | None], table: Any) -> bool:
        if not isinstance(table, pa.Table):
            raise TypeError(f"kernel returned {type(table).__name__}, expected a pyarrow Table")
        return store_key[0] == self.plan.output_stage or self.readers.get(store_key, 0) > 0

    def _finish(self, future: Future[Any]) -> None:
        key, request = self.running.pop(future)
        task = self.plan.task(key)
        self._add_use(request, -1)
        try:
            future.result()
        except UDFError as exc:
            raise exc.locate(task.name, key[0], key[1]) from exc.original
        except BaseException as exc:
            if hasattr(exc, "add_note"):
                exc.add_note(f"(while running task {task.name!r}, partition {key[1]})")
            raise
        self.done.add(key)
        if key[0] in self.bars:
            self.bars[key[0]].update(1)
        for ref in task.refs():
            store_key = _store_key(ref)
            self.readers[store_key] -= 1
            if self.readers[store_key] == 0:
                self.store.delete(store_key)
        for dependent in self.dependents[key]:
            self.waiting_on[dependent] -= 1
            if self.waiting_on[dependent] == 0:
                heapq.heappush(self.ready, (self.priority[dependent], dependent))

    def _progress_bars(self) -> dict[int, Any]:
        return stage_bars(self.plan, self.keys) if self.runner.progress else {}

    def _shutdown(self) -> None:
        """Stop the query (finished, failed, interrupted or abandoned by its consumer):
        tasks not started are cancelled, running ones stop at their next input or batch,
        and the spill store (its files and directory) goes once they have. Runs once:
        at interpreter exit for a query still open (see ``_stop_open_queries``)."""
        if self.cancel.is_set():
            return
        self.cancel.set()
        _OPEN_QUERIES.discard(self)
        for bar in self.bars.values():
            bar.close()
        for future in self.running:
            future.cancel()
        wait(list(self.running))
        self.recorder.alert()
        self.runner.last_spill_stats = self.store.stats
        self.store.close()
        # The query's intermediate data is gone: hand the pages Arrow's allocator
        # caches for this thread back to the OS, so that memory a query no longer uses
        # is not counted against the next one. Over 18 TPC-H SF1 queries in one process,
        # the resident memory between queries stays at 200-450 MiB instead of growing
        # to 530-850 MiB, with the same total time (13.9 s against 14.2 s).
        pa.default_memory_pool().release_unused()
