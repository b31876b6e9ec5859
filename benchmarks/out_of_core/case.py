"""Run one (engine, query) case on a fresh LocalCluster and print its record as JSON.

Usage: ``python -m benchmarks.out_of_core.case --engine dask --query sort``.
Each case runs in its own process so that a crash or a hang of one engine
cannot leak memory, workers or spill files into the next case.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.out_of_core.data import ensure_data, reference_answers
from benchmarks.out_of_core.monitor import MIB, SpillCounter, WorkerMemorySampler
from benchmarks.out_of_core.queries import check_result, dask_query, spillframe_query

ENGINES = ("spillframe", "dask", "dask-tuned")


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
    peak_worker_mib: float | None = None
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
) -> Record:
    from spillframe_dask.runner import DaskRunner

    paths = ensure_data(scale)
    reference = reference_answers(paths, scale)[query]
    record = Record(engine, query, settings={**asdict(cluster), "scale": scale})
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
            if worker.is_alive():
                record.status = "timeout"
                record.error = f"no answer within {timeout:g} s (workers paused or deadlocked)"
            elif "error" in outcome:
                record.status = "failed"
                record.error = outcome["error"]
            else:
                table = outcome.pop("table")
                record.seconds = outcome["seconds"]
                record.rows = table.num_rows
                record.problems = check_result(query, table, reference)
                record.status = "wrong" if record.problems else "ok"
                del table
            time.sleep(1.5)  # let the spill reporters publish their last counts
        record.peak_worker_mib = round(sampler.peak_bytes / MIB, 1)
        record.worker_processes = len(sampler.peaks)
        record.spilled_mib = round(counter.bytes / MIB, 1)
        record.spilled_objects = counter.objects
    finally:
        if record.status != "timeout":
            counter.close()
            runner.close()
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
    if engine != "spillframe":
        raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES}")
    import spillframe.config
    from spillframe.runners.base import set_active_runner

    changes = {"partition_bytes": partition_bytes} if partition_bytes else {}
    previous = set_active_runner(runner)
    try:
        with spillframe.config.configure(**changes) as config:
            record.settings["partition_bytes"] = config.partition_bytes
            return spillframe_query(query, paths)
    finally:
        set_active_runner(previous)


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
    )
    print("RECORD " + json.dumps(asdict(record)), flush=True)
    if record.status == "timeout":
        os._exit(0)  # the query thread and a stuck cluster would keep the process alive


if __name__ == "__main__":
    main()
