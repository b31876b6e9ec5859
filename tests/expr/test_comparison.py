"""Comparisons, ``between`` and ``is_in``: null-propagating, compared with pandas."""

from __future__ import annotations

import datetime
import operator

import pandas as pd
import pyarrow as pa
import pytest

from spillframe import col

DATA = {
    "a": [1, 5, None, 3, 3, -2],
    "b": [2, 5, 1, None, 1, -3],
    "s": ["apple", "pear", None, "fig", "apple", ""],
}

COMPARISONS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _expected(fn, left, right):
    return [None if x is None or y is None else fn(x, y) for x, y in zip(left, right)]


@pytest.mark.parametrize("op", list(COMPARISONS))
def test_column_vs_column(sf_runner, make_df, ex, nparts, op):
    fn = COMPARISONS[op]
    table = ex.run(make_df(DATA, num_partitions=nparts), fn(col("a"), col("b")).alias("r"))
    assert ex.column(table, "r") == _expected(fn, DATA["a"], DATA["b"])
    assert table.schema.field("r").type == pa.bool_()


@pytest.mark.parametrize("op", list(COMPARISONS))
def test_string_vs_literal_matches_pandas(sf_runner, make_df, ex, nparts, op):
    fn = COMPARISONS[op]
    table = ex.run(make_df(DATA, num_partitions=nparts), fn(col("s"), "fig").alias("r"))
    pandas = fn(pd.Series(DATA["s"], dtype="string"), "fig")
    assert ex.column(table, "r") == ex.values(pandas)


@pytest.mark.parametrize("op", list(COMPARISONS))
def test_reflected_literal_comparison(sf_runner, make_df, ex, op):
    fn = COMPARISONS[op]
    table = ex.run(make_df(DATA, num_partitions=2), fn(3, col("a")).alias("r"))
    assert ex.column(table, "r") == _expected(fn, [3] * 6, DATA["a"])


def test_int_vs_float_comparison(sf_runner, make_df, ex):
    table = ex.run(make_df({"a": [1, 2, 3]}), (col("a") > 1.5).alias("r"))
    assert ex.column(table, "r") == [False, True, True]


def test_between_is_inclusive_and_propagates_null(sf_runner, make_df, ex, nparts):
    table = ex.run(make_df(DATA, num_partitions=nparts), col("a").between(1, 3).alias("r"))
    pandas = pd.Series(DATA["a"], dtype="Int64").between(1, 3)
    expected = [None if a is None else v for a, v in zip(DATA["a"], pandas.tolist())]
    assert ex.column(table, "r") == expected


def test_between_dates(sf_runner, make_df, ex):
    days = [datetime.date(2024, 1, d) for d in (1, 10, 20, 31)]
    table = ex.run(
        make_df({"d": days}),
        col("d").between(datetime.date(2024, 1, 10), datetime.date(2024, 1, 20)),
    )
    assert ex.column(table, "d") == [False, True, True, False]


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("a", [3, 5]),
        ("a", []),
        ("s", ["apple", "fig"]),
        ("s", ("pear",)),
    ],
)
def test_is_in_matches_pandas(sf_runner, make_df, ex, nparts, column, values):
    table = ex.run(make_df(DATA, num_partitions=nparts), col(column).is_in(values).alias("r"))
    pandas = pd.Series(DATA[column]).isin(values)
    expected = [False if v is None else p for v, p in zip(DATA[column], pandas.tolist())]
    assert ex.column(table, "r") == expected


@pytest.mark.parametrize("values", [5, "abc", None])
def test_is_in_rejects_non_list_at_build_time(values):
    with pytest.raises(TypeError, match="is_in needs a list of values"):
        col("a").is_in(values)


def test_is_in_values_of_wrong_type_fail_at_build_time(make_df):
    from spillframe import ExpressionTypeError

    df = make_df(DATA)
    with pytest.raises(ExpressionTypeError, match=r"is_in.*\[1, 2\].*string"):
        df.select(col("s").is_in([1, 2]))
