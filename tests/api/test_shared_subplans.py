"""A subquery used twice (TPC-H Q15's revenue view, Q11's and Q22's thresholds) is
computed once, when its two uses are the same operators on the same data; anything
that could differ between the uses (names, Python functions) keeps them apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import spillframe as sf
from spillframe import col
from spillframe.api.execution import physical_plan
from spillframe.io.scan import ParquetScan
from spillframe.testing import assert_df_equal


@pytest.fixture(scope="module")
def path(tmp_path_factory) -> str:
    rng = np.random.default_rng(11)
    table = pa.table({"k": rng.integers(0, 50, 5000), "v": rng.normal(size=5000)})
    out = tmp_path_factory.mktemp("shared") / "facts.parquet"
    pq.write_table(table, out, row_group_size=500)
    return str(out)


def file_reads(df: sf.DataFrame) -> int:
    """Tasks that read the Parquet file (a task whose steps read another stage's output
    has its kernel's arguments one level down)."""

    def scans(value) -> int:
        if isinstance(value, ParquetScan):
            return 1
        if isinstance(value, (tuple, list)):
            return sum(scans(v) for v in value)
        return 0

    plan = physical_plan(df._builder)
    return sum(scans(task.args) for stage in plan.stages.values() for task in stage.tasks)


def scan_partitions(path: str) -> int:
    return physical_plan(sf.read_parquet(path)._builder).num_partitions()


def test_a_repeated_aggregation_is_computed_once(sf_runner, path):
    with sf.config.configure(partition_bytes=16 * 1024):
        totals = sf.read_parquet(path).groupby("k").agg(col("v").sum().alias("total"))
        best = totals.agg(col("total").max().alias("best"))
        query = totals.join(best, how="cross").where(col("total") == col("best"))
        assert scan_partitions(path) > 1
        assert file_reads(query) == scan_partitions(path)
        result = query.select("k", "total").to_arrow()
    frame = pd.read_parquet(path).groupby("k", as_index=False).agg(total=("v", "sum"))
    assert_df_equal(result, frame[frame["total"] == frame["total"].max()], rtol=1e-9)


def test_same_work_under_other_names_is_not_merged(sf_runner, path):
    with sf.config.configure(partition_bytes=16 * 1024):
        facts = sf.read_parquet(path)
        a = facts.groupby("k").agg(col("v").sum().alias("a"))
        b = facts.groupby("k").agg(col("v").sum().alias("b"))
        query = a.join(b, on="k")
        assert file_reads(query) == 2 * scan_partitions(path)
        result = query.to_arrow()
    assert result.column_names == ["k", "a", "b"]
    assert np.allclose(result["a"].to_numpy(), result["b"].to_numpy())


def test_subqueries_with_python_functions_run_for_each_use(sf_runner, path):
    with sf.config.configure(partition_bytes=16 * 1024):
        facts = sf.read_parquet(path).with_column(
            "w", col("v").apply(lambda x: x * 2, return_dtype=pa.float64())
        )
        totals = facts.groupby("k").agg(col("w").sum().alias("total"))
        query = totals.join(totals.agg(col("total").max().alias("best")), how="cross")
        assert file_reads(query) == 2 * scan_partitions(path)
        assert query.count_rows() == 50


def test_uses_that_read_different_columns_still_share(sf_runner, tmp_path):
    """One use needs ``u``, the other does not: both read the union of their columns, so
    that the join is computed once (TPC-H Q17 joins lineitem and part this way)."""
    rng = np.random.default_rng(3)
    facts = pa.table(
        {"k": rng.integers(0, 50, 3000), "v": rng.normal(size=3000), "u": rng.normal(size=3000)}
    )
    path = str(tmp_path / "facts.parquet")
    pq.write_table(facts, path, row_group_size=300)
    dims = pa.table({"k": np.arange(50), "w": np.linspace(-1, 1, 50)})
    with sf.config.configure(partition_bytes=16 * 1024):
        joined = sf.read_parquet(path).join(sf.from_arrow(dims), on="k")
        means = joined.groupby("k").agg(col("v").mean().alias("m"))
        query = joined.join(means, on="k").where(col("u") > col("m") + col("w"))
        assert scan_partitions(path) > 1
        assert file_reads(query) == scan_partitions(path)
        result = query.select("k", "u").to_arrow()
    frame = facts.to_pandas().merge(dims.to_pandas(), on="k")
    frame = frame.merge(frame.groupby("k", as_index=False).agg(m=("v", "mean")), on="k")
    expected = frame[frame["u"] > frame["m"] + frame["w"]][["k", "u"]]
    assert_df_equal(result, expected, rtol=1e-9)
