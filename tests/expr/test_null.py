"""``is_null``, ``not_null`` and ``fill_null``, compared with pandas."""

from __future__ import annotations

import datetime

import pandas as pd
import pyarrow as pa
import pytest

from spillframe import ExpressionTypeError, col, lit

DATA = {
    "a": [1, None, 3, None, 5],
    "s": [None, "b", None, "d", "e"],
    "x": [0.5, None, float("nan"), 2.0, None],
    "f": [9, 8, 7, 6, 5],
}


@pytest.mark.parametrize("column", ["a", "s", "x"])
def test_is_null_and_not_null(sf_runner, make_df, ex, nparts, column):
    table = ex.run(
        make_df(DATA, num_partitions=nparts),
        col(column).is_null().alias("n"),
        col(column).not_null().alias("v"),
    )
    nulls = [v is None for v in DATA[column]]  # NaN is a value, not a null
    assert ex.column(table, "n") == nulls
    assert ex.column(table, "v") == [not n for n in nulls]


@pytest.mark.parametrize(("column", "value"), [("a", 0), ("s", "?"), ("x", -1.0)])
def test_fill_null_with_literal_matches_pandas(sf_runner, make_df, ex, nparts, column, value):
    table = ex.run(make_df(DATA, num_partitions=nparts), col(column).fill_null(value))
    expected = (
        pd.Series(DATA[column], dtype=object)
        .where(pd.Series([v is not None for v in DATA[column]]), value)
        .tolist()
    )
    ex.assert_values(ex.column(table, column), expected)


def test_fill_null_with_another_column(sf_runner, make_df, ex, nparts):
    table = ex.run(make_df(DATA, num_partitions=nparts), col("a").fill_null(col("f")))
    assert ex.column(table, "a") == [1, 8, 3, 6, 5]


def test_fill_null_int_with_float_promotes(sf_runner, make_df, ex):
    table = ex.run(make_df(DATA), col("a").fill_null(0.5))
    assert table.schema.field("a").type == pa.float64()
    assert ex.column(table, "a") == [1.0, 0.5, 3.0, 0.5, 5.0]


def test_fill_null_date(sf_runner, make_df, ex):
    day = datetime.date(2024, 1, 1)
    table = ex.run(make_df({"d": [None, day]}), col("d").fill_null(day))
    assert ex.column(table, "d") == [day, day]


def test_fill_null_of_incompatible_type_fails_at_build_time(make_df):
    with pytest.raises(ExpressionTypeError, match=r"coalesce.*string.*int64"):
        make_df(DATA).select(col("s").fill_null(1))


def test_null_literal_column(sf_runner, make_df, ex):
    table = ex.run(make_df(DATA), col("a"), lit(None).is_null().alias("n"))
    assert ex.column(table, "n") == [True] * 5


def test_fill_null_with_none_is_a_no_op(sf_runner, make_df, ex):
    table = ex.run(make_df(DATA, num_partitions=2), col("a").fill_null(None))
    assert table.schema.field("a").type == pa.int64()
    assert ex.column(table, "a") == DATA["a"]
