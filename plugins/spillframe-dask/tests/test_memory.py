"""Spilling and dying workers, on a dedicated one-worker cluster."""

from __future__ import annotations

import logging
import re
import time

import pytest
import sfdask_kernels as k
from spillframe_dask.runner import DaskRunner

import spillframe as sf
from spillframe.cli import generate_sales
from spillframe.config import configure
from spillframe.errors import RunnerError
from spillframe.physical.plan import PhysicalPlan, StageBuilder, Task, TaskRef
from spillframe.runners.alerts import SPILL_REMEDIES
from spillframe.runners.base import set_active_runner
from spillframe.runners.stats import QueryRecorder

MIB = 1024**2
ALERT = re.compile(
    r"^Spilled \d+ MiB, \d+ objects, write throughput \d+ MiB/s "
    r"\(worker tcp://[\d.:]+, query (?P<query>q\d+)(?P<stage>, stage make-bytes)?\)$"
)


@pytest.fixture(scope="module")
def small_runner(tmp_path_factory):
    # Managed memory above 5% of 1 GiB (~51 MiB) goes to disk; no pause or kill, so
    # the test is about spilling alone. One allowed failure: the second death fails.
    runner = DaskRunner(
        n_workers=1,
        threads_per_worker=1,
        memory_limit="1 GiB",
        memory_target=0.05,
        memory_spill=False,
        memory_pause=False,
        memory_terminate=False,
        allowed_failures=0,
        spill_dir=str(tmp_path_factory.mktemp("spill")),
        spill_alert_interval=1.0,
    )
    yield runner
    runner.close()


def spilling_plan(parts: int, nbytes: int) -> PhysicalPlan:
    b = StageBuilder()
    scan = b.add(
        "make-bytes", [Task(k.make_bytes, (nbytes, i), "make-bytes") for i in range(parts)]
    )
    out = b.add(
        "count-rows",
        [Task(k.count_rows, tuple(TaskRef(scan.id, i) for i in range(parts)), "count-rows")],
    )
    return PhysicalPlan(b.stages, out.id, name="spill-test")


def test_spilling_is_logged_naming_query_and_stage_and_counted_in_stats(small_runner, caplog):
    caplog.set_level(logging.WARNING, logger="spillframe")
    start = time.monotonic()
    plan = spilling_plan(parts=8, nbytes=16 * MIB)
    recorder = QueryRecorder(plan, "dask")
    (out,) = small_runner.run(plan, stats=recorder)
    assert out.column("rows").to_pylist() == [8 * 16 * MIB // 8]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [r.getMessage() for r in caplog.records if r.name == "spillframe"]
        if lines:
            break
        time.sleep(0.2)
    elapsed = time.monotonic() - start
    stats = recorder.finish()
    lines = [r.getMessage() for r in caplog.records if r.name == "spillframe"]
    alerts = [line for line in lines if line.startswith("Spilled ")]
    assert alerts, "no spill alert was logged"
    matches = [ALERT.match(line) for line in alerts]
    assert all(m and m["query"] == stats.query_id for m in matches), alerts
    # Keys are named as they are written, even those read back and gone before the
    # reporter's next look.
    assert all(m["stage"] for m in matches), alerts
    assert lines.count(SPILL_REMEDIES) == 1 and lines[1] == SPILL_REMEDIES
    spilled = sum(int(line.split()[1]) for line in alerts)
    assert spilled >= 16  # at least one 16 MiB partition went to disk
    # At most one line per spill_alert_interval (1 s) per worker.
    assert len(alerts) <= elapsed / 1.0 + 1
    scan = stats.stages[0]
    assert scan.name == "make-bytes" and scan.spilled_bytes >= 16 * MIB
    assert scan.spilled_objects >= 1
    assert stats.spilled_bytes == scan.spilled_bytes + stats.unattributed_spilled_bytes


def test_dataframe_stats_count_what_the_workers_spilled(small_runner, tmp_path, caplog):
    # Before the tests that kill the worker: its replacement runs with distributed's
    # default memory target (0.6), not the runner's memory_target (seen 2026-12-03).
    caplog.set_level(logging.WARNING, logger="spillframe")
    (tmp_path / "sales").mkdir()
    generate_sales(str(tmp_path), 2_000_000)  # ~60 MiB of Arrow data; the target is ~51 MiB
    previous = set_active_runner(small_runner)
    try:
        with configure(partition_bytes=2 << 20):
            # One task merges every scan partition: all of them are held at once.
            df = sf.read_parquet(str(tmp_path / "sales")).into_partitions(1)
            result = df.to_arrow()
    finally:
        set_active_runner(previous)
    stats = df.stats()
    assert stats.rows_out == result.num_rows == 2_000_000
    assert stats.spilled_bytes > 0 and stats.spilled_objects > 0, stats
    spilled = [s.name for s in stats.stages if s.spilled_bytes]
    alerts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Spilled ")]
    assert alerts and all(f"query {stats.query_id}, stage" in line for line in alerts)
    assert any(name in line for line in alerts for name in spilled)


def test_retries_exhausted_names_operator_partition_and_remedies(small_runner):
    b = StageBuilder()
    scan = b.add("scan-range", [Task(k.make_range, (0, 10), "scan-range")])
    boom = b.add("explode-udf", [Task(k.exit_always, (TaskRef(scan.id, 0),), "explode-udf")])
    plan = PhysicalPlan(b.stages, boom.id, name="always-dies")
    with pytest.raises(RunnerError) as info:
        list(small_runner.run(plan))
    message = str(info.value)
    assert (
        "operator 'explode-udf' (stage 1, partition 0, run with its input 'scan-range' of "
        "stage 0) kept killing workers" in message
    )
    assert "1 worker(s) of 1.00 GiB each died" in message
    for remedy in ("more memory", "into_partitions", "memory_bytes"):
        assert remedy in message
    # The nanny replaced the worker: the cluster still answers, and the replacement
    # keeps the runner's memory thresholds (it used to come back with the default 0.6).
    (out,) = small_runner.run(k.single_stage_plan(k.make_range, [(0, 3)]))
    assert out.num_rows == 3
    fractions = small_runner.client.run(
        lambda dask_worker: (
            dask_worker.memory_manager.memory_target_fraction,
            dask_worker.memory_manager.memory_spill_fraction,
            dask_worker.memory_manager.memory_pause_fraction,
        )
    )
    assert list(fractions.values()) == [(0.05, False, False)]
