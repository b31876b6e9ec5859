"""Run one (engine, query) case and print its record as JSON.

Usage: ``python -m benchmarks.out_of_core.case --engine dask --query sort``.
Each case runs in its own process so that a crash or a hang of one engine
cannot leak memory, workers or spill files into the next case. Dask engines
get a fresh LocalCluster; ``spillframe-py`` and ``duckdb`` run in this process
under the same total budget as the cluster (see ``LocalBudget``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.out_of_core.data import DATA_ROOT, ensure_data, reference_answers
from benchmarks.out_of_core.monitor import (
    MIB,
    ProcessMemorySampler,
    SpillCounter,
    WorkerMemorySampler,
)
from benchmarks.out_of_core.queries import (
    Summary,
    check_result,
    check_summary,
    dask_query,
    duckdb_batches,
    spillframe_batches,
    summarize,
)

DASK_ENGINES = ("spillframe", "dask", "dask-tuned")
LOCAL_ENGINES = ("spillframe-py", "duckdb")
ENGINES = ("spillframe", "spillframe-py", "duckdb", "dask", "dask-tuned")
SPILL_ROOT = DATA_ROOT / "spill"  # git-ignored, like the data


@dataclass(frozen=True, slots=True)
class LocalBudget:
    """The in-process engines' share of the cluster's 1 GiB (2 x 512 MiB).

    ``py_memory_limit``: the PyRunner's ``memory_limit``, bytes of task outputs
    held in memory before spilling (the rest of the budget is left for the
    tasks running on ``threads`` threads and the interpreter). Measured at SF1:
    512 MiB with 128 MiB partitions peaks at about 1.5 GiB RSS (sort), 256 MiB
    with 64 MiB partitions at about 1.04 GiB (join); 256 MiB with 32 MiB
    partitions stays under 0.9 GiB for all three queries. ``duckdb_memory_limit``:
    DuckDB's ``SET memory_limit``.
    """

    threads: int = 2
    py_memory_limit: int = 256 * MIB
    py_partition_bytes: int | None = 32 * MIB  # None: spillframe's default
    duckdb_memory_limit: str = "1GB"


@dataclass(frozen=True, slots=True)
class Cluster:
    """The cluster every case runs on."""

    n_workers: int = 2
    threads_per_worker: int = 1
    memory_limit: str = "512 MiB"


@dataclass(slots=True)
class Record:
    """What one case measured."""

    engine: str
    query: str
    status: str = "not run"  # ok | wrong | failed | timeout
    seconds: float | None = None
    peak_mib: float | None = None
    peak_measures: str = ""
    spilled_mib: float | None = None
    spilled_objects: int | None = None
    worker_processes: int | None = None
    rows: int | None = None
    error: str = ""
    problems: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


def run_case(
    engine: str,
    query: str,
    scale: float,
    cluster: Cluster,
    partition_bytes: int | None,
    timeout: float = 600,
    runner_options: dict[str, Any] | None = None,
    budget: LocalBudget | None = None,
) -> Record:
    if engine in LOCAL_ENGINES:  # before importing dask: not part of their memory
        return run_local_case(engine, query, scale, budget or LocalBudget(), timeout)
    from spillframe_dask.runner import DaskRunner

    paths = ensure_data(scale)
    reference = reference_answers(paths, scale)[query]
    record = Record(engine, query, settings={**asdict(cluster), "scale": scale})
    record.peak_measures = "highest RSS of one worker process"
    record.settings.update(runner_options or {})
    if engine == "dask":
        runner = VanillaCluster(cluster)
        record.settings["cluster"] = "plain LocalCluster"
    else:
        runner = DaskRunner(**asdict(cluster), **(runner_options or {}), spill_alert_interval=0.0)
        record.settings["cluster"] = "DaskRunner LocalCluster"
    counter = SpillCounter(runner.cluster.scheduler_address)
    try:
        with WorkerMemorySampler() as sampler:
            outcome: dict[str, Any] = {}
            start = time.perf_counter()
            worker = threading.Thread(
                target=_attempt,
                daemon=True,
                args=(outcome, engine, query, paths, runner, partition_bytes, record),
            )
            worker.start()
            worker.join(timeout)
            record.seconds = round(time.perf_counter() - start, 2)
            if _finished(
                record, worker.is_alive(), outcome, timeout, " (workers paused or deadlocked)"
            ):
                answer = outcome.pop("table")
                record.seconds = outcome["seconds"]
                if isinstance(answer, Summary):  # spillframe: streamed into the checks
                    record.rows = answer.rows
                    record.problems = check_summary(answer, reference)
                else:  # dask.dataframe: collected in the driver
                    record.rows = answer.num_rows
                    record.problems = check_result(query, answer, reference)
                record.status = "wrong" if record.problems else "ok"
                del answer
            time.sleep(1.5)  # let the spill reporters publish their last counts
        record.peak_mib = round(sampler.peak_bytes / MIB, 1)
        record.worker_processes = len(sampler.peaks)
        record.spilled_mib = round(counter.bytes / MIB, 1)
        record.spilled_objects = counter.objects
    finally:
        if record.status != "timeout":
            counter.close()
            runner.close()
    return record


def run_local_case(
    engine: str, query: str, scale: float, budget: LocalBudget, timeout: float = 600
) -> Record:
    """Run ``query`` in this process with the PyRunner or DuckDB under ``budget``.

    The result is streamed batch by batch into the checks (never collected), so
    the peak RSS is the engine's working memory, not the size of the answer.
    """
    paths = ensure_data(scale)
    reference = reference_answers(paths, scale)[query]
    spill_dir = SPILL_ROOT / f"{engine}-{query}"
    shutil.rmtree(spill_dir, ignore_errors=True)
    spill_dir.mkdir(parents=True)
    record = Record(engine, query, settings={**asdict(budget), "scale": scale})
    record.settings["spill_dir"] = str(spill_dir.relative_to(DATA_ROOT.parent.parent.parent))
    record.peak_measures = "RSS of the benchmark process (engine in-process)"
    runner = None
    if engine == "spillframe-py":
        import spillframe

        runner = spillframe.set_runner_py(
            num_threads=budget.threads,
            memory_limit=budget.py_memory_limit,
            spill_dir=str(spill_dir),
        )
        changes = (
            {"partition_bytes": budget.py_partition_bytes} if budget.py_partition_bytes else {}
        )

        def batches() -> Any:
            from spillframe.api.execution import runner_config

            with spillframe.config.configure(**changes):
                # What the plan uses: the runner's suggestion unless given here.
                record.settings["partition_bytes"] = runner_config(runner).partition_bytes
                yield from spillframe_batches(query, paths)
    elif engine == "duckdb":

        def batches() -> Any:
            yield from duckdb_batches(
                query, paths, budget.duckdb_memory_limit, budget.threads, spill_dir
            )
    else:
        raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES}")

    outcome: dict[str, Any] = {}

    def attempt() -> None:
        start = time.perf_counter()
        try:
            outcome["summary"] = summarize(query, batches())
            outcome["seconds"] = round(time.perf_counter() - start, 2)
        except Exception as exc:  # noqa: BLE001 - a failure is a result here
            outcome["error"] = f"{type(exc).__name__}: {exc}"[:1500]

    with ProcessMemorySampler(spill_dir if engine == "duckdb" else None) as sampler:
        start = time.perf_counter()
        thread = threading.Thread(target=attempt, daemon=True)
        thread.start()
        thread.join(timeout)
        record.seconds = round(time.perf_counter() - start, 2)
    record.peak_mib = round(sampler.peak_bytes / MIB, 1)
    if _finished(record, thread.is_alive(), outcome, timeout):
        summary = outcome["summary"]
        record.seconds = outcome["seconds"]
        record.rows = summary.rows
        record.problems = check_summary(summary, reference)
        record.status = "wrong" if record.problems else "ok"
    if engine == "spillframe-py":
        stats = getattr(runner, "last_spill_stats", None)
        if stats is not None:
            record.spilled_mib = round(stats.spilled_bytes / MIB, 1)
            record.spilled_objects = stats.spilled_objects
    else:
        # DuckDB reports no spill total: the peak size of its temp directory, sampled
        record.spilled_mib = round(sampler.peak_dir_bytes / MIB, 1)
        record.settings["spilled_measures"] = "peak temp_directory size"
    if record.status != "timeout":
        shutil.rmtree(spill_dir, ignore_errors=True)
    return record


class VanillaCluster:
    """A LocalCluster as a dask.dataframe user starts it, plus the spill reporter.

    The reporter only publishes counters; it changes nothing in how the workers
    manage memory (unlike the DaskRunner's allocator settings and trimming).
    """

    def __init__(self, cluster: Cluster) -> None:
        import distributed
        from spillframe_dask.spill import SpillReporter

        self.cluster = distributed.LocalCluster(**asdict(cluster), dashboard_address=":0")
        self.client = distributed.Client(self.cluster, set_as_default=False)
        self.client.register_plugin(SpillReporter(interval=0.0))

    def close(self) -> None:
        self.client.close()
        self.cluster.close()


def _finished(
    record: Any, alive: bool, outcome: dict[str, Any], timeout: float, hint: str = ""
) -> bool:
    """Mark ``record`` as timed out or failed; True when the attempt produced an answer."""
    if alive:
        record.status = "timeout"
        record.error = f"no answer within {timeout:g} s{hint}"
        return False
    if "error" in outcome:
        record.status = "failed"
        record.error = outcome["error"]
        return False
    return True


def _attempt(outcome: dict[str, Any], *args: Any) -> None:
    """Run one query on a thread, leaving its table (or error) in ``outcome``."""
    start = time.perf_counter()
    try:
        outcome["table"] = _execute(*args)
        outcome["seconds"] = round(time.perf_counter() - start, 2)
    except Exception as exc:  # noqa: BLE001 - a failure is a result here
        outcome["error"] = f"{type(exc).__name__}: {exc}"[:1500]


def _execute(
    engine: str, query: str, paths: dict, runner: Any, partition_bytes: int | None, record: Record
) -> Any:
    if engine in ("dask", "dask-tuned"):
        return dask_query(query, paths, runner.client)
    if engine not in DASK_ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES}")
    import spillframe.config
    from spillframe.api.execution import runner_config
    from spillframe.runners.base import set_active_runner

    changes = {"partition_bytes": partition_bytes} if partition_bytes else {}
    previous = set_active_runner(runner)
    try:
        with spillframe.config.configure(**changes):
            # What the plan uses: the runner's suggestion unless given here.
            record.settings["partition_bytes"] = runner_config(runner).partition_bytes
            # Streamed partition by partition into the checks, as the PyRunner's and
            # DuckDB's answers are: collecting the 1.4 GiB join in the driver took the
            # Dask runner's join from 6.0 to 7.7 s (the driver faulting in fresh memory
            # for every partition it keeps) and left outputs waiting on the workers.
            return summarize(query, spillframe_batches(query, paths))
    finally:
        set_active_runner(previous)


REPO_ROOT = DATA_ROOT.parents[2]


def run_in_subprocess(
    engine: str,
    query: str,
    options: list[str],
    timeout: float,
    log_name: str,
    env: dict[str, str] | None = None,
) -> dict:
    """Run one case in its own process (``python -m benchmarks.out_of_core.case``) and
    return its record; a process that hangs past ``timeout`` or prints no record gives a
    ``timeout`` or ``failed`` record. ``options`` are further command-line options of
    this module; ``env`` adds environment variables; stderr goes to ``logs/log_name``."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.out_of_core.case",
        "--engine",
        engine,
        "--query",
        query,
        "--timeout",
        f"{timeout:g}",
        *options,
    ]
    log = DATA_ROOT / "logs" / log_name  # git-ignored, like the data
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"-- {engine} {query} (log: {log.relative_to(REPO_ROOT)})", flush=True)
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    with log.open("w") as err:
        try:
            done = subprocess.run(
                command,
                cwd=REPO_ROOT,
                env={**os.environ, **(env or {}), "PYTHONPATH": path},
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                timeout=timeout + 120,
            )  # the case enforces timeout itself
        except subprocess.TimeoutExpired:
            return _record(engine, query, "timeout", f"no answer within {timeout:g} s")
    for line in done.stdout.splitlines():
        if line.startswith("RECORD "):
            return json.loads(line[len("RECORD ") :])
    return _record(
        engine, query, "failed", f"case process exited with {done.returncode}; see {log.name}"
    )


def _record(engine: str, query: str, status: str, error: str) -> dict:
    return asdict(Record(engine, query, status=status, error=error))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=ENGINES, required=True)
    parser.add_argument("--query", required=True)
    parser.add_argument("--scale", type=float, default=1)
    parser.add_argument("--memory-limit", default="512 MiB")
    parser.add_argument("--partition-bytes", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--runner-option",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="extra DaskRunner option, e.g. memory_target=0.5 (repeatable)",
    )
    parser.add_argument(
        "--py-memory-limit",
        type=int,
        default=LocalBudget().py_memory_limit,
        help="spillframe-py: the PyRunner's memory_limit in bytes",
    )
    parser.add_argument(
        "--duckdb-memory-limit",
        default=LocalBudget().duckdb_memory_limit,
        help="duckdb: SET memory_limit",
    )
    parser.add_argument(
        "--py-partition-bytes",
        type=int,
        default=LocalBudget().py_partition_bytes,
        help="spillframe-py: partition_bytes (0: spillframe's default)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    record = run_case(
        args.engine,
        args.query,
        args.scale,
        Cluster(memory_limit=args.memory_limit),
        args.partition_bytes,
        args.timeout,
        {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.runner_option)},
        LocalBudget(
            py_memory_limit=args.py_memory_limit,
            py_partition_bytes=args.py_partition_bytes or None,
            duckdb_memory_limit=args.duckdb_memory_limit,
        ),
    )
    print("RECORD " + json.dumps(asdict(record)), flush=True)
    if record.status == "timeout":
        os._exit(0)  # the query thread and a stuck cluster would keep the process alive


if __name__ == "__main__":
    main()
