"""PyRunner: runs the physical plan in this process on a thread pool.

pyarrow releases the GIL in its kernels, so threads give real parallelism. Tasks
are started in the order of the output partition they feed, never further ahead
than a small window past the partition the consumer waits for, so ``show`` and
``limit`` stop early. Task outputs live in a :class:`SpillStore`; a task starts
only when its CPU, GPU and memory reservations fit.
"""

from __future__ import annotations

import heapq
import os
import sys
import threading
from collections.abc import Hashable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import psutil
import pyarrow as pa

from spillframe.errors import ResourceError
from spillframe.physical.plan import PhysicalPlan, ResourceRequest, Task, TaskRef, resolve_args
from spillframe.runners.base import Runner
from spillframe.runners.spill import SpillStore

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True, slots=True)
class Capacity:
    """What this machine offers to tasks."""

    num_cpus: float
    num_gpus: float
    memory_bytes: int

    def check(self, task: Task) -> None:
        """Raise ResourceError at once for a request this machine can never satisfy."""
        r = task.resources
        if r.num_cpus > self.num_cpus or r.num_gpus > self.num_gpus \
                or r.memory_bytes > self.memory_bytes:
            raise ResourceError(
                f"{task.label or task.name} requests num_cpus={r.num_cpus:g}, "
                f"num_gpus={r.num_gpus:g}, memory_bytes={_size(r.memory_bytes)}, but the "
                f"largest worker (this machine, py runner) has num_cpus={self.num_cpus:g}, "
                f"num_gpus={self.num_gpus:g}, memory_bytes={_size(self.memory_bytes)}; "
                "lower the request with .override_options(...) or use a bigger runner"
            )


def _size(n: float) -> str:
    return f"{n / GiB:.2f} GiB" if n >= GiB else f"{n / MiB:.1f} MiB"


class PyRunner(Runner):
    """The local runner (registered as ``py``).

    Parameters
    ----------
    num_threads : int, optional
        Tasks run at once; default: the number of CPUs.
    memory_limit : int, optional
        Bytes of task outputs kept in memory before spilling; default: half of the
        memory available when the runner is created.
    spill_dir : str, optional
        Where spill files go; default: the system temporary directory.
    spill_limit : int, optional
        Most bytes spilled to disk per query before failing with a SpillError.
    num_gpus : float, optional
        GPUs tasks may reserve; default 0.
    progress : bool, optional
        Show a tqdm progress bar per stage (named by its operator); default: when
        stderr is a terminal, or when ``SPILLFRAME_PROGRESS=1``.
    """

    name = "py"

    def __init__(self, num_threads: int | None = None, memory_limit: int | None = None,
                 spill_dir: str | None = None, spill_limit: int | None = None,
                 num_gpus: float = 0, progress: bool | None = None) -> None:
        num_threads = num_threads or os.cpu_count() or 1
        if not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(f"num_threads must be a positive int, got {num_threads!r}")
        if memory_limit is not None and (not isinstance(memory_limit, int) or memory_limit < 1):
            raise ValueError(f"memory_limit must be a positive number of bytes, "
                             f"got {memory_limit!r}")
        options: dict[str, Any] = {"num_threads": num_threads}
        for key, value in (("memory_limit", memory_limit), ("spill_dir", spill_dir),
                           ("spill_limit", spill_limit), ("num_gpus", num_gpus or None)):
            if value is not None:
                options[key] = value
        super().__init__(**options)
        self.num_threads = num_threads
        self.memory_limit = memory_limit or psutil.virtual_memory().available // 2
        self.spill_dir = spill_dir
        self.spill_limit = spill_limit
        self.capacity = Capacity(num_threads, num_gpus, psutil.virtual_memory().total)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.last_spill_stats = None
        if progress is None:
            progress = os.environ.get("SPILLFRAME_PROGRESS", "") == "1" or sys.stderr.isatty()
        self.progress = progress

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.num_threads,
                                                thread_name_prefix="spillframe")
            return self._pool

    def run(self, plan: PhysicalPlan) -> Iterator[pa.Table]:
        """Yield the output partitions in order (see :class:`Runner`)."""
        execution = _Execution(plan, self)
        execution.check_resources()
        return execution.stream()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


Key = tuple[int, int]


class _Execution:
    """The state of one running query."""

    def __init__(self, plan: PhysicalPlan, runner: PyRunner) -> None:
        self.plan = plan
        self.runner = runner
        self.keys = plan.reachable()
        self.store = SpillStore(runner.memory_limit, runner.spill_dir, runner.spill_limit)
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
                store_key = (ref.stage_id, ref.index, ref.output)
                self.readers[store_key] = self.readers.get(store_key, 0) + 1
        self.ready: list[tuple[int, Key]] = [(self.priority[k], k) for k in self.keys
                                             if self.waiting_on[k] == 0]
        heapq.heapify(self.ready)
        self.running: dict[Future[Any], Key] = {}
        self.in_use = ResourceRequest(0, 0, 0)
        self.done: set[Key] = set()
        self.bars = self._progress_bars()

    def check_resources(self) -> None:
        for key in self.keys:
            self.runner.capacity.check(self.plan.task(key))

    # -- the loop ----------------------------------------------------------------------
    def stream(self) -> Iterator[pa.Table]:
        outputs = self.plan.output.num_partitions
        window = max(2, self.runner.num_threads * 2)
        next_out = 0
        try:
            while next_out < outputs:
                key = (self.plan.output_stage, next_out)
                if key in self.done:
                    table = self.store.get((*key, None))
                    self.store.delete((*key, None))
                    next_out += 1
                    yield table
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
        return (used.num_cpus + r.num_cpus <= cap.num_cpus
                and used.num_gpus + r.num_gpus <= cap.num_gpus
                and used.memory_bytes + r.memory_bytes <= cap.memory_bytes)

    def _start_ready(self, horizon: int) -> None:
        deferred = []
        while self.ready and len(self.running) < self.runner.num_threads:
            prio, key = heapq.heappop(self.ready)
            task = self.plan.task(key)
            if prio > horizon or not self._fits(task.resources):
                deferred.append((prio, key))
                if prio > horizon:
                    break
                continue
            self._add_use(task.resources, 1)
            future = self.runner._executor().submit(self._run_task, task)
            self.running[future] = key
        for item in deferred:
            heapq.heappush(self.ready, item)

    def _add_use(self, r: ResourceRequest, sign: int) -> None:
        u = self.in_use
        self.in_use = ResourceRequest(max(0, u.num_cpus + sign * r.num_cpus),
                                      max(0, u.num_gpus + sign * r.num_gpus),
                                      max(0, u.memory_bytes + sign * r.memory_bytes))

    def _run_task(self, task: Task) -> Any:
        args = resolve_args(task.args, self._lookup)
        return task.kernel(*args)

    def _lookup(self, ref: TaskRef) -> pa.Table:
        return self.store.get((ref.stage_id, ref.index, ref.output))

    def _finish(self, future: Future[Any]) -> None:
        key = self.running.pop(future)
        task = self.plan.task(key)
        self._add_use(task.resources, -1)
        try:
            result = future.result()
        except BaseException as exc:
            if hasattr(exc, "add_note"):
                exc.add_note(f"(while running task {task.name!r}, partition {key[1]})")
            raise
        if task.num_outputs > 1:
            for j, table in enumerate(result):
                self._store_output((*key, j), table)
        else:
            self._store_output((*key, None), result)
        self.done.add(key)
        if key[0] in self.bars:
            self.bars[key[0]].update(1)
        for ref in task.refs():
            store_key = (ref.stage_id, ref.index, ref.output)
            self.readers[store_key] -= 1
            if self.readers[store_key] == 0:
                self.store.delete(store_key)
        for dependent in self.dependents[key]:
            self.waiting_on[dependent] -= 1
            if self.waiting_on[dependent] == 0:
                heapq.heappush(self.ready, (self.priority[dependent], dependent))

    def _store_output(self, store_key: tuple[int, int, int | None], table: pa.Table) -> None:
        if not isinstance(table, pa.Table):
            raise TypeError(f"kernel returned {type(table).__name__}, expected a pyarrow Table")
        is_output = store_key[0] == self.plan.output_stage
        if is_output or self.readers.get(store_key, 0) > 0:
            self.store.put(store_key, table)

    def _progress_bars(self) -> dict[int, Any]:
        if not self.runner.progress:
            return {}
        from tqdm.auto import tqdm

        counts: dict[int, int] = {}
        for stage_id, _ in self.keys:
            counts[stage_id] = counts.get(stage_id, 0) + 1
        return {sid: tqdm(total=n, desc=f"{self.plan.stages[sid].name} [{sid}]", leave=False,
                          unit="task", position=i)
                for i, (sid, n) in enumerate(sorted(counts.items()))}

    def _shutdown(self) -> None:
        for bar in self.bars.values():
            bar.close()
        for future in self.running:
            future.cancel()
        wait(list(self.running))
        self.store.flush_alert()
        self.runner.last_spill_stats = self.store.stats
        self.store.close()
        # The query's intermediate data is gone. When the process is above half its
        # budget, hand the allocator's cached pages back to the OS; below, keep them for
        # the next query (releasing after every query cost 7% of TPC-H time, measured).
        if psutil.Process().memory_info().rss > self.runner.memory_limit / 2:
            pa.default_memory_pool().release_unused()
