"""The ``.list`` namespace: lengths, get (negative and out-of-range) and join."""

from __future__ import annotations

import pyarrow as pa
import pytest

from spillframe import ExpressionTypeError, col

LISTS = [[1, 2, 3], [], None, [4], [5, None, 7], [8, 9]]
LIST_TYPES = {
    "list": pa.list_(pa.int64()),
    "large_list": pa.large_list(pa.int64()),
}


def _get(values, i):
    if values is None or not -len(values) <= i < len(values):
        return None
    return values[i]


@pytest.mark.parametrize("kind", list(LIST_TYPES))
def test_lengths(sf_runner, make_df, ex, nparts, kind):
    data = pa.table({"l": pa.array(LISTS, type=LIST_TYPES[kind])})
    table = ex.run(make_df(data, num_partitions=nparts), col("l").list.lengths())
    assert ex.column(table, "l") == [None if v is None else len(v) for v in LISTS]
    assert table.schema.field("l").type == pa.int64()


@pytest.mark.parametrize("index", [0, 1, 2, 5, -1, -2, -4])
@pytest.mark.parametrize("kind", list(LIST_TYPES))
def test_get_negative_and_out_of_range(sf_runner, make_df, ex, nparts, index, kind):
    data = pa.table({"l": pa.array(LISTS, type=LIST_TYPES[kind])})
    table = ex.run(make_df(data, num_partitions=nparts), col("l").list.get(index))
    assert ex.column(table, "l") == [_get(v, index) for v in LISTS]
    assert table.schema.field("l").type == pa.int64()


@pytest.mark.parametrize("index", [0, 1, -1, 2])
def test_get_on_fixed_size_lists(sf_runner, make_df, ex, nparts, index):
    values = [[1, 2], [3, 4], None, [5, 6], [7, 8]]
    data = pa.table({"l": pa.array(values, type=pa.list_(pa.int64(), 2))})
    table = ex.run(
        make_df(data, num_partitions=nparts),
        col("l").list.get(index),
        col("l").list.lengths().alias("n"),
    )
    assert ex.column(table, "l") == [_get(v, index) for v in values]
    assert ex.column(table, "n") == [None if v is None else 2 for v in values]


def test_get_with_default(sf_runner, make_df, ex):
    table = ex.run(make_df({"l": LISTS}, num_partitions=2), col("l").list.get(3, default=-1))
    assert ex.column(table, "l") == [-1, -1, -1, -1, -1, -1]


def test_get_index_must_be_int():
    with pytest.raises(TypeError, match="list.get index must be an int, got '1'"):
        col("l").list.get("1")


def test_get_of_split_strings(sf_runner, make_df, ex):
    table = ex.run(
        make_df({"s": ["a,b,c", "d", None]}, num_partitions=2), col("s").str.split(",").list.get(-1)
    )
    assert ex.column(table, "s") == ["c", "d", None]


def test_join(sf_runner, make_df, ex, nparts):
    values = [["a", "b"], [], None, ["c"], ["d", "e", "f"]]
    table = ex.run(make_df({"l": values}, num_partitions=nparts), col("l").list.join("-"))
    assert ex.column(table, "l") == [None if v is None else "-".join(v) for v in values]
    assert table.schema.field("l").type == pa.string()


def test_join_of_non_strings_fails_at_build_time(make_df):
    with pytest.raises(ExpressionTypeError, match=r"list.join needs a list of strings"):
        make_df({"l": [[1, 2]]}).select(col("l").list.join(","))


@pytest.mark.parametrize("method", ["lengths", "join"])
def test_list_on_non_list_fails_at_build_time(make_df, method):
    args = (",",) if method == "join" else ()
    with pytest.raises(ExpressionTypeError, match=r"expected a list, got string"):
        make_df({"s": ["a"]}).select(getattr(col("s").list, method)(*args))
