"""Tests of spillframe.kernels.exchange."""

from __future__ import annotations

import datetime
import decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spillframe.kernels.exchange import (
    compute_boundaries,
    concat_tables,
    hash_arrays,
    hash_rows,
    hash_split,
    random_split,
    range_split,
    sample_for_boundaries,
)
from spillframe.kernels.sort import sort_table

SETTINGS = settings(max_examples=30, deadline=None)


def bucket_of(parts, column):
    """Map each value of ``column`` to the index of the bucket holding it."""
    found = {}
    for index, part in enumerate(parts):
        for value in part.column(column).to_pylist():
            assert found.setdefault(value, index) == index
    return found


def test_hash_rows_is_fixed():
    # Hard-coded: the hash must be identical in every process and release.
    table = pa.table({"i": [1, None], "s": ["abc", None]})
    assert hash_rows(table, ["i"]).tolist() == [843117945700123838, 434942226766673595]
    assert hash_rows(table, ["s"]).tolist() == [7283123135945748476, 434942226766673595]
    hashed = hash_arrays([table["i"].combine_chunks(), table["s"]], seed=3)
    assert hashed.type == pa.uint64() and hashed.null_count == 0
    assert hashed.to_pylist() != hash_arrays([table["i"], table["s"]]).to_pylist()
    with pytest.raises(ValueError, match="equally long"):
        hash_arrays([pa.array([1]), pa.array([1, 2])])


@pytest.mark.parametrize("num_buckets", [1, 2, 7, 64])
def test_hash_split_shape_and_rows(num_buckets):
    table = pa.table({"k": list(range(50)) + [None] * 5, "v": [str(i) for i in range(55)]})
    parts = hash_split(table, ["k"], num_buckets)
    assert len(parts) == num_buckets
    assert all(p.schema == table.schema for p in parts)
    assert sorted(concat_tables(parts).column("v").to_pylist()) == sorted(table["v"].to_pylist())
    assert None in bucket_of(parts, "k")


@pytest.mark.parametrize(
    "values, kinds",
    [
        (
            [1, 2, None, -5, 99],
            [pa.int8(), pa.int32(), pa.int64(), pa.uint16(), pa.float64(), pa.decimal128(20, 2)],
        ),
        (["a", "", None, "ünï", "a" * 40], [pa.string(), pa.large_string(), pa.string_view()]),
        ([datetime.date(2020, 1, 2), None], [pa.date32(), pa.date64()]),
    ],
)
def test_hash_split_equal_values_of_different_types_share_buckets(values, kinds):
    placements = []
    for kind in kinds:
        typed = values
        if pa.types.is_unsigned_integer(kind):
            typed = [v for v in values if v is None or v >= 0]
        if pa.types.is_decimal(kind):
            typed = [None if v is None else decimal.Decimal(v) for v in values]
        table = pa.table({"k": pa.array(typed, kind)})
        placement = bucket_of(hash_split(table, ["k"], 16), "k")
        placements.append({v: b for v, b in placement.items()})
    reference = placements[0]
    for placement in placements[1:]:
        assert all(placement[v] == reference[v] for v in placement)


def test_hash_split_is_consistent_across_partitions_and_timestamps():
    keys = pa.array(np.arange(1000) % 37, pa.int64())
    table = pa.table({"k": keys, "t": pa.array(np.arange(1000), pa.timestamp("s", "UTC"))})
    parts = [table.slice(0, 300), table.slice(300, 0), table.slice(300)]
    splits = [hash_split(p, ["k"], 9) for p in parts]
    merged = [concat_tables(list(group)) for group in zip(*splits, strict=True)]
    assert len(bucket_of(merged, "k")) == 37  # asserts one bucket per key
    ms = table.set_column(1, "t", table["t"].cast(pa.timestamp("ms", "Europe/Paris")))
    assert (hash_rows(ms, ["t"]) == hash_rows(table, ["t"])).all()
    assert (hash_rows(table, ["k", "t"]) != hash_rows(table, ["t", "k"])).any()


def test_hash_split_float_zero_nan_and_payload_types():
    table = pa.table(
        {
            "f": [0.0, -0.0, float("nan"), float("nan")],
            "l": pa.array([[1], None, [], [2]]),
            "sv": pa.array(["a", "b", None, "d"], pa.string_view()),
        }
    )
    parts = hash_split(table, ["f"], 8)
    sizes = sorted(p.num_rows for p in parts)
    assert sizes[-2:] == [2, 2]
    assert all(p.schema == table.schema for p in parts)
    with pytest.raises(TypeError, match="cannot hash key column 'l'"):
        hash_split(table, ["l"], 2)


def test_hash_split_empty_table():
    empty = pa.table({"k": pa.array([], pa.string())})
    parts = hash_split(empty, ["k"], 3)
    assert [p.num_rows for p in parts] == [0, 0, 0]
    assert all(p.schema == empty.schema for p in parts)


def test_random_split_is_seeded_and_balanced():
    table = pa.table({"v": list(range(103))})
    first = random_split(table, 4, seed=7)
    assert [p.to_pydict() for p in first] == [p.to_pydict() for p in random_split(table, 4, 7)]
    assert max(p.num_rows for p in first) - min(p.num_rows for p in first) <= 1
    assert sorted(concat_tables(first)["v"].to_pylist()) == list(range(103))
    assert [p.num_rows for p in random_split(table.slice(0, 0), 3, 1)] == [0, 0, 0]
    with pytest.raises(ValueError, match="num_buckets"):
        random_split(table, 0, 1)


@st.composite
def range_cases(draw):
    n = draw(st.integers(0, 60))
    num_keys = draw(st.integers(1, 2))
    columns = {
        f"k{i}": draw(st.lists(st.one_of(st.none(), st.integers(0, 5)), min_size=n, max_size=n))
        for i in range(num_keys)
    }
    columns["s"] = draw(
        st.lists(st.one_of(st.none(), st.sampled_from("abcd")), min_size=n, max_size=n)
    )
    table = pa.table(
        {
            **{k: pa.array(v, pa.int64()) for k, v in columns.items() if k != "s"},
            "s": pa.array(columns["s"], pa.string()),
        }
    )
    keys = draw(st.permutations(list(columns)))[: draw(st.integers(1, num_keys + 1))]
    descending = draw(st.lists(st.booleans(), min_size=len(keys), max_size=len(keys)))
    nulls_first = draw(st.lists(st.booleans(), min_size=len(keys), max_size=len(keys)))
    return (
        table,
        keys,
        descending,
        nulls_first,
        draw(st.sampled_from([1, 3, 8])),
        draw(st.integers(1, 6)),
    )


@SETTINGS
@given(range_cases())
def test_range_split_then_local_sort_is_global_sort(case):
    table, keys, descending, nulls_first, num_parts, num_buckets = case
    step = max(1, -(-table.num_rows // num_parts))
    parts = [table.slice(i * step, step) for i in range(num_parts)]
    parts[-1] = parts[-1].cast(
        pa.schema([f.with_type(pa.large_string()) if f.name == "s" else f for f in table.schema])
    )
    samples = [sample_for_boundaries(p, keys, 5, seed=i) for i, p in enumerate(parts)]
    bounds = compute_boundaries(samples, keys, descending, nulls_first, num_buckets)
    assert bounds.num_rows == num_buckets - 1
    splits = [range_split(p, keys, descending, nulls_first, bounds) for p in parts]
    assert all(len(s) == num_buckets for s in splits)
    buckets = [
        sort_table(concat_tables(list(group)), keys, descending, nulls_first)
        for group in zip(*splits, strict=True)
    ]
    result = concat_tables(buckets).select(keys)
    expected = sort_table(table, keys, descending, nulls_first).select(keys)
    assert result.to_pylist() == expected.to_pylist()


def test_range_split_rows_equal_to_boundary_go_low_and_view_keys():
    table = pa.table({"k": pa.array(["a", "b", "b", "c", None], pa.string_view())})
    bounds = pa.table({"k": pa.array(["b"], pa.large_string())})
    low, high = range_split(table, ["k"], [False], [False], bounds)
    assert low.column("k").to_pylist() == ["a", "b", "b"]
    assert high.column("k").to_pylist() == ["c", None]
    assert low.schema == table.schema


def test_boundaries_of_nothing_still_give_all_buckets():
    empty = pa.table({"k": pa.array([], pa.int64()), "v": pa.array([], pa.string())})
    bounds = compute_boundaries(
        [sample_for_boundaries(empty, ["k"], 10, 0)], ["k"], [False], [True], 4
    )
    assert bounds.num_rows == 3
    assert compute_boundaries([], ["k"], [False], [True], 2).num_rows == 1
    parts = range_split(
        pa.table({"k": [3, None, 1], "v": ["a", "b", "c"]}), ["k"], [False], [True], bounds
    )
    assert len(parts) == 4 and sum(p.num_rows for p in parts) == 3
    assert [p.num_rows for p in range_split(empty, ["k"], [False], [True], bounds)] == [0] * 4


def test_concat_tables_unifies_and_handles_empty():
    schema = pa.schema([("s", pa.large_string())])
    assert concat_tables([], schema).schema == schema
    with pytest.raises(ValueError, match="schema"):
        concat_tables([])
    mixed = [
        pa.table({"s": pa.array(["a"], kind)})
        for kind in (pa.string(), pa.large_string(), pa.string_view())
    ]
    result = concat_tables(mixed)
    assert result.column("s").to_pylist() == ["a", "a", "a"]
    assert result.column("s").type == pa.large_string()
    nulls = pa.table({"s": pa.nulls(2)})
    assert concat_tables([nulls, mixed[0]], schema=schema).schema == schema
    many = concat_tables([pa.table({"x": [i]}) for i in range(20)])
    assert many.column("x").num_chunks == 1
