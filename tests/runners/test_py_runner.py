"""PyRunner: ordering, early stop, resource reservations, spilling."""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest

import spillframe as sf
from spillframe import col
from spillframe.config import configure
from spillframe.runners.py_runner import PyRunner
from spillframe.testing import assert_df_equal


@pytest.fixture
def use_runner():
    """Install a PyRunner built with the given options for one test."""
    created = []

    def install(**options):
        runner = PyRunner(**options)
        created.append((runner, sf.runners.base.set_active_runner(runner)))
        return runner

    yield install
    for runner, previous in reversed(created):
        sf.runners.base.set_active_runner(previous)
        runner.close()


class Counter:
    def __init__(self):
        self.calls = 0
        self.running = 0
        self.max_running = 0
        self.lock = threading.Lock()

    def __call__(self, x):
        with self.lock:
            self.calls += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        time.sleep(0.02)
        with self.lock:
            self.running -= 1
        return x.to_pylist()


def test_limit_stops_scheduling_early(use_runner):
    use_runner(num_threads=2)
    counter = Counter()
    tag = sf.udf(return_dtype=sf.DataType.int64())(counter)
    df = sf.from_pydict({"i": list(range(500))}, num_partitions=50)
    result = df.with_column("j", tag(col("i"))).where(col("j") >= 0).limit(5)
    assert result.to_pydict()["i"] == [0, 1, 2, 3, 4]
    assert counter.calls <= 10, f"{counter.calls} of 50 partitions ran for limit(5)"


def test_show_reads_only_the_first_partitions(use_runner, capsys):
    use_runner(num_threads=2)
    counter = Counter()
    tag = sf.udf(return_dtype=sf.DataType.int64())(counter)
    sf.from_pydict({"i": list(range(500))}, num_partitions=50).with_column(
        "j", tag(col("i"))
    ).where(col("j") % 2 == 0).show(3)
    assert "(showing 3 rows)" in capsys.readouterr().out
    assert counter.calls <= 10


def test_memory_reservations_never_overlap_beyond_the_machine(use_runner):
    runner = use_runner(num_threads=2)
    counter = Counter()
    big = sf.udf(
        return_dtype=sf.DataType.int64(), memory_bytes=int(runner.capacity.memory_bytes * 0.6)
    )(counter)
    df = sf.from_pydict({"i": list(range(40))}, num_partitions=4)
    assert len(df.with_column("j", big(col("i"))).to_pydict()["j"]) == 40
    assert counter.max_running == 1, "two 60%-of-memory reservations ran at once"


def test_small_reservations_run_in_parallel(use_runner):
    use_runner(num_threads=2)
    counter = Counter()
    small = sf.udf(return_dtype=sf.DataType.int64(), memory_bytes=1024)(counter)
    df = sf.from_pydict({"i": list(range(40))}, num_partitions=8)
    df.with_column("j", small(col("i"))).collect()
    assert counter.max_running == 2


def test_request_larger_than_machine_names_udf_and_sizes(use_runner):
    use_runner(num_threads=2)

    @sf.udf(return_dtype=sf.DataType.int64(), num_gpus=1)
    def needs_gpu(x):
        return x.to_pylist()

    df = sf.from_pydict({"i": [1]}).with_column("j", needs_gpu(col("i")))
    with pytest.raises(sf.ResourceError, match=r"needs_gpu requests .*num_gpus=1.*largest worker"):
        df.collect()


def _wide_query():
    n = 60_000
    df = sf.from_pydict(
        {"k": [i % 997 for i in range(n)], "s": [f"value-{i:08d}" for i in range(n)]},
        num_partitions=6,
    )
    return df.sort("s", desc=True).groupby("k").agg(col("s").max().alias("top"))


def test_spills_to_disk_and_cleans_up(use_runner, tmp_path, caplog):
    expected = _wide_query().to_pandas()
    runner = use_runner(num_threads=2, memory_limit=256 * 1024, spill_dir=str(tmp_path))
    with configure(partition_bytes=200 * 1024), caplog.at_level(logging.WARNING, "spillframe"):
        result = _wide_query().to_pandas()
    assert_df_equal(result, expected)
    stats = runner.last_spill_stats
    assert stats.spilled_bytes > 0 and stats.unspilled_objects > 0
    assert any(
        r.getMessage().startswith("Spilled ") and "write throughput" in r.getMessage()
        for r in caplog.records
    )
    assert os.listdir(tmp_path) == [], "spill files left behind"


def test_spill_limit_raises_naming_the_directory(use_runner, tmp_path):
    use_runner(
        num_threads=2, memory_limit=64 * 1024, spill_dir=str(tmp_path), spill_limit=100 * 1024
    )
    with (
        configure(partition_bytes=200 * 1024),
        pytest.raises(sf.SpillError, match=r"would exceed its limit"),
    ):
        _wide_query().collect()
    assert os.listdir(tmp_path) == []


def test_progress_bars_name_the_stages(use_runner, capsys):
    use_runner(num_threads=2, progress=True)
    df = sf.from_pydict({"k": list(range(1000))}, num_partitions=4)
    with configure(partition_bytes=2048):
        df.groupby((col("k") % 7).alias("g")).agg(col("k").sum()).collect()
    err = capsys.readouterr().err
    assert "agg-partial" in err and "task" in err


@pytest.mark.parametrize("memory_limit", [1 << 20, 1 << 50])
def test_cached_pages_go_back_to_the_os_after_every_query(use_runner, monkeypatch, memory_limit):
    import pyarrow as pa

    from spillframe.runners import py_runner

    calls = []
    pool = pa.default_memory_pool()

    class Recording:
        backend_name = pool.backend_name

        def release_unused(self):
            calls.append(1)
            pool.release_unused()

    monkeypatch.setattr(py_runner.pa, "default_memory_pool", Recording)
    runner = use_runner(memory_limit=memory_limit)
    runner.release_after_tasks = False  # the per-task release is tested below
    assert sf.from_pydict({"x": list(range(1000))}).where(col("x") > 997).count_rows() == 2
    assert calls == [1]  # once, when the query has finished, whatever the budget


@pytest.mark.parametrize(("backend", "after_tasks"), [("mimalloc", True), ("jemalloc", False)])
def test_freed_pages_go_back_to_the_os_under_any_budget(monkeypatch, backend, after_tasks):
    import pyarrow as pa

    from spillframe.runners import py_runner

    decays = []

    class Pool:
        backend_name = backend

    monkeypatch.setattr(py_runner.pa, "default_memory_pool", Pool)
    monkeypatch.setattr(py_runner.pa, "jemalloc_set_decay_ms", decays.append)
    assert PyRunner(memory_limit="1GiB").release_after_tasks is after_tasks
    assert PyRunner().release_after_tasks is after_tasks  # the default budget as well
    assert decays == ([] if after_tasks else [py_runner.FREED_PAGES_DECAY_MS] * 2)
    assert pa is py_runner.pa


@pytest.mark.parametrize(
    ("text", "expected"), [("256MiB", 256 << 20), ("1 GiB", 1 << 30), (1 << 28, 1 << 28)]
)
def test_memory_limit_takes_sizes(text, expected):
    runner = PyRunner(memory_limit=text, spill_limit="2GiB")
    assert runner.memory_limit == expected and runner.spill_limit == 2 << 30
    runner.close()


def test_a_bad_memory_limit_names_the_option():
    with pytest.raises(ValueError, match=r"memory_limit must be .*'256MiB'"):
        PyRunner(memory_limit="a lot")


def test_stored_outputs_and_reservations_stay_within_the_budget(use_runner, tmp_path, monkeypatch):
    from spillframe.runners import spill

    # put() adds memory and make_room() is what a task's thread calls before it runs
    # (its reservation was counted when it was admitted); serialized here, each one's
    # state after it returned is what it left (other calls only take memory away).
    seen, serial = [], threading.Lock()

    def checked(method):
        def call(store, *args, **kwargs):
            with serial:
                method(store, *args, **kwargs)
                with store._lock:
                    held = store.memory_bytes - store._writing_bytes + store.reserved_bytes
                    seen.append((held, store.memory_limit, bool(store._memory)))

        return call

    for name in ("put", "make_room"):
        monkeypatch.setattr(spill.SpillStore, name, checked(getattr(spill.SpillStore, name)))
    reserve = spill.SpillStore.reserve

    def serialized_reserve(store, *args, **kwargs):
        with serial:  # not between a checked call and its check
            reserve(store, *args, **kwargs)

    monkeypatch.setattr(spill.SpillStore, "reserve", serialized_reserve)
    expected = _wide_query().to_pandas()
    runner = use_runner(num_threads=2, memory_limit=512 * 1024, spill_dir=str(tmp_path))
    with configure(partition_bytes=64 * 1024):
        assert_df_equal(_wide_query().to_pandas(), expected)
    assert seen and runner.last_spill_stats.spilled_bytes > 0
    # Over the budget only when nothing spillable is left (every table claimed by tasks).
    assert all(held <= limit or not spillable for held, limit, spillable in seen)


@pytest.mark.parametrize("query", ["sort", "groupby", "join"])
def test_a_task_larger_than_the_budget_runs_out_of_core(use_runner, tmp_path, query):
    n = 40_000
    data = {"k": [(i * 7919) % 5003 for i in range(n)], "s": [f"s{i:07d}" for i in range(n)]}
    other = {"k": list(range(0, 5003, 3)), "t": [f"t{i}" for i in range(0, 5003, 3)]}

    def build():
        df = sf.from_pydict(data)  # one partition: one task holds all of it
        if query == "sort":
            return df.sort(["k", "s"])
        if query == "groupby":
            return df.groupby("k").agg(col("s").max().alias("m"), col("s").count().alias("c"))
        return df.join(sf.from_pydict(other), on="k", strategy="hash")

    expected = build().to_pandas()
    runner = use_runner(num_threads=2, memory_limit=256 * 1024, spill_dir=str(tmp_path))
    with configure(partition_bytes=64 << 20):  # a plan of one big task
        result = build().to_pandas()
    if query == "sort":
        assert result.equals(expected)
    else:
        assert_df_equal(result, expected)
    assert runner.last_spill_stats.spilled_bytes > 0, "the kernel did not go out of core"
    assert os.listdir(tmp_path) == []
