"""Reusing a hash partitioning: a wide operator on keys the rows are already hash
partitioned on (by a join, a groupby or ``repartition``) exchanges nothing more, and
gets the same answer as pandas. Every case also checks the plan, because the saved
exchange is the point, and a projection that rewrites a key must bring it back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import col
from spillframe.api.execution import physical_plan
from spillframe.testing import assert_df_equal

SMALL = {"partition_bytes": 4 * 1024, "broadcast_join_bytes": 0}


def stage_names(df: sf.DataFrame) -> list[str]:
    return [stage.name for stage in physical_plan(df._builder).stages.values()]


def splits(df: sf.DataFrame) -> int:
    """How many stages split rows by hash (exchanges)."""
    return sum(name.endswith(("hash-split", "agg-partial")) for name in stage_names(df))


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    rng = np.random.default_rng(7)
    n = 3000
    facts = pa.table(
        {
            "k": rng.integers(0, 200, n),
            "b": rng.integers(0, 3, n),
            "x": rng.normal(size=n),
        }
    )
    dims = pa.table({"key": np.arange(0, 220, dtype=np.int32), "w": rng.normal(size=220)})
    return {"facts": facts, "dims": dims}


def pandas_joined(tables: dict[str, pa.Table]) -> pd.DataFrame:
    facts, dims = tables["facts"].to_pandas(), tables["dims"].to_pandas()
    return facts.merge(dims, left_on="k", right_on="key")


def test_groupby_after_join_on_the_same_key_needs_no_exchange(sf_runner, make_df, tables):
    with sf.config.configure(**SMALL):
        facts, dims = make_df(tables["facts"], num_partitions=4), make_df(tables["dims"], 3)
        joined = facts.join(dims, left_on="k", right_on="key")
        query = joined.groupby("k", "b").agg(col("x").sum(), col("w").count())
        assert splits(query) == 2  # the join's two sides, nothing for the groupby
        result = query.to_arrow()
    expected = (
        pandas_joined(tables)
        .groupby(["k", "b"], as_index=False)
        .agg(x=("x", "sum"), w=("w", "count"))
    )
    assert_df_equal(result, expected, check_dtype=False, rtol=1e-9)


def test_renamed_key_keeps_the_partitioning(sf_runner, make_df, tables):
    with sf.config.configure(**SMALL):
        facts, dims = make_df(tables["facts"], num_partitions=4), make_df(tables["dims"], 3)
        joined = facts.join(dims, left_on="k", right_on="key")
        query = joined.select(col("k").alias("kk"), "x").groupby("kk").agg(col("x").max())
        assert splits(query) == 2
        result = query.to_arrow()
    expected = (
        pandas_joined(tables).groupby("k", as_index=False).agg(kk=("k", "first"), x=("x", "max"))
    )
    assert_df_equal(result, expected[["kk", "x"]], check_dtype=False)


def test_rewritten_key_is_exchanged_again(sf_runner, make_df, tables):
    """``k`` keeps its name but not its values: the groupby must split by it again."""
    with sf.config.configure(**SMALL):
        facts, dims = make_df(tables["facts"], num_partitions=4), make_df(tables["dims"], 3)
        joined = facts.join(dims, left_on="k", right_on="key")
        query = joined.with_column("k", col("k") // 7).groupby("k").agg(col("x").count())
        assert splits(query) == 3
        result = query.to_arrow()
    frame = pandas_joined(tables).assign(k=lambda f: f["k"] // 7)
    expected = frame.groupby("k", as_index=False).agg(x=("x", "count"))
    assert_df_equal(result, expected, check_dtype=False)


def test_join_on_a_grouped_side_splits_only_the_other(sf_runner, make_df, tables):
    with sf.config.configure(**SMALL):
        facts, dims = make_df(tables["facts"], num_partitions=4), make_df(tables["dims"], 3)
        totals = facts.groupby("k").agg(col("x").sum().alias("total"))
        query = totals.join(dims, left_on="k", right_on="key", how="left")
        assert splits(query) == 2  # the groupby's exchange, then dims alone
        result = query.to_arrow()
    expected = (
        tables["facts"]
        .to_pandas()
        .groupby("k", as_index=False)
        .agg(total=("x", "sum"))
        .merge(tables["dims"].to_pandas(), left_on="k", right_on="key", how="left")
    )
    assert_df_equal(result, expected, check_dtype=False, rtol=1e-9)


def test_join_on_more_keys_than_the_partitioning(sf_runner, make_df, tables):
    """Rows partitioned on ``k`` alone line up with the other side split on its ``k``."""
    facts = tables["facts"]
    other = pa.table({"k2": facts["k"], "b2": facts["b"], "y": np.arange(len(facts))})
    with sf.config.configure(partition_bytes=64 * 1024, broadcast_join_bytes=0):
        left = make_df(facts, num_partitions=3).repartition(4, "k")
        query = left.join(
            make_df(other, num_partitions=2), left_on=["b", "k"], right_on=["b2", "k2"]
        )
        assert splits(query) == 2  # repartition, then the right side on k2 alone
        result = query.select("k", "b", "x", "y").to_arrow()
    expected = facts.to_pandas().merge(other.to_pandas(), left_on=["b", "k"], right_on=["b2", "k2"])
    assert_df_equal(result, expected[["k", "b", "x", "y"]], check_dtype=False)


def test_explode_keeps_the_partitioning_of_other_columns(sf_runner, make_df):
    table = pa.table({"k": [1, 2, 3, 4] * 50, "v": [[1, 2], [3], [], None] * 50})
    with sf.config.configure(**SMALL):
        query = (
            make_df(table, num_partitions=2)
            .repartition(3, "k")
            .explode("v")
            .groupby("k")
            .agg(col("v").count())
        )
        assert splits(query) == 1  # the repartition only
        result = query.to_arrow()
    assert_df_equal(result, pa.table({"k": [1, 2, 3, 4], "v": [100, 50, 0, 0]}), check_dtype=False)
