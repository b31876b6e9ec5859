"""RunnerConformance: the behaviour every runner must share.

A third-party runner proves it behaves like the built-in ones by subclassing::

    from spillframe.testing import RunnerConformance

    class TestMyRunner(RunnerConformance):
        runner_name = "mine"            # its name in the spillframe.runners entry points
        runner_options = {"workers": 2}

or, for a runner that is not registered, with a factory::

    class TestMyRunner(RunnerConformance):
        runner_factory = MyRunner       # any callable () -> Runner

pytest collects the inherited tests and runs them with that runner active. Besides
queries through the API, the suite runs hand-built physical plans through
``runner.run`` to check the contract of :class:`spillframe.runners.base.Runner`:
laziness, early stop, unreachable stages, resource errors and exception types. Their
kernels leave marker files in a temporary directory, so that they can be observed in
any process the runner runs them in.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import spillframe as sf
from spillframe.config import configure
from spillframe.physical.plan import PhysicalPlan, StageBuilder, Task, TaskRef
from spillframe.resources import ResourceRequest
from spillframe.runners.base import Runner, create_runner, set_active_runner
from spillframe.testing.asserts import assert_df_equal


def _frame(n: int = 200) -> dict[str, list[Any]]:
    return {
        "k": [i % 7 if i % 11 else None for i in range(n)],
        "v": [float(i) * 0.5 for i in range(n)],
        "s": [f"s{i % 13}" for i in range(n)],
    }


class ConformanceKernelError(ValueError):
    """Raised by a conformance kernel: a runner must let it reach the caller as it is."""


def marked_range(marker_dir: str, index: int, seconds: float = 0.0) -> pa.Table:
    """Ten ints starting at ``10 * index``, after ``seconds``; leaves the file
    ``task-<index>`` in ``marker_dir`` to show it ran."""
    time.sleep(seconds)
    Path(marker_dir, f"task-{index}").touch()
    return pa.table({"i": pa.array(range(10 * index, 10 * index + 10), pa.int64())})


def concat_inputs(*tables: pa.Table) -> pa.Table:
    return pa.concat_tables(tables)


def raise_kernel_error(message: str) -> pa.Table:
    raise ConformanceKernelError(message)


def _markers(marker_dir: Path) -> set[str]:
    return {p.name for p in marker_dir.iterdir()}


def _plan(builder: StageBuilder, output: int) -> PhysicalPlan:
    return PhysicalPlan(dict(builder.stages), output, "conformance")


def _marked_stage(builder: StageBuilder, marker_dir: Path, indices: range, **task: Any) -> int:
    seconds = task.pop("seconds", 0.0)
    tasks = [
        Task(marked_range, (str(marker_dir), i, seconds), "marked-range", **task) for i in indices
    ]
    return builder.add("marked-range", tasks).id


class RunnerConformance:
    """Shared behaviour suite; in a subclass set ``runner_name`` (and ``runner_options``)
    of a registered runner, or a ``runner_factory``."""

    runner_name: ClassVar[str] = ""
    runner_options: ClassVar[dict[str, Any]] = {}
    runner_factory: ClassVar[Callable[[], Runner] | None] = None

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def conformance_runner(cls) -> Iterator[Runner]:
        """The runner under test, active while the class's tests run."""
        if cls.runner_factory is not None:
            runner = cls.runner_factory()
        elif cls.runner_name:
            runner = create_runner(cls.runner_name, **cls.runner_options)
        else:
            pytest.skip("RunnerConformance subclasses set runner_name or runner_factory")
        previous = set_active_runner(runner)
        try:
            yield runner
        finally:
            set_active_runner(previous)
            runner.close()

    def test_runner_is_active(self, conformance_runner: Runner) -> None:
        assert sf.get_runner() is conformance_runner
        assert not self.runner_name or conformance_runner.name == self.runner_name

    # -- the Runner contract, on hand-built plans -------------------------------------------

    def test_nothing_runs_before_the_first_partition(
        self, conformance_runner: Runner, tmp_path: Path
    ) -> None:
        builder = StageBuilder()
        plan = _plan(builder, _marked_stage(builder, tmp_path, range(2)))
        stream = conformance_runner.run(plan)
        try:
            time.sleep(0.3)
            assert _markers(tmp_path) == set(), "a task ran before a partition was asked for"
            assert next(iter(stream)).column("i").to_pylist() == list(range(10))
            assert "task-0" in _markers(tmp_path)
        finally:
            getattr(stream, "close", lambda: None)()

    def test_unreachable_stages_never_run(self, conformance_runner: Runner, tmp_path: Path) -> None:
        builder = StageBuilder()
        unread = _marked_stage(builder, tmp_path, range(90, 92))
        inputs = _marked_stage(builder, tmp_path, range(2))
        merged = builder.add(
            "concat", [Task(concat_inputs, (TaskRef(inputs, 0), TaskRef(inputs, 1)), "concat")]
        )
        plan = _plan(builder, merged.id)
        assert unread not in {stage for stage, _ in plan.reachable()}
        tables = list(conformance_runner.run(plan))
        assert pa.concat_tables(tables).column("i").to_pylist() == list(range(20))
        assert _markers(tmp_path) == {"task-0", "task-1"}

    def test_closing_the_stream_stops_the_work(
        self, conformance_runner: Runner, tmp_path: Path
    ) -> None:
        total = 40  # 0.1 s each: 4 s of work, unless the runner stops
        builder = StageBuilder()
        plan = _plan(builder, _marked_stage(builder, tmp_path, range(total), seconds=0.1))
        stream = iter(conformance_runner.run(plan))
        assert next(stream).num_rows == 10
        getattr(stream, "close", lambda: None)()
        # Wait until the tasks still running when the stream closed are done.
        seen, deadline = -1, time.monotonic() + 8
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = len(_markers(tmp_path))
            if now == seen:
                break
            seen = now
        assert seen < total, f"all {total} tasks ran although the stream closed after one"

    def test_a_kernel_error_keeps_its_type(self, conformance_runner: Runner) -> None:
        builder = StageBuilder()
        failing = builder.add("fail", [Task(raise_kernel_error, ("kept as it is",), "fail")])
        with pytest.raises(ConformanceKernelError, match="kept as it is"):
            list(conformance_runner.run(_plan(builder, failing.id)))

    def test_an_impossible_request_fails_before_any_task_runs(
        self, conformance_runner: Runner, tmp_path: Path
    ) -> None:
        builder = StageBuilder()
        inputs = _marked_stage(builder, tmp_path, range(1))
        request = ResourceRequest(memory_bytes=1 << 60)
        greedy = builder.add(
            "greedy",
            [Task(concat_inputs, (TaskRef(inputs, 0),), "greedy", request, label="greedy-udf")],
        )
        with pytest.raises(sf.ResourceError, match="greedy-udf"):
            list(conformance_runner.run(_plan(builder, greedy.id)))
        assert _markers(tmp_path) == set()

    # -- queries through the API ----------------------------------------------------------

    def test_partitions_stream_in_order(self) -> None:
        df = sf.from_pydict({"i": list(range(100))}, num_partitions=7)
        parts = list(df.iter_partitions())
        assert len(parts) == 7
        assert pa.concat_tables(parts).column("i").to_pylist() == list(range(100))

    def test_filter_project(self) -> None:
        data = _frame()
        df = sf.from_pydict(data, num_partitions=4)
        result = df.where(sf.col("v") > 20).with_column("w", sf.col("v") * 2)
        expected = pd.DataFrame(data).query("v > 20").assign(w=lambda d: d.v * 2)
        assert_df_equal(result, expected, check_dtype=False)

    def test_groupby_matches_pandas(self) -> None:
        data = _frame()
        with configure(partition_bytes=512):
            df = sf.from_pydict(data, num_partitions=5)
            result = df.groupby("k").agg(
                sf.col("v").sum().alias("total"), sf.col("s").count_distinct().alias("kinds")
            )
        pdf = pd.DataFrame(data)
        expected = (
            pdf.groupby("k", dropna=False)
            .agg(total=("v", "sum"), kinds=("s", "nunique"))
            .reset_index()
        )
        assert_df_equal(result, expected, check_dtype=False)

    def test_join_matches_pandas(self) -> None:
        left = {"k": list(range(50)), "a": [str(i) for i in range(50)]}
        right = {"k": list(range(0, 100, 3)), "b": list(range(34))}
        with configure(partition_bytes=256, broadcast_join_bytes=0):
            result = sf.from_pydict(left, num_partitions=3).join(
                sf.from_pydict(right, num_partitions=2), on="k"
            )
        expected = pd.DataFrame(left).merge(pd.DataFrame(right), on="k")
        assert_df_equal(result, expected, check_dtype=False)

    def test_sort_is_global(self) -> None:
        data = _frame()
        with configure(partition_bytes=256):
            result = sf.from_pydict(data, num_partitions=4).sort(["s", "v"], desc=[True, False])
            assert result.num_partitions() > 1
        expected = pd.DataFrame(data).sort_values(["s", "v"], ascending=[False, True])
        assert_df_equal(result, expected, check_row_order=True, check_dtype=False)

    def test_limit_returns_first_rows(self) -> None:
        df = sf.from_pydict({"i": list(range(1000))}, num_partitions=10)
        assert df.limit(15).to_pydict() == {"i": list(range(15))}

    def test_empty_result_keeps_schema(self) -> None:
        df = sf.from_pydict(_frame(), num_partitions=3).where(sf.col("v") < -1)
        table = df.to_arrow()
        assert table.num_rows == 0
        assert table.schema == df.schema()

    def test_parquet_roundtrip(self, tmp_path: Any) -> None:
        data = _frame()
        pq.write_table(pa.table(data), os.path.join(tmp_path, "in.parquet"), row_group_size=50)
        written = (
            sf.read_parquet(str(tmp_path / "in.parquet"))
            .where(sf.col("k") == 3)
            .write_parquet(str(tmp_path / "out"))
        )
        assert written.count_rows() >= 1
        result = sf.read_parquet(str(tmp_path / "out"))
        expected = pd.DataFrame(data).query("k == 3")
        assert_df_equal(result, expected, check_dtype=False)

    def test_task_error_surfaces(self) -> None:
        def boom(x: Any) -> Any:
            raise ZeroDivisionError("boom from a UDF")

        df = sf.from_pydict({"x": [1, 2, 3]}).with_column(
            "y", sf.col("x").apply(boom, sf.DataType.int64())
        )
        with pytest.raises(Exception, match="boom from a UDF"):
            df.collect()

    def test_impossible_resource_request_fails_at_once(self) -> None:
        @sf.udf(return_dtype=sf.DataType.int64(), memory_bytes=1 << 60)
        def huge(x: sf.Series) -> list[int]:
            return x.to_pylist()

        df = sf.from_pydict({"x": [1]}).with_column("y", huge(sf.col("x")))
        with pytest.raises(sf.ResourceError, match="huge"):
            df.collect()
