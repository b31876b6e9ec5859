"""A TPC-H Q3-like query (join, join, filter, group, sort, limit) against pandas.

Small customer/orders/lineitem tables are generated here with NumPy (about 5k
lineitem rows), so the test needs no external tools.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import col, lit
from spillframe.api.execution import physical_plan
from spillframe.testing import assert_df_equal

SEGMENTS = ["AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"]
CUTOFF = dt.date(1995, 3, 15)


def generate(seed: int = 3) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    n_customer, n_orders, n_lineitem = 300, 1500, 5000
    start = np.datetime64("1994-01-01")
    customer = pa.table(
        {
            "c_custkey": np.arange(1, n_customer + 1, dtype=np.int64),
            "c_mktsegment": pa.array(rng.choice(SEGMENTS, n_customer)),
        }
    )
    orders = pa.table(
        {
            "o_orderkey": np.arange(1, n_orders + 1, dtype=np.int64),
            # some orders point at customers that do not exist
            "o_custkey": rng.integers(1, n_customer + 20, n_orders).astype(np.int64),
            "o_orderdate": pa.array(
                (start + rng.integers(0, 730, n_orders)).astype("datetime64[D]")
            ),
            "o_shippriority": np.zeros(n_orders, dtype=np.int32),
        }
    )
    lineitem = pa.table(
        {
            "l_orderkey": rng.integers(1, n_orders + 1, n_lineitem).astype(np.int64),
            "l_extendedprice": np.round(rng.uniform(900, 100_000, n_lineitem), 2),
            "l_discount": np.round(rng.integers(0, 11, n_lineitem) / 100, 2),
            "l_shipdate": pa.array(
                (start + rng.integers(0, 760, n_lineitem)).astype("datetime64[D]")
            ),
        }
    )
    return {"customer": customer, "orders": orders, "lineitem": lineitem}


def q3_spillframe(tables: dict[str, sf.DataFrame], segment: str, k: int | None) -> sf.DataFrame:
    customer = tables["customer"].where(col("c_mktsegment") == lit(segment))
    orders = tables["orders"].where(col("o_orderdate") < lit(CUTOFF))
    lineitem = tables["lineitem"].where(col("l_shipdate") > lit(CUTOFF))
    joined = customer.join(orders, left_on="c_custkey", right_on="o_custkey").join(
        lineitem, left_on="o_orderkey", right_on="l_orderkey"
    )
    ordered = (
        joined.with_column("volume", col("l_extendedprice") * (lit(1) - col("l_discount")))
        .groupby("o_orderkey", "o_orderdate", "o_shippriority")
        .agg(col("volume").sum().alias("revenue"))
        .select("o_orderkey", "revenue", "o_orderdate", "o_shippriority")
        .sort(["revenue", "o_orderdate"], desc=[True, False])
    )
    return ordered if k is None else ordered.limit(k)


def q3_pandas(tables: dict[str, pa.Table], segment: str, k: int) -> pd.DataFrame:
    customer, orders, lineitem = (tables[n].to_pandas() for n in ("customer", "orders", "lineitem"))
    cutoff = pd.Timestamp(CUTOFF)
    orders["o_orderdate"] = pd.to_datetime(orders["o_orderdate"])
    lineitem["l_shipdate"] = pd.to_datetime(lineitem["l_shipdate"])
    joined = (
        customer[customer.c_mktsegment == segment]
        .merge(orders[orders.o_orderdate < cutoff], left_on="c_custkey", right_on="o_custkey")
        .merge(lineitem[lineitem.l_shipdate > cutoff], left_on="o_orderkey", right_on="l_orderkey")
    )
    joined["volume"] = joined.l_extendedprice * (1 - joined.l_discount)
    grouped = joined.groupby(["o_orderkey", "o_orderdate", "o_shippriority"], as_index=False).agg(
        revenue=("volume", "sum")
    )
    result = grouped.sort_values(["revenue", "o_orderdate"], ascending=[False, True]).head(k)
    result["o_orderdate"] = result["o_orderdate"].dt.date
    return result[["o_orderkey", "revenue", "o_orderdate", "o_shippriority"]]


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return generate()


@pytest.mark.parametrize("segment", ["BUILDING", "MACHINERY"])
@pytest.mark.parametrize("num_partitions", [1, 3, 8])
def test_q3_matches_pandas(sf_runner, make_df, tables, segment, num_partitions):
    with sf.config.configure(partition_bytes=16 * 1024, broadcast_join_bytes=0):
        frames = {name: make_df(t, num_partitions=num_partitions) for name, t in tables.items()}
        query = q3_spillframe(frames, segment, 10)
        result = query.to_arrow()
    expected = q3_pandas(tables, segment, 10)
    assert len(expected) == 10
    assert result.schema == query.schema()
    assert_df_equal(result, expected, check_row_order=True, check_dtype=False, rtol=1e-9)


def test_q3_plan_is_partitioned(make_df, tables):
    with sf.config.configure(partition_bytes=16 * 1024, broadcast_join_bytes=0):
        frames = {name: make_df(t, num_partitions=8) for name, t in tables.items()}
        plan = physical_plan(q3_spillframe(frames, "BUILDING", 10)._builder)
    stages = {s.name: s.num_partitions for s in plan.stages.values()}
    assert any(name.startswith("hash-join") and n > 1 for name, n in stages.items())
    # The join already hash partitioned the rows on l_orderkey, one of the group keys:
    # the groupby aggregates each partition in place, with no second exchange.
    assert any("agg" in name for name in stages)
    assert not any(name.startswith("agg-partial") for name in stages)
    assert "sort-range" not in stages  # sort + limit is a top-k


def test_q3_all_rows_sorted_matches_pandas(sf_runner, make_df, tables):
    """Without the limit: every group, globally sorted through a range exchange."""
    with sf.config.configure(partition_bytes=4 * 1024):
        frames = {name: make_df(t, num_partitions=3) for name, t in tables.items()}
        query = q3_spillframe(frames, "AUTOMOBILE", None)
        stages = [s.name for s in physical_plan(query._builder).stages.values()]
        assert "sort-range" in stages
        result = query.to_arrow()
    expected = q3_pandas(tables, "AUTOMOBILE", 10_000)
    assert_df_equal(result, expected, check_row_order=True, check_dtype=False)
