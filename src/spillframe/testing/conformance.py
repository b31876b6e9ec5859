"""RunnerConformance: the behaviour every runner must share.

A third-party runner proves it behaves like the built-in ones by subclassing::

    from spillframe.testing import RunnerConformance

    class TestMyRunner(RunnerConformance):
        runner_name = "mine"            # its name in the spillframe.runners entry points
        runner_options = {"workers": 2}

pytest collects the inherited tests and runs them with that runner active.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import spillframe as sf
from spillframe.config import configure
from spillframe.runners.base import Runner, create_runner, set_active_runner
from spillframe.testing.asserts import assert_df_equal


def _frame(n: int = 200) -> dict[str, list[Any]]:
    return {
        "k": [i % 7 if i % 11 else None for i in range(n)],
        "v": [float(i) * 0.5 for i in range(n)],
        "s": [f"s{i % 13}" for i in range(n)],
    }


class RunnerConformance:
    """Shared behaviour suite; set ``runner_name`` (and ``runner_options``) in a subclass."""

    runner_name: ClassVar[str] = ""
    runner_options: ClassVar[dict[str, Any]] = {}

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _conformance_runner(cls) -> Iterator[Runner]:
        if not cls.runner_name:
            pytest.skip("RunnerConformance subclasses must set runner_name")
        runner = create_runner(cls.runner_name, **cls.runner_options)
        previous = set_active_runner(runner)
        try:
            yield runner
        finally:
            set_active_runner(previous)
            runner.close()

    def test_runner_is_active(self) -> None:
        assert sf.get_runner().name == self.runner_name

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
