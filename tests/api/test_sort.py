"""sort and sort().limit() (top-k) against a Python reference, on 1, 3 and 8 partitions."""

from __future__ import annotations

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
SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.string()), ("c", pa.float64()), ("id", pa.int64())])
PARTITIONS = st.sampled_from([1, 3, 8])

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "a": st.none() | st.integers(-3, 3),
            "b": st.none() | st.sampled_from(["", "a", "b", "ba", "c"]),
            "c": st.none() | st.integers(-10, 10).map(lambda x: x / 2),
        }
    ),
    max_size=60,
).map(lambda rows: [{**r, "id": i} for i, r in enumerate(rows)])

key_spec = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.booleans(), st.none() | st.booleans()),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t[0],
)


def small_partitions():
    """Tiny partitions: the sort plan has a range exchange into N > 1 partitions."""
    return sf.config.configure(partition_bytes=128)


def stage_names(df: sf.DataFrame) -> list[str]:
    return [s.name for s in physical_plan(df._builder).stages.values()]


def reference_sort(
    rows: list[dict], keys: list[str], desc: list[bool], nulls_first: list[bool]
) -> list[dict]:
    """Stable sorts from the least significant key; nulls placed per key."""
    out = list(rows)
    for key, d, nf in reversed(list(zip(keys, desc, nulls_first))):
        present = sorted([r for r in out if r[key] is not None], key=lambda r: r[key], reverse=d)
        missing = [r for r in out if r[key] is None]
        out = missing + present if nf else present + missing
    return out


def sort_args(spec) -> tuple[list[str], list[bool], list[bool] | None, list[bool]]:
    keys = [k for k, _, _ in spec]
    desc = [d for _, d, _ in spec]
    explicit = [nf for _, _, nf in spec]
    effective = [d if nf is None else nf for _, d, nf in spec]
    # The API takes one nulls_first for all keys or a list of bools: use the list only
    # when every key says something, else the default (nulls first iff descending).
    if all(nf is not None for nf in explicit):
        return keys, desc, explicit, effective
    return keys, desc, None, desc


def key_tuples(rows: list[dict], keys: list[str]) -> list[tuple]:
    return [tuple(r[k] for k in keys) for r in rows]


@SETTINGS
@given(rows=rows_strategy, spec=key_spec, n=PARTITIONS)
def test_sort_matches_reference(sf_runner, make_df, rows, spec, n):
    keys, desc, nulls_first, effective = sort_args(spec)
    with small_partitions():
        df = make_df(pa.Table.from_pylist(rows, SCHEMA), num_partitions=n).sort(
            keys, desc=desc, nulls_first=nulls_first
        )
        result = df.to_arrow()
    assert result.schema == df.schema()
    expected = reference_sort(rows, keys, desc, effective)
    assert key_tuples(result.to_pylist(), keys) == key_tuples(expected, keys)
    assert_df_equal(result, pa.Table.from_pylist(rows, SCHEMA))


@SETTINGS
@given(rows=rows_strategy, spec=key_spec, n=PARTITIONS, k=st.integers(0, 25))
def test_sort_limit_is_the_head_of_the_sort(sf_runner, make_df, rows, spec, n, k):
    keys, desc, nulls_first, effective = sort_args(spec)
    with small_partitions():
        df = (
            make_df(pa.Table.from_pylist(rows, SCHEMA), num_partitions=n)
            .sort(keys, desc=desc, nulls_first=nulls_first)
            .limit(k)
        )
        assert "sort-range" not in stage_names(df)
        result = df.to_arrow()
    expected = reference_sort(rows, keys, desc, effective)[:k]
    assert key_tuples(result.to_pylist(), keys) == key_tuples(expected, keys)
    ids = {r["id"] for r in result.to_pylist()}
    assert len(ids) == result.num_rows


def test_sort_plan_has_range_exchange(make_df):
    with small_partitions():
        df = make_df({"a": list(range(300))[::-1]}, num_partitions=4).sort("a")
        names = stage_names(df)
        assert "sort-sample" in names and "sort-range" in names
        assert df.num_partitions() > 1
        parts = list(df.iter_partitions())
        assert len(parts) == df.num_partitions()
    assert [v for p in parts for v in p.column("a").to_pylist()] == list(range(300))


@pytest.mark.parametrize(
    ("desc", "nulls_first", "expected"),
    [
        (False, None, [1, 2, 3, None]),
        (True, None, [None, 3, 2, 1]),
        (False, True, [None, 1, 2, 3]),
        (True, False, [3, 2, 1, None]),
    ],
)
@pytest.mark.parametrize("n", [1, 3, 8])
def test_null_placement(sf_runner, make_df, desc, nulls_first, expected, n):
    with small_partitions():
        df = make_df({"a": [2, None, 3, 1]}, num_partitions=n).sort(
            "a", desc=desc, nulls_first=nulls_first
        )
        assert df.to_pydict() == {"a": expected}


@pytest.mark.parametrize("n", [1, 3, 8])
def test_ties_keep_every_row(sf_runner, make_df, n):
    data = {"a": [i % 3 for i in range(90)], "id": list(range(90))}
    with small_partitions():
        df = make_df(data, num_partitions=n).sort(["a"], desc=[True])
        result = df.to_pydict()
    assert result["a"] == sorted(data["a"], reverse=True)
    assert sorted(result["id"]) == data["id"]


def test_sort_by_expression(sf_runner, make_df):
    with small_partitions():
        df = make_df({"a": [3, -5, 1, -2, None]}, num_partitions=3).sort(col("a").abs())
        assert df.column_names == ["a"]
        assert df.to_pydict() == {"a": [1, -2, 3, -5, None]}


@pytest.mark.parametrize("n", [1, 3, 8])
def test_sort_same_rows_for_every_partition_count(sf_runner, make_df, n):
    data = {"a": [(i * 7919) % 101 for i in range(400)], "b": [str(i % 13) for i in range(400)]}
    with small_partitions():
        df = make_df(data, num_partitions=n).sort(["b", "a"], desc=[False, True])
        one = make_df(data, num_partitions=1).sort(["b", "a"], desc=[False, True])
        assert_df_equal(df, one, check_row_order=True)


def test_sort_limit_plan_is_top_k(make_df):
    with small_partitions():
        df = make_df({"a": list(range(100))}, num_partitions=5).sort("a", desc=True).limit(3)
        names = stage_names(df)
    assert "sort-range" not in names and any("top-k" in n for n in names)
