"""Semi-join reduction: an aggregation that feeds a join on its group key only
aggregates the rows whose key the other side has, when that side is filtered and
small; the answers are the same for every join type it applies to."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import col
from spillframe.api.execution import explain_text, physical_plan
from spillframe.logical import nodes as L
from spillframe.physical.steps import BroadcastJoinStep
from spillframe.testing import assert_df_equal


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    rng = np.random.default_rng(21)
    n = 6000
    lines = pa.table(
        {
            "order": rng.integers(0, 1500, n),
            "supp": rng.integers(0, 40, n),
            "qty": rng.integers(1, 50, n),
        }
    )
    picked = pa.table({"okey": np.arange(0, 1500, 3), "flag": rng.integers(0, 10, 500)})
    return {"lines": lines, "picked": picked}


def query(frames: dict[str, sf.DataFrame], how: str) -> sf.DataFrame:
    stats = (
        frames["lines"]
        .groupby("order")
        .agg(
            col("supp").min().alias("lo"),
            col("supp").max().alias("hi"),
            col("qty").sum().alias("total"),
        )
        .where(col("lo") != col("hi"))
    )
    wanted = frames["picked"].where(col("flag") == 3)
    return wanted.join(stats, left_on="okey", right_on="order", how=how)


def expected(tables: dict[str, pa.Table], how: str) -> pd.DataFrame:
    lines = tables["lines"].to_pandas()
    stats = lines.groupby("order", as_index=False).agg(
        lo=("supp", "min"), hi=("supp", "max"), total=("qty", "sum")
    )
    stats = stats[stats["lo"] != stats["hi"]]
    picked = tables["picked"].to_pandas()
    wanted = picked[picked["flag"] == 3]
    if how == "semi":
        return wanted[wanted["okey"].isin(stats["order"])]
    if how == "anti":
        return wanted[~wanted["okey"].isin(stats["order"])]
    return wanted.merge(stats, left_on="okey", right_on="order", how=how)


SETTINGS = {"partition_bytes": 8 * 1024, "broadcast_join_bytes": 4 * 1024}


def reduced(q: sf.DataFrame) -> bool:
    """Whether an aggregation's first stage only aggregates rows kept by a broadcast
    semi join: one fused into its own pipeline (a broadcast join is a step of its big
    side's tasks), or run by a stage it reads."""

    def semi_joins(value) -> int:
        if isinstance(value, BroadcastJoinStep):
            return value.spec.how == "semi"
        if isinstance(value, (tuple, list)):
            return sum(semi_joins(v) for v in value)
        return 0

    stages = {s.id: s for s in physical_plan(q._builder).stages.values()}
    partial = [s for s in stages.values() if s.name.startswith("agg-partial")]
    read = {r.stage_id for s in partial for t in s.tasks for r in t.refs()}
    return any(semi_joins(t.args) for s in partial for t in s.tasks) or any(
        stages[i].name == "broadcast-join" for i in read
    )


@pytest.mark.parametrize("how", ["inner", "left", "semi", "anti"])
def test_same_answer_with_the_reduction(sf_runner, make_df, tables, how):
    with sf.config.configure(**SETTINGS):
        frames = {name: make_df(t, num_partitions=3) for name, t in tables.items()}
        q = query(frames, how)
        assert "optional reduction" in explain_text(q._builder, show_all=False)
        assert reduced(q)
        result = q.to_arrow()
    assert_df_equal(result, expected(tables, how), check_dtype=False)


def test_unfiltered_keys_do_not_reduce(make_df, tables):
    """Every key of an unfiltered side can match: the reduction would filter nothing,
    so the plan keeps the aggregation as it was (the rows are not probed twice)."""
    with sf.config.configure(**SETTINGS):
        frames = {name: make_df(t, num_partitions=3) for name, t in tables.items()}
        stats = frames["lines"].groupby("order").agg(col("qty").sum().alias("total"))
        q = frames["picked"].join(stats, left_on="okey", right_on="order")
        assert not reduced(q)
        rows = q.count_rows()
    orders = set(tables["lines"].column("order").to_pylist())
    assert rows == sum(k in orders for k in tables["picked"].column("okey").to_pylist())


def test_an_aggregation_used_twice_is_not_reduced(make_df, tables):
    """Its other use needs every group (here: the maximum over all orders)."""
    with sf.config.configure(**SETTINGS):
        frames = {name: make_df(t, num_partitions=3) for name, t in tables.items()}
        stats = frames["lines"].groupby("order").agg(col("qty").sum().alias("total"))
        top = stats.agg(col("total").max().alias("best"))
        wanted = frames["picked"].where(col("flag") == 3)
        q = wanted.join(stats, left_on="okey", right_on="order").join(top, how="cross")
        assert "optional reduction" not in explain_text(q._builder, show_all=False)
        best = q.to_arrow().column("best").to_pylist()
    totals = tables["lines"].to_pandas().groupby("order")["qty"].sum()
    assert set(best) == {totals.max()}


def test_the_reduction_is_a_flag_not_a_join_strategy():
    """The user's strategy field takes only user strategies; a reduction is a semi join
    flagged as such, with no strategy of its own."""
    left = sf.from_pydict({"k": [1, 2]})
    right = sf.from_pydict({"k": [2, 3]})
    with pytest.raises(ValueError, match="join strategy must be one of .*, got 'reduce'"):
        left.join(right, on="k", strategy="reduce")
    with pytest.raises(ValueError, match=r"join strategy must be one of \[None, 'hash', "):
        L.Join(left._builder, right._builder, ("k",), ("k",), "semi", strategy="reduce")
    for how, strategy in (("inner", None), ("semi", "broadcast")):
        with pytest.raises(ValueError, match="a reducing join is a semi join with no strategy"):
            L.Join(left._builder, right._builder, ("k",), ("k",), how, strategy, reduction=True)
    reduction = L.Join(left._builder, right._builder, ("k",), ("k",), "semi", reduction=True)
    assert reduction.describe() == "Join: how=semi, on [k=k], optional reduction"
