"""The Dask runner: a spillframe PhysicalPlan as one Dask distributed graph.

Examples
--------
>>> import spillframe
>>> runner = spillframe.set_runner("dask", n_workers=2, threads_per_worker=1,
...                                memory_limit="1 GiB")        # doctest: +SKIP
>>> runner.dashboard_link                                      # doctest: +SKIP
'http://127.0.0.1:40745/status'
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import copy
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from importlib import metadata
from typing import Any

import dask
import distributed
import pyarrow as pa
from dask.utils import format_bytes, parse_bytes
from distributed.scheduler import KilledWorker, NoValidWorkerError, NoWorkerError

from spillframe.config import Config
from spillframe.datatype import session_key
from spillframe.errors import RunnerError, SpillError
from spillframe.physical.plan import PhysicalPlan
from spillframe.runners.base import Runner
from spillframe.runners.progress import stage_bars, wants_progress
from spillframe.runners.stats import QueryRecorder
from spillframe_dask.graph import DaskGraph, TaskInfo, build_graph
from spillframe_dask.metrics import TASK_TOPIC, QueryMonitor
from spillframe_dask.options import DaskRunnerOptions
from spillframe_dask.resources import WorkerCapacity, annotator, check_requests, read_capacities
from spillframe_dask.spill import TOPIC, SpillReporter, flush_spill_report
from spillframe_dask.trim import MemoryTrimmer
from spillframe_dask.trust import SharePythonObjectKey

logger = logging.getLogger("spillframe")

#: A worker's memory per thread divided by this is the partition size the runner
#: suggests: an exchange task holds its input, its buckets and a join's output at
#: once, plus copies in transit and spilled-but-reloaded data. Measured with TPC-H
#: SF1 lineitem on 512 MiB workers: 8 MiB partitions (1/64) ran sort, groupby and
#: join; 16 and 32 MiB failed the join.
MEMORY_PER_PARTITION = 64


class DaskRunner(Runner):
    """Runs plans on a Dask cluster: a LocalCluster it starts, or one at ``address``.

    Parameters
    ----------
    **options
        See :class:`spillframe_dask.options.DaskRunnerOptions`; an unknown option
        raises TypeError listing the valid ones.
    """

    name = "dask"
    records_stats = True

    def __init__(self, **options: Any) -> None:
        self.config = DaskRunnerOptions.from_kwargs(options)
        super().__init__(**options)
        self.progress = wants_progress(self.config.progress)
        self.monitor = QueryMonitor()
        self.cluster: distributed.LocalCluster | None = None
        self.client: distributed.Client | None = None
        try:
            self._connect()
        except BaseException:
            self.close()
            raise
        atexit.register(self.close)
        logger.info("Dask runner started; dashboard at %s", self.dashboard_link)

    # -- cluster ------------------------------------------------------------

    def _connect(self) -> None:
        cfg = self.config
        if cfg.address is not None:
            self.client = distributed.Client(
                cfg.address, security=cfg.security, set_as_default=False
            )
        else:
            self.cluster = _start_local_cluster(cfg)
            self.client = distributed.Client(
                self.cluster, security=cfg.security, set_as_default=False
            )
        if cfg.address is not None:
            _check_workers_can_run_plans(self.client, cfg.address)
        self.client.register_plugin(SharePythonObjectKey(session_key()))
        self.client.register_plugin(SpillReporter(interval=cfg.spill_alert_interval))
        self.client.register_plugin(MemoryTrimmer())
        self.client.subscribe_topic(TOPIC, self._on_spill)
        self.client.subscribe_topic(TASK_TOPIC, self.monitor.on_task)

    def _on_spill(self, event: tuple[float, dict[str, Any]]) -> None:
        line = self.monitor.on_spill(event)
        if line is not None:
            logger.warning(line)

    @property
    def dashboard_link(self) -> str | None:
        """The dashboard's ``/status`` URL (None when the dashboard is disabled)."""
        if self.client is None:
            return None
        try:
            return self.client.dashboard_link
        except (KeyError, AttributeError):
            return None

    def workers(self) -> list[WorkerCapacity]:
        """What each connected worker offers: CPUs, GPUs and memory."""
        return read_capacities(self._require_client().scheduler_info())

    def planning_defaults(self) -> dict[str, Any]:
        """``parallelism`` = the cluster's worker threads; ``partition_bytes`` = the
        smallest worker memory per thread / :data:`MEMORY_PER_PARTITION` (at most the
        core's default), so that partitions fit workers of any size."""
        shapes = self._worker_shapes()
        if not shapes:
            return {}
        defaults: dict[str, Any] = {"parallelism": sum(threads for threads, _ in shapes)}
        per_thread = [memory / threads for threads, memory in shapes if memory]
        if per_thread:
            core = Config()
            size = max(
                1 << 20, min(int(min(per_thread)) // MEMORY_PER_PARTITION, core.partition_bytes)
            )
            defaults["partition_bytes"] = size
            defaults["min_partition_bytes"] = min(core.min_partition_bytes, size)
        return defaults

    def _worker_shapes(self) -> list[tuple[int, int | None]]:
        """``(threads, memory limit)`` of each worker: of the LocalCluster's spec when the
        runner started one (stable while a worker restarts), else of the live workers."""
        if self.cluster is not None:
            shapes = []
            for spec in self.cluster.worker_spec.values():
                options = spec.get("options", {})
                limit = options.get("memory_limit")
                shapes.append(
                    (
                        max(1, int(options.get("nthreads") or 1)),
                        parse_bytes(limit) if isinstance(limit, str) else limit or None,
                    )
                )
            return shapes
        return [(max(1, int(c.cpus)), c.memory_bytes) for c in self.workers()]

    def close(self) -> None:
        """Close the client and the LocalCluster the runner started (idempotent)."""
        atexit.unregister(self.close)
        client, self.client = self.client, None
        cluster, self.cluster = self.cluster, None
        if client is not None:
            # The connection may be gone already (scheduler closed first).
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(TOPIC)
                client.unsubscribe_topic(TASK_TOPIC)
            client.close()
        if cluster is not None:
            cluster.close()

    def _require_client(self) -> distributed.Client:
        if self.client is None:
            raise RunnerError("this dask runner is closed; create a new one with set_runner_dask()")
        return self.client

    # -- queries --------------------------------------------------------------

    def run(self, plan: PhysicalPlan, stats: QueryRecorder | None = None) -> Iterator[pa.Table]:
        """Submit ``plan`` as one graph and stream its output partitions in order.

        Each output partition moves to the driver as soon as its task is done, up to
        two per worker thread ahead of the consumer (see :class:`_Fetcher`).

        Resource requests are checked against the workers before anything runs;
        a request no worker can satisfy raises ResourceError at once. Every task the
        workers finish is recorded in ``stats`` (and counted on its stage's progress
        bar) from the event it publishes (:mod:`spillframe_dask.metrics`).
        """
        client = self._require_client()
        capacities = self.workers()
        check_requests(plan, capacities)
        workers = [(c.address, c.cpus) for c in capacities]
        graph = build_graph(plan, annotator(capacities), workers=workers)
        recorder = stats or QueryRecorder(plan, self.name)
        recorder.alert_interval = self.config.spill_alert_interval
        threads = max(1, int(sum(c.cpus for c in capacities)))
        return self._stream(client, plan, graph, recorder, ahead=2 * threads)

    def _stream(
        self,
        client: distributed.Client,
        plan: PhysicalPlan,
        graph: DaskGraph,
        recorder: QueryRecorder,
        ahead: int = 2,
    ) -> Iterator[pa.Table]:
        bars = stage_bars(plan, plan.reachable()) if self.progress else {}
        self.monitor.watch(graph, recorder, bars)
        try:
            with distributed.span(plan.name):
                futures: list[distributed.Future | None] = list(
                    client.get(graph.graph, graph.output_keys, sync=False)
                )
        except BaseException:
            self.monitor.unwatch(graph.token)
            raise
        fetcher = _Fetcher(futures, ahead)
        try:
            for index in range(len(futures)):
                try:
                    table = fetcher.take(index)
                except KilledWorker as exc:
                    raise RunnerError(_killed_message(exc, graph.tasks)) from exc
                except (NoWorkerError, NoValidWorkerError) as exc:
                    raise RunnerError(_no_worker_message(exc, graph.tasks)) from exc
                yield table
        finally:
            fetcher.close()
            remaining = [f for f in futures if f is not None]
            if remaining and self.client is not None:
                client.cancel(remaining)
            if self.client is not None:
                self._collect_spill_reports(client)
                self.monitor.count_lost_workers(client, graph.token)
            self.monitor.unwatch(graph.token)

    def _collect_spill_reports(self, client: distributed.Client) -> None:
        """Ask every worker for what it spilled since its last report (events arrive
        on their own time; the query's stats should not miss its last seconds)."""
        try:
            reports = client.run(flush_spill_report)
        except Exception:  # noqa: BLE001 - a worker gone or the cluster closing
            return
        for report in reports.values():
            if report is not None:
                self._on_spill((time.time(), report))


class _Fetcher:
    """Output partitions fetched as soon as their task finishes, up to ``ahead``
    partitions past the one the consumer waits for, and handed out in order.

    An output partition left on its worker until the consumer reaches it counts in
    that worker's memory, and is spilled there when the worker passes its target, or
    kills the worker when it passes its limit: an output stage runs on every worker
    at once, and one slow partition holds back the fetch of all the later ones done
    meanwhile. Taking each partition when it is done, and releasing it on the
    worker, keeps at most ``ahead`` partitions in the driver. Measured on SF1
    lineitem joined with orders (1.4 GiB of output), 2 x 512 MiB workers, 8 MiB
    partitions: the workers spilled 892 MiB instead of 1.9-2.0 GiB.
    """

    def __init__(self, futures: list[distributed.Future | None], ahead: int) -> None:
        self.futures = futures
        self.ahead = ahead
        self.fetched: dict[int, concurrent.futures.Future[pa.Table]] = {}
        self.done = threading.Event()
        self.pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="spillframe-fetch")
        self.next = 0
        for future in futures[: 1 + ahead]:
            if future is not None:
                future.add_done_callback(lambda _: self.done.set())

    def take(self, index: int) -> pa.Table:
        """Partition ``index`` (the one after the last taken), waiting for it."""
        self.next = index
        self._watch(index + self.ahead)
        while True:
            self.done.clear()
            self._start_fetches()
            fetch = self.fetched.get(index)
            if fetch is not None:
                table = fetch.result()
                del self.fetched[index]
                return table
            self.done.wait(timeout=1.0)

    def _watch(self, index: int) -> None:
        if index < len(self.futures) and (future := self.futures[index]) is not None:
            future.add_done_callback(lambda _: self.done.set())

    def _start_fetches(self) -> None:
        end = min(len(self.futures), self.next + 1 + self.ahead)
        for i in range(self.next, end):
            future = self.futures[i]
            if i not in self.fetched and future is not None and future.done():
                self.fetched[i] = self.pool.submit(self._fetch, i)

    def _fetch(self, index: int) -> pa.Table:
        future = self.futures[index]
        assert future is not None
        try:
            return future.result()
        finally:
            if future.status == "finished":
                # Release the worker-side copy: the driver holds the partition now.
                self.futures[index] = None
                future.release()
            self.done.set()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.fetched.clear()


def _check_workers_can_run_plans(client: distributed.Client, address: str) -> None:
    """Raise RunnerError naming the workers of an existing cluster that lack spillframe
    or spillframe-dask, or run other versions than this client, with the fix.

    Each worker is asked through ``importlib.metadata.version``, a standard-library
    function, so the question reaches workers that have neither package."""
    problems: dict[str, list[str]] = {}
    for name in ("spillframe", "spillframe-dask"):
        mine = metadata.version(name)
        found = client.run(metadata.version, name, on_error="return")
        for worker, version in found.items():
            if isinstance(version, BaseException):
                problems.setdefault(worker, []).append(f"lacks {name}")
            elif version != mine:
                problems.setdefault(worker, []).append(f"has {name} {version}, not {mine}")
    if problems:
        listed = "; ".join(f"{w} {', '.join(p)}" for w, p in sorted(problems.items()))
        raise RunnerError(
            f"the Dask cluster at {address} cannot run spillframe plans: {listed}. Install "
            "them where the workers run (pip install spillframe spillframe-dask, the same "
            "versions as this client) and restart the workers"
        )


def _check_spill_dir(path: str) -> None:
    """Refuse a spill_dir the workers could not spill to, before starting them (they
    would fail later, one by one, with less to go on)."""
    if os.path.exists(path) and not os.path.isdir(path):
        problem = "it is a file, not a directory"
    else:
        try:
            os.makedirs(path, exist_ok=True)
            with tempfile.TemporaryFile(dir=path):
                pass
            return
        except OSError as exc:
            problem = f"it is not writable ({exc.strerror or exc})"
    raise SpillError(
        f"spill_dir={path!r} cannot hold the workers' spill files: {problem}; pass "
        "spill_dir= a writable directory on a disk with room"
    )


def _start_local_cluster(cfg: DaskRunnerOptions) -> distributed.LocalCluster:
    n_workers, threads = _cluster_shape(cfg.n_workers, cfg.threads_per_worker)
    memory = _memory_limit(cfg.memory_limit, threads, n_workers * threads)
    resources: dict[str, float] = {"CPU": threads, "GPU": _gpu_count()}
    if memory:
        resources["MEMORY"] = memory
    config: dict[str, Any] = dict(cfg.threshold_config())
    pool = cfg.arrow_memory_pool
    if pool == "jemalloc" and not _has_jemalloc():
        pool = "system"
    if pool is not None:
        # Set before a worker process starts, so that pyarrow picks it at import.
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
        environ["ARROW_DEFAULT_MEMORY_POOL"] = pool
        if pool == "system":
            # A fixed threshold stops glibc from raising it after large frees, so
            # partition-sized buffers stay mmapped and go back to the OS when freed.
            environ.setdefault("MALLOC_MMAP_THRESHOLD_", 65536)
        config["distributed.nanny.pre-spawn-environ"] = environ
    if cfg.allowed_failures is not None:
        config["distributed.scheduler.allowed-failures"] = cfg.allowed_failures
    if cfg.no_workers_timeout is not None:
        config["distributed.scheduler.no-workers-timeout"] = f"{cfg.no_workers_timeout}s"
    kwargs: dict[str, Any] = {}
    if cfg.spill_dir is not None:
        _check_spill_dir(cfg.spill_dir)
        kwargs["local_directory"] = cfg.spill_dir
    if cfg.security is not None:
        kwargs["security"] = cfg.security
    # A worker reads its memory thresholds from the config its nanny hands it. The
    # ambient config set here reached the first workers only (a replaced worker came
    # back with distributed's default target of 0.6), so each nanny also gets the whole
    # config, thresholds included, as its own, for every worker it (re)starts.
    with dask.config.set(config):
        kwargs["config"] = copy.deepcopy(dask.config.config)
        return distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads,
            processes=True,
            memory_limit=memory if memory else 0,
            dashboard_address=cfg.dashboard_address,
            resources=resources,
            **kwargs,
        )


def _has_jemalloc() -> bool:
    """Whether this pyarrow build has jemalloc (Linux wheels do; Windows ones do not)."""
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    return True


def _cluster_shape(n_workers: int | None, threads: int | None) -> tuple[int, int]:
    from dask.system import CPU_COUNT
    from distributed.deploy.utils import nprocesses_nthreads

    if n_workers is None and threads is None:
        return nprocesses_nthreads()
    if threads is None:
        return n_workers, max(1, CPU_COUNT // n_workers)
    if n_workers is None:
        return max(1, CPU_COUNT // threads), threads
    return n_workers, threads


def _memory_limit(memory_limit: int | str | None, threads: int, total_threads: int) -> int:
    """Bytes per worker; the machine's memory split by threads when not given."""
    from distributed.system import MEMORY_LIMIT

    if memory_limit is None or memory_limit == "auto":
        return int(MEMORY_LIMIT * min(1.0, threads / max(total_threads, 1)))
    if isinstance(memory_limit, str):
        return parse_bytes(memory_limit)
    return int(memory_limit)


def _gpu_count() -> int:
    try:
        from distributed.diagnostics import nvml

        return int(nvml.device_get_count())
    except Exception:  # noqa: BLE001 - no NVML, no driver, no GPU: all mean zero
        return 0


def _no_worker_message(exc: Exception, tasks: dict[Any, TaskInfo]) -> str:
    key = getattr(exc, "task", None)
    info = tasks.get(key)
    what = info.describe() if info is not None else f"task {key!r}"
    waited = getattr(exc, "timeout", None) or 0
    return (
        f"{what} found no worker to run it for {waited:g} s: the cluster lost its workers "
        "(killed for memory, or stopped) and none came back, or none offers the resources "
        "it asks for. Check the workers' logs; give each worker more memory "
        "(memory_limit= in set_runner_dask) or split the data into smaller partitions "
        "(df.into_partitions(...)); no_workers_timeout= sets how long to wait."
    )


def _killed_message(exc: KilledWorker, tasks: dict[Any, TaskInfo]) -> str:
    info = tasks.get(exc.task)
    what = info.describe() if info is not None else f"task {exc.task!r}"
    failures = exc.allowed_failures + 1
    try:
        limit = exc.last_worker.memory_limit
        memory = f" of {format_bytes(limit)} each" if limit else ""
    except AttributeError:
        memory = ""
    return (
        f"{what} kept killing workers: {failures} worker(s){memory} died while running it "
        f"(last: {getattr(exc.last_worker, 'address', exc.last_worker)}). This usually means "
        "it needs more memory than a worker has. Remedies: give each worker more memory "
        "(memory_limit= in set_runner_dask, or fewer threads per worker); split the data "
        "into smaller partitions with df.into_partitions(df.num_partitions() * 2) before "
        "this operator; or, if a UDF is involved, declare its need with "
        "@udf(memory_bytes=...) so the scheduler reserves that memory."
    )
