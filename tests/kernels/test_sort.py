"""Tests of spillframe.kernels.sort."""

from __future__ import annotations

import datetime

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spillframe.kernels.sort import sort_table, take_rows, top_k

SETTINGS = settings(max_examples=40, deadline=None)


def reference_order(columns, descending, nulls_first):
    """Stable multi-key order in plain Python (one stable pass per key, last key first)."""
    rows = list(range(len(columns[0]))) if columns else []
    for values, desc, first in reversed(list(zip(columns, descending, nulls_first, strict=True))):
        nulls = [i for i in rows if values[i] is None]
        present = sorted(
            (i for i in rows if values[i] is not None), key=values.__getitem__, reverse=desc
        )
        rows = nulls + present if first else present + nulls
    return rows


@st.composite
def sort_cases(draw):
    n = draw(st.integers(0, 30))
    num_keys = draw(st.integers(1, 3))
    columns = [
        draw(st.lists(st.one_of(st.none(), st.integers(-3, 3)), min_size=n, max_size=n))
        for _ in range(num_keys)
    ]
    descending = draw(st.lists(st.booleans(), min_size=num_keys, max_size=num_keys))
    nulls_first = draw(st.lists(st.booleans(), min_size=num_keys, max_size=num_keys))
    table = pa.table({f"k{i}": pa.array(c, pa.int64()) for i, c in enumerate(columns)})
    table = table.append_column("row", pa.array(range(n), pa.int64()))
    return table, columns, descending, nulls_first


@SETTINGS
@given(sort_cases())
def test_sort_table_matches_stable_reference(case):
    table, columns, descending, nulls_first = case
    keys = [f"k{i}" for i in range(len(columns))]
    result = sort_table(table, keys, descending, nulls_first)
    assert result.schema == table.schema
    assert result.column("row").to_pylist() == reference_order(columns, descending, nulls_first)


@SETTINGS
@given(sort_cases(), st.integers(-1, 35))
def test_top_k_equals_prefix_of_stable_sort(case, k):
    table, columns, descending, nulls_first = case
    keys = [f"k{i}" for i in range(len(columns))]
    expected = sort_table(table, keys, descending, nulls_first).slice(0, max(k, 0))
    assert top_k(table, keys, descending, nulls_first, k).equals(expected)


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string(), pa.string_view()])
def test_sort_string_kinds_and_keep_type(kind):
    table = pa.table({"s": pa.array(["b", None, "a", "c"], kind), "v": [1, 2, 3, 4]})
    result = sort_table(table, ["s"], [True], [False])
    assert result.schema == table.schema
    assert result.column("v").to_pylist() == [4, 1, 3, 2]
    assert top_k(table, ["s"], [False], [True], 2).column("v").to_pylist() == [2, 3]


def test_sort_other_types_and_nan():
    stamps = [datetime.datetime(2020, 1, d, tzinfo=datetime.timezone.utc) for d in (3, 1, 2)]
    table = pa.table(
        {
            "t": pa.array(stamps, pa.timestamp("us", "UTC")),
            "f": [float("nan"), None, 1.0],
            "b": [True, False, None],
        }
    )
    assert sort_table(table, ["t"], [False], [False]).column("t").to_pylist() == sorted(stamps)
    by_float = sort_table(table, ["f"], [False], [False]).column("f").to_pylist()
    assert by_float[0] == 1.0 and by_float[2] is None
    assert sort_table(table, ["b"], [True], [True]).column("b").to_pylist() == [None, True, False]


def test_empty_and_all_null_tables():
    empty = pa.table({"a": pa.array([], pa.int64())})
    assert sort_table(empty, ["a"], [False], [False]).num_rows == 0
    assert top_k(empty, ["a"], [False], [False], 3).num_rows == 0
    nulls = pa.table({"a": pa.nulls(3)})
    assert sort_table(nulls, ["a"], [True], [True]).num_rows == 3


def test_take_rows_handles_view_types():
    table = pa.table(
        {
            "s": pa.array(["x", "y"], pa.string_view()),
            "l": pa.array([["a"], None], pa.list_(pa.string_view())),
        }
    )
    result = take_rows(table, pa.array([1, 0]))
    assert result.schema == table.schema
    assert result.to_pylist() == [{"s": "y", "l": None}, {"s": "x", "l": ["a"]}]


def test_bad_arguments():
    table = pa.table({"a": [1], "l": [[1]]})
    with pytest.raises(ValueError, match="one 'descending'"):
        sort_table(table, ["a"], [], [False])
    with pytest.raises(KeyError, match="no sort key column 'b'"):
        sort_table(table, ["b"], [False], [False])
    with pytest.raises(TypeError, match="nested type"):
        sort_table(table, ["l"], [False], [False])
