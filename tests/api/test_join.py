"""join (every how, every strategy) against pandas merge with SQL null semantics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spillframe as sf
from spillframe import col
from spillframe.api.execution import physical_plan
from spillframe.testing import assert_df_equal

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
LEFT = pa.schema([("k", pa.int64()), ("k2", pa.string()), ("x", pa.int64())])
RIGHT = pa.schema([("k", pa.int64()), ("k2", pa.string()), ("x", pa.int64()), ("y", pa.string())])
HOWS = ["inner", "left", "right", "outer", "semi", "anti"]
PARTITIONS = st.sampled_from([1, 3, 8])


def side(schema: pa.Schema, max_size: int):
    fields = {
        "k": st.none() | st.integers(0, 5),
        "k2": st.none() | st.sampled_from("ab"),
        "x": st.integers(0, 1000),
        "y": st.none() | st.sampled_from(["p", "q"]),
    }
    return st.lists(st.fixed_dictionaries({n: fields[n] for n in schema.names}), max_size=max_size)


def small_partitions():
    """Tiny partitions, no automatic broadcast: exchanges have N > 1 partitions."""
    return sf.config.configure(partition_bytes=128, broadcast_join_bytes=0)


def stage_names(df: sf.DataFrame) -> list[str]:
    return [f"{s.name}:{s.num_partitions}" for s in physical_plan(df._builder).stages.values()]


def plain(value):
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def reference_join(
    left: list[dict],
    right: list[dict],
    left_on: list[str],
    right_on: list[str],
    how: str,
    schema: pa.Schema,
) -> pa.Table:
    """pandas merge where a null key never matches: null keys become unique sentinels."""
    lframe = pd.DataFrame(left, columns=LEFT.names, dtype=object)
    rframe = pd.DataFrame(right, columns=RIGHT.names, dtype=object)
    # Keys become text tokens (pandas refuses to merge object columns it infers as
    # different kinds); a null is a token no other row has, so it never matches.
    decode: dict[str, object] = {}
    for frame, keys, tag in ((lframe, left_on, "L"), (rframe, right_on, "R")):
        for key in keys:
            tokens = [f"<{tag}{i}>" if v is None else f"={v!r}" for i, v in enumerate(frame[key])]
            decode.update({t: v for t, v in zip(tokens, frame[key])})
            frame[key] = tokens
    if how in ("semi", "anti"):
        matched = lframe.merge(
            rframe[right_on].drop_duplicates(),
            left_on=left_on,
            right_on=right_on,
            how="left",
            indicator=True,
        )
        keep = (matched["_merge"] == "both") == (how == "semi")
        frame = lframe[keep.to_numpy()]
    else:
        merged_keys = {lk for lk, rk in zip(left_on, right_on) if lk == rk}
        rename, taken = {}, set(LEFT.names)
        for name in RIGHT.names:
            if name in merged_keys:
                continue
            new = name
            while new in taken:
                new = "right." + new
            rename[name] = new
            taken.add(new)
        rframe = rframe.rename(columns=rename)
        on_right = [rename.get(k, k) for k in right_on]
        frame = lframe.merge(rframe, left_on=left_on, right_on=on_right, how=how)
    rows = [
        {c: _decode(plain(v), decode) for c, v in row.items()}
        for row in frame[schema.names].to_dict("records")
    ]
    return pa.Table.from_pylist(rows, schema=schema)


def _decode(value, decode: dict[str, object]):
    return decode[value] if isinstance(value, str) and value in decode else value


@SETTINGS
@given(left=side(LEFT, 30), right=side(RIGHT, 20), nl=PARTITIONS, nr=PARTITIONS)
@pytest.mark.parametrize("how", HOWS)
def test_join_matches_pandas(sf_runner, make_df, how, left, right, nl, nr):
    with small_partitions():
        lt, rt = pa.Table.from_pylist(left, LEFT), pa.Table.from_pylist(right, RIGHT)
        df = make_df(lt, num_partitions=nl).join(make_df(rt, num_partitions=nr), on="k", how=how)
        result = df.to_arrow()
    assert result.schema == df.schema()
    assert_df_equal(result, reference_join(left, right, ["k"], ["k"], how, df.schema()))


@SETTINGS
@given(left=side(LEFT, 20), right=side(RIGHT, 15), n=PARTITIONS)
@pytest.mark.parametrize("how", ["inner", "left", "right", "outer", "anti"])
def test_multi_column_keys(sf_runner, make_df, how, left, right, n):
    with small_partitions():
        lt, rt = pa.Table.from_pylist(left, LEFT), pa.Table.from_pylist(right, RIGHT)
        df = make_df(lt, num_partitions=n).join(
            make_df(rt, num_partitions=3), on=["k", "k2"], how=how
        )
        result = df.to_arrow()
    assert result.schema == df.schema()
    expected = reference_join(left, right, ["k", "k2"], ["k", "k2"], how, df.schema())
    assert_df_equal(result, expected)


@SETTINGS
@given(left=side(LEFT, 20), right=side(RIGHT, 15), n=PARTITIONS)
@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_left_on_right_on_keep_both(sf_runner, make_df, how, left, right, n):
    with small_partitions():
        lt, rt = pa.Table.from_pylist(left, LEFT), pa.Table.from_pylist(right, RIGHT)
        df = make_df(lt, num_partitions=n).join(
            make_df(rt, num_partitions=3), left_on="k", right_on="x", how=how
        )
        result = df.to_arrow()
    assert df.column_names == ["k", "k2", "x", "right.k", "right.k2", "right.x", "y"]
    expected = reference_join(left, right, ["k"], ["x"], how, df.schema())
    assert_df_equal(result, expected)


@SETTINGS
@given(left=side(LEFT, 12), right=side(RIGHT, 8), nl=PARTITIONS, nr=PARTITIONS)
def test_cross_join(sf_runner, make_df, left, right, nl, nr):
    with small_partitions():
        lt, rt = pa.Table.from_pylist(left, LEFT), pa.Table.from_pylist(right, RIGHT)
        df = make_df(lt, num_partitions=nl).join(make_df(rt, num_partitions=nr), how="cross")
        result = df.to_arrow()
    assert result.num_rows == len(left) * len(right)
    assert df.column_names == ["k", "k2", "x", "right.k", "right.k2", "right.x", "y"]
    lframe = pd.DataFrame(left, columns=LEFT.names, dtype=object)
    rframe = pd.DataFrame(right, columns=RIGHT.names, dtype=object)
    rframe.columns = ["right.k", "right.k2", "right.x", "y"]
    rows = [
        {c: plain(v) for c, v in r.items()}
        for r in lframe.merge(rframe, how="cross").to_dict("records")
    ]
    assert_df_equal(result, pa.Table.from_pylist(rows, schema=df.schema()))


JOIN_DATA_LEFT = {"k": [i % 13 if i % 7 else None for i in range(120)], "x": list(range(120))}
JOIN_DATA_RIGHT = {
    "k": [i % 17 if i % 5 else None for i in range(60)],
    "y": [str(i) for i in range(60)],
}


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer", "semi", "anti"])
def test_strategies_give_the_same_rows(sf_runner, make_df, how):
    results, plans = {}, {}
    with small_partitions():
        strategies = [None, "hash", "broadcast"] + (["sort_merge"] if how == "inner" else [])
        left = make_df(JOIN_DATA_LEFT, num_partitions=4)
        right = make_df(JOIN_DATA_RIGHT, num_partitions=3)
        if how == "outer":  # as Daft: an outer join cannot broadcast
            strategies.remove("broadcast")
            with pytest.raises(ValueError, match="outer join cannot broadcast"):
                left.join(right, on="k", how=how, strategy="broadcast")
        elif how != "inner":
            with pytest.raises(ValueError, match="sort_merge join is an inner join"):
                left.join(right, on="k", how=how, strategy="sort_merge")
        for strategy in strategies:
            df = left.join(right, on="k", how=how, strategy=strategy)
            plans[strategy] = " ".join(stage_names(df))
            results[strategy] = df.to_arrow()
    assert "hash-join" in plans["hash"] and "hash-split" in plans["hash"]
    if how in ("inner", "left", "right", "semi", "anti"):
        assert "broadcast-join" in plans["broadcast"]
    for strategy in strategies:
        assert_df_equal(results[strategy], results[None])
    if how == "inner":  # planned as a hash join
        assert plans["sort_merge"] == plans["hash"]
    assert_df_equal(
        results[None],
        reference_join(
            [
                dict(zip(["k", "k2", "x"], r))
                for r in zip(JOIN_DATA_LEFT["k"], [None] * 120, JOIN_DATA_LEFT["x"])
            ],
            [
                dict(zip(["k", "k2", "x", "y"], r))
                for r in zip(JOIN_DATA_RIGHT["k"], [None] * 60, [None] * 60, JOIN_DATA_RIGHT["y"])
            ],
            ["k"],
            ["k"],
            how,
            _schema_with_extra(how),
        ).select(results[None].column_names),
        check_dtype=False,
    )


def _schema_with_extra(how: str) -> pa.Schema:
    if how in ("semi", "anti"):
        return LEFT
    return pa.schema(
        [*LEFT, ("right.k2", pa.string()), ("right.x", pa.int64()), ("y", pa.string())]
    )


def test_hash_join_plan_uses_many_partitions(make_df):
    with small_partitions():
        left = make_df(JOIN_DATA_LEFT, num_partitions=4)
        right = make_df(JOIN_DATA_RIGHT, num_partitions=3)
        df = left.join(right, on="k", strategy="hash")
        names = stage_names(df)
        joins = [n for n in names if n.startswith("hash-join")]
        assert joins and int(joins[0].split(":")[1]) > 1
        assert df.num_partitions() == int(joins[0].split(":")[1])
        assert df.num_partitions() == len(list(df.iter_partitions()))


@pytest.mark.parametrize("how", ["inner", "left", "outer"])
def test_int32_and_int64_keys_are_coerced(sf_runner, make_df, how):
    left = make_df(
        pa.table({"k": pa.array([1, 2, 3, None], pa.int32()), "a": [1, 2, 3, 4]}), num_partitions=2
    )
    right = make_df(
        pa.table({"k": pa.array([2, 3, 3, 5], pa.int64()), "b": [20, 30, 31, 50]}), num_partitions=3
    )
    with small_partitions():
        df = left.join(right, on="k", how=how)
        assert df.schema().field("k").type == pa.int64()
        expected = {
            "inner": {"k": [2, 3, 3], "a": [2, 3, 3], "b": [20, 30, 31]},
            "left": {"k": [1, 2, 3, 3, None], "a": [1, 2, 3, 3, 4], "b": [None, 20, 30, 31, None]},
            "outer": {
                "k": [1, 2, 3, 3, None, 5],
                "a": [1, 2, 3, 3, 4, None],
                "b": [None, 20, 30, 31, None, 50],
            },
        }[how]
        assert_df_equal(df, pa.table(expected, schema=df.schema()))


def test_incompatible_key_types_raise_at_build_time(make_df):
    left = make_df({"k": ["1", "2"], "a": [1, 2]})
    right = make_df({"k": [1, 2], "b": [1, 2]})
    with pytest.raises(
        TypeError,
        match=r"cannot join left key 'k' \(string\) with right key "
        r"'k' \(int64\)",
    ):
        left.join(right, on="k")


def test_clashing_names_get_prefix_or_suffix(sf_runner, make_df):
    left = make_df({"k": [1, 2], "v": [1, 2], "right.v": [0, 0]})
    right = make_df({"k": [1, 2], "v": [10, 20], "w": [5, 6]})
    df = left.join(right, on="k")
    assert df.column_names == ["k", "v", "right.v", "right.right.v", "w"]
    assert_df_equal(
        df,
        {"k": [1, 2], "v": [1, 2], "right.v": [0, 0], "right.right.v": [10, 20], "w": [5, 6]},
        check_dtype=False,
    )
    suffixed = left.join(right, on="k", suffix="_r")
    assert suffixed.column_names == ["k", "v", "right.v", "v_r", "w"]
    assert_df_equal(
        suffixed,
        {"k": [1, 2], "v": [1, 2], "right.v": [0, 0], "v_r": [10, 20], "w": [5, 6]},
        check_dtype=False,
    )


@pytest.mark.parametrize("n", [1, 3, 8])
def test_join_then_limit_and_partition_invariance(sf_runner, make_df, n):
    with small_partitions():
        left = make_df(JOIN_DATA_LEFT, num_partitions=n)
        right = make_df(JOIN_DATA_RIGHT, num_partitions=3)
        df = left.join(right, on="k", how="left")
        full = df.to_arrow()
        baseline = make_df(JOIN_DATA_LEFT, num_partitions=1).join(
            make_df(JOIN_DATA_RIGHT, num_partitions=1), on="k", how="left"
        )
        assert_df_equal(full, baseline)
        limited = df.limit(7).to_arrow()
    assert limited.num_rows == 7
    full_rows = {tuple(r.values()) for r in full.to_pylist()}
    assert all(tuple(r.values()) in full_rows for r in limited.to_pylist())


def broadcast_joins(df: sf.DataFrame) -> int:
    """Stages that run a broadcast join: their own, or fused into the big side's
    pipeline (the stage is then named after the operators it runs)."""
    names = [s.name for s in physical_plan(df._builder).stages.values()]
    return sum("broadcast-join" in name for name in names)


def test_a_filtered_side_is_expected_small_enough_to_broadcast(sf_runner, make_df):
    """Estimates stay upper bounds for partition sizes, but a broadcast is chosen on the
    expected size after filters (a fifth per filter): the filtered side is broadcast,
    the same side unfiltered is not."""
    rng = np.random.default_rng(5)
    facts = pa.table({"k": rng.integers(0, 2000, 4000), "x": rng.normal(size=4000)})
    dims = pa.table({"key": np.arange(2000), "w": rng.normal(size=2000)})  # 32 KB

    with sf.config.configure(
        broadcast_join_bytes=20_000, broadcast_index_bytes=20_000, partition_bytes=16 * 1024
    ):
        left, right = make_df(facts, num_partitions=4), make_df(dims, num_partitions=2)
        plain = left.join(right, left_on="k", right_on="key")
        filtered = left.join(right.where(col("w") > 0), left_on="k", right_on="key")
        assert broadcast_joins(plain) == 0
        assert broadcast_joins(filtered) == 1
        result = filtered.to_arrow()
    frame = dims.to_pandas()
    expected = facts.to_pandas().merge(frame[frame["w"] > 0], left_on="k", right_on="key")
    assert_df_equal(result, expected, check_dtype=False)


def test_a_semi_join_on_a_filtered_side_is_expected_small(sf_runner, make_df):
    """A semi join keeps at most its left rows, fewer when its right side is filtered:
    joining its result to a large table broadcasts it (as TPC-H Q18 needs)."""
    rng = np.random.default_rng(6)
    facts = pa.table({"k": rng.integers(0, 2000, 4000), "x": rng.normal(size=4000)})
    orders = pa.table({"key": np.arange(2000), "w": rng.normal(size=2000)})  # 32 KB
    chosen = pa.table({"id": np.arange(0, 2000, 7), "score": rng.normal(size=286)})

    with sf.config.configure(
        broadcast_join_bytes=20_000, broadcast_index_bytes=20_000, partition_bytes=16 * 1024
    ):
        big, dims = make_df(facts, num_partitions=4), make_df(orders, num_partitions=2)
        picks = make_df(chosen, num_partitions=2)
        kept = dims.join(picks.where(col("score") > 0), left_on="key", right_on="id", how="semi")
        query = big.join(kept, left_on="k", right_on="key")
        assert broadcast_joins(query) >= 1
        assert broadcast_joins(big.join(dims, left_on="k", right_on="key")) == 0
        result = query.to_arrow()
    picked = chosen.to_pandas()
    good = set(picked.loc[picked["score"] > 0, "id"])
    frame = orders.to_pandas()
    expected = facts.to_pandas().merge(frame[frame["key"].isin(good)], left_on="k", right_on="key")
    assert_df_equal(result, expected, check_dtype=False)


def test_a_side_expected_small_but_possibly_large_is_not_broadcast(make_df):
    """The guess that filters keep little only broadcasts a side whose upper bound is
    at most four partitions: every task would hold the whole side if the guess failed."""
    rng = np.random.default_rng(8)
    facts = pa.table({"k": rng.integers(0, 2000, 4000), "x": rng.normal(size=4000)})
    dims = pa.table({"key": np.arange(2000), "w": rng.normal(size=2000)})  # 32 KB

    with sf.config.configure(
        broadcast_join_bytes=20_000, broadcast_index_bytes=20_000, partition_bytes=1024
    ):
        left, right = make_df(facts, num_partitions=4), make_df(dims, num_partitions=2)
        filtered = left.join(right.where(col("w") > 0), left_on="k", right_on="key")
        assert broadcast_joins(filtered) == 0


def test_each_condition_of_a_filter_counts_with_backoff():
    from spillframe.physical.lowering.core import predicate_selectivity

    one = predicate_selectivity(col("a") > 1)
    two = predicate_selectivity((col("a") > 1) & (col("a") < 5))
    assert one == pytest.approx(0.2)
    assert two == pytest.approx(0.2 * 0.2**0.5)
    assert predicate_selectivity((col("a") > 1) | (col("b") > 1)) == pytest.approx(0.2)


def test_a_side_indexable_by_its_key_is_broadcast_up_to_broadcast_index_bytes(sf_runner, make_df):
    """Above broadcast_join_bytes, a side joined on one integer key is still broadcast
    (each task indexes it by key) while it stays under broadcast_index_bytes and at most
    a quarter of the other side; a string key is not; broadcast_join_bytes=0 turns both
    off. Every plan gives the same answer."""
    rng = np.random.default_rng(9)
    facts = pa.table({"k": rng.integers(0, 2000, 40_000), "x": rng.normal(size=40_000)})
    dims = pa.table({"key": np.arange(2000), "w": rng.normal(size=2000)})  # 32 KB
    frame = dims.to_pandas()
    expected = facts.to_pandas().merge(frame, left_on="k", right_on="key")

    def query(left, right, on=("k", "key")):
        return make_df(left, num_partitions=4).join(
            make_df(right, num_partitions=2), left_on=on[0], right_on=on[1]
        )

    small = {"broadcast_join_bytes": 4_000, "partition_bytes": 64 * 1024}
    with sf.config.configure(broadcast_index_bytes=100_000, **small):
        indexed = query(facts, dims)
        assert broadcast_joins(indexed) == 1
        assert_df_equal(indexed.to_arrow(), expected, check_dtype=False)
        as_text = query(
            facts.set_column(0, "k", facts["k"].cast(pa.string())),
            dims.set_column(0, "key", dims["key"].cast(pa.string())),
        )
        assert broadcast_joins(as_text) == 0
        # The side streaming past must be four times larger: not the dims themselves.
        assert broadcast_joins(query(dims.rename_columns(["k", "x"]), dims)) == 0
    with sf.config.configure(broadcast_index_bytes=10_000, **small):
        assert broadcast_joins(query(facts, dims)) == 0
    with sf.config.configure(broadcast_index_bytes=100_000, broadcast_join_bytes=0):
        assert broadcast_joins(query(facts, dims)) == 0
