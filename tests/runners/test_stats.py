"""df.stats() and explain(analyze=True): the numbers match what the query did."""

from __future__ import annotations

import io
import logging
import re

import pytest

import spillframe as sf
from spillframe import col
from spillframe.api.execution import physical_plan, query_name, runner_config
from spillframe.config import configure
from spillframe.runners.alerts import SPILL_REMEDIES
from spillframe.runners.py_runner import PyRunner
from spillframe.runners.stats import peak_concurrent

N = 6_000


def _query(make_df):
    facts = make_df(
        {"k": [i % 50 for i in range(N)], "v": list(range(N)), "s": [f"s{i}" for i in range(N)]},
        num_partitions=4,
    )
    dims = make_df({"k": list(range(0, 50, 2)), "name": [f"d{i}" for i in range(0, 50, 2)]})
    return (
        facts.where(col("v") % 3 != 0)
        .join(dims, on="k", strategy="hash")
        .groupby("name")
        .agg(col("v").sum().alias("total"))
        .sort("name")
    )


def test_stats_describe_every_stage_of_the_query(sf_runner, make_df):
    df = _query(make_df)
    planned = physical_plan(df._plan, query_name(df._plan), runner_config(sf_runner))
    result = df.to_arrow()
    stats = df.stats()
    assert stats.runner == sf_runner.name and stats.complete
    assert stats.rows_out == result.num_rows == 25
    assert stats.wall_seconds >= max(s.wall_seconds for s in stats.stages)
    if not sf_runner.records_stats:
        # The core records what it sees of any runner: the output partitions.
        (only,) = [s for s in stats.stages if s.tasks]
        assert only.stage_id == planned.output_stage
        assert only.tasks == planned.output.num_partitions
        return
    assert [s.name for s in stats.stages] == [s.name for s in planned.topological_stages()]
    for stage in stats.stages:
        assert stage.tasks == stage.planned_tasks == planned.stages[stage.stage_id].num_partitions
        assert stage.wall_seconds >= 0 and stage.task_seconds > 0
        assert stage.bytes_out > 0 and stage.rows_out > 0
        assert stage.peak_reserved_bytes > 0
    # The first stage reads the facts: every filtered row leaves it (in some bucket).
    kept = sum(1 for v in range(N) if v % 3 != 0)
    facts_stage = next(s for s in stats.stages if s.rows_out == kept)
    assert facts_stage.stage_id < stats.output_stage
    assert stats.to_pandas()["rows_out"].iloc[-1] == 25


def test_each_eager_call_replaces_the_stats(sf_runner, make_df):
    df = make_df({"a": list(range(100))}, num_partitions=4).where(col("a") >= 10)
    with pytest.raises(ValueError, match="no query has run on this DataFrame yet"):
        df.stats()
    assert df.count_rows() == 90
    assert df.stats().rows_out == 1  # the count's one row
    df.show(3, file=io.StringIO())
    assert df.stats().rows_out >= 3
    first = df.collect().stats()
    assert first.rows_out == 90
    df.to_pandas()  # from the cache: no query, the stats stay
    df.show(2, file=io.StringIO())
    assert df.stats() is first


def test_a_query_stopped_early_says_so():
    runner = PyRunner(num_threads=1)  # runs at most two partitions ahead of the consumer
    previous = sf.runners.base.set_active_runner(runner)
    try:
        _stop_early()
    finally:
        sf.runners.base.set_active_runner(previous)
        runner.close()


def _stop_early():
    df = sf.from_pydict({"a": list(range(1000))}, num_partitions=8).where(col("a") >= 0)
    partitions = df.iter_partitions()
    next(partitions)
    partitions.close()
    stats = df.stats()
    assert not stats.complete and "stopped early" in stats.summary()
    assert stats.stage(stats.output_stage).tasks < 8
    assert df.limit(5).to_arrow().num_rows == 5


def test_explain_analyze_prints_actuals_beside_estimates(sf_runner, make_df):
    df = _query(make_df)
    text = io.StringIO()
    df.explain(analyze=True, file=text)
    out = text.getvalue()
    stats = df.stats()
    stage_lines = [line for line in out.splitlines() if line.startswith("Stage ")]
    actual_lines = [line for line in out.splitlines() if line.startswith("    actual: ")]
    assert len(stage_lines) == len(actual_lines)
    assert len(stats.stages) == len(stage_lines)
    assert all("est. " in line and "per task: memory" in line for line in stage_lines)
    output_line = actual_lines[-1]
    assert f"{stats.rows_out} rows" in output_line and output_line.count("tasks") == 1
    assert f"Ran query {stats.query_id} " in out
    if sf_runner.name == "dask":
        assert "worker restarts" in output_line


def _wide_query():
    n = 40_000
    df = sf.from_pydict(
        {"k": [i % 997 for i in range(n)], "s": [f"value-{i:08d}" for i in range(n)]},
        num_partitions=6,
    )
    return df.sort("s", desc=True).groupby("k").agg(col("s").max().alias("top"))


@pytest.fixture
def tiny_py_runner(tmp_path):
    runner = PyRunner(num_threads=2, memory_limit=256 * 1024, spill_dir=str(tmp_path))
    previous = sf.runners.base.set_active_runner(runner)
    yield runner
    sf.runners.base.set_active_runner(previous)
    runner.close()


def test_spilling_shows_in_stats_and_in_alerts_naming_query_and_stage(tiny_py_runner, caplog):
    df = _wide_query()
    with configure(partition_bytes=200 * 1024), caplog.at_level(logging.WARNING, "spillframe"):
        result = df.to_arrow()
    stats = df.stats()
    assert stats.rows_out == result.num_rows == 997
    assert stats.spilled_bytes > 0 and stats.spilled_objects > 0
    assert stats.spilled_bytes == tiny_py_runner.last_spill_stats.spilled_bytes
    spilled_stages = {s.name for s in stats.stages if s.spilled_bytes}
    lines = [r.getMessage() for r in caplog.records if r.name == "spillframe"]
    alerts = [line for line in lines if line.startswith("Spilled ")]
    assert alerts, lines
    pattern = re.compile(
        r"^Spilled \d+ MiB, \d+ objects, write throughput \d+ MiB/s "
        rf"\(worker local, query {stats.query_id}, stages? (?P<stages>[\w, -]+)\)$"
    )
    for line in alerts:
        match = pattern.match(line)
        assert match, line
        assert set(match["stages"].split(", ")) <= spilled_stages
    # The remedies follow the query's first alert, once.
    assert lines.count(SPILL_REMEDIES) == 1
    assert lines.index(SPILL_REMEDIES) == lines.index(alerts[0]) + 1
    for remedy in (
        "more memory",
        "more workers",
        "faster local disk",
        ".where(",
        "into_partitions",
    ):
        assert remedy in SPILL_REMEDIES


def test_peak_concurrent_counts_overlapping_reservations_only():
    assert peak_concurrent([]) == 0
    assert peak_concurrent([(0, 1, 5), (1, 2, 7)]) == 7  # back to back
    assert peak_concurrent([(0, 3, 5), (1, 2, 7), (2.5, 4, 1)]) == 12


def test_stats_read_as_text_table_and_html(make_df):
    df = make_df({"a": list(range(10))}, num_partitions=2).where(col("a") > 4)
    df.collect()
    stats = df.stats()
    text = repr(stats)
    lines = text.splitlines()
    assert lines[0] == stats.summary() and lines[1].split()[:3] == ["stage", "operator", "tasks"]
    assert len(lines) == 2 + len(stats.stages)
    html = stats._repr_html_()
    assert html.startswith("<p>query ") and html.count("<tr") == 1 + len(stats.stages)
