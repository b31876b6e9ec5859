"""A groupby on a key whose Parquet row groups fall in disjoint ranges per partition
aggregates each partition alone: no exchange, the same answer."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import spillframe as sf
from spillframe import col
from spillframe.api.execution import physical_plan
from spillframe.config import configure
from spillframe.testing import assert_df_equal


def _write(directory, name, keys, rng):
    n = len(keys)
    table = pa.table(
        {
            "k": pa.array(keys, pa.int64()),
            "v": rng.normal(size=n),
            "s": [f"s{i % 7}" for i in range(n)],
        }
    )
    pq.write_table(table, directory / name, row_group_size=500)
    return table


def _exchanges(df) -> int:
    """Stages whose tasks split their rows into buckets for other tasks."""
    stages = physical_plan(df._builder).stages.values()
    return sum(any(t.num_outputs > 1 for t in s.tasks) for s in stages)


def _expected(tables, keys):
    frame = pa.concat_tables(tables).to_pandas()
    return frame.groupby(keys, as_index=False).agg(total=("v", "sum"), n=("v", "count"))


@pytest.fixture
def sorted_files(tmp_path):
    rng = np.random.default_rng(3)
    # Each file holds its own key range, each key on several rows.
    tables = [
        _write(tmp_path, f"part-{i}.parquet", np.repeat(np.arange(i * 300, (i + 1) * 300), 4), rng)
        for i in range(4)
    ]
    return tmp_path, tables


def test_disjoint_key_ranges_need_no_exchange(sf_runner, sorted_files):
    directory, tables = sorted_files
    with configure(partition_bytes=16 * 1024):
        df = sf.read_parquet(str(directory))
        query = df.groupby("k").agg(col("v").sum().alias("total"), col("v").count().alias("n"))
        assert physical_plan(query._builder).output.num_partitions > 1
        assert _exchanges(query) == 0
        assert_df_equal(query.to_arrow(), _expected(tables, ["k"]), rtol=1e-9)
        # A key set holding the ranged column, and the column renamed, still qualify.
        wide = df.groupby("k", "s").agg(col("v").sum().alias("total"), col("v").count().alias("n"))
        assert _exchanges(wide) == 0
        assert_df_equal(
            wide.to_arrow(), _expected(tables, ["k", "s"]), rtol=1e-9, check_dtype=False
        )
        renamed = df.select(col("k").alias("key"), "v").groupby("key").agg(col("v").sum())
        assert _exchanges(renamed) == 0
        # A key computed from the column does not.
        shifted = df.with_column("k2", col("k") // 2).groupby("k2").agg(col("v").sum())
        assert _exchanges(shifted) == 1


def test_overlapping_ranges_or_nulls_keep_the_exchange(sf_runner, tmp_path):
    rng = np.random.default_rng(4)
    tables = [
        _write(tmp_path, "a.parquet", np.repeat(np.arange(0, 600), 2), rng),
        _write(tmp_path, "b.parquet", np.repeat(np.arange(500, 1100), 2), rng),  # overlaps a
    ]
    with configure(partition_bytes=16 * 1024):
        query = (
            sf.read_parquet(str(tmp_path))
            .groupby("k")
            .agg(col("v").sum().alias("total"), col("v").count().alias("n"))
        )
        assert _exchanges(query) == 1
        assert_df_equal(query.to_arrow(), _expected(tables, ["k"]), rtol=1e-9)
    nulls = tmp_path / "nulls"
    nulls.mkdir()
    for i in range(2):
        keys = pa.array(list(range(i * 100, (i + 1) * 100)) + [None], pa.int64())
        pq.write_table(pa.table({"k": keys, "v": np.ones(101)}), nulls / f"{i}.parquet")
    with configure(partition_bytes=1024):
        query = sf.read_parquet(str(nulls)).groupby("k").agg(col("v").sum())
        assert physical_plan(query._builder).output.num_partitions > 1
        assert _exchanges(query) == 1  # the null keys of both files form one group
        result = {r["k"]: r["v"] for r in query.to_arrow().to_pylist()}
    assert result[None] == 2 and len(result) == 201
