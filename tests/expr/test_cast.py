"""``alias`` and ``cast``: names and types of projected expressions."""

from __future__ import annotations

import datetime
import decimal

import pandas as pd
import pyarrow as pa
import pytest

from spillframe import DataType, ExpressionTypeError, col, lit

DATA = {"a": [1, -2, None, 40], "x": [1.7, -2.5, None, 0.0], "s": ["1", "22", None, "-3"]}


@pytest.mark.parametrize(
    ("column", "dtype", "expected"),
    [
        ("a", pa.float64(), [1.0, -2.0, None, 40.0]),
        ("a", pa.string(), ["1", "-2", None, "40"]),
        ("a", pa.int8(), [1, -2, None, 40]),
        ("x", pa.int64(), [1, -2, None, 0]),
        ("s", pa.int32(), [1, 22, None, -3]),
        (
            "a",
            pa.decimal128(10, 2),
            [decimal.Decimal("1.00"), decimal.Decimal("-2.00"), None, decimal.Decimal("40.00")],
        ),
        ("a", pa.large_string(), ["1", "-2", None, "40"]),
    ],
)
def test_cast(sf_runner, make_df, ex, nparts, column, dtype, expected):
    table = ex.run(make_df(DATA, num_partitions=nparts), col(column).cast(dtype))
    assert table.schema.field(column).type == dtype
    assert ex.column(table, column) == expected


def test_cast_float_to_int_truncates_like_pandas(sf_runner, make_df, ex):
    values = [1.7, -2.5, 3.0]
    table = ex.run(make_df({"x": values}), col("x").cast(DataType.int64()))
    assert ex.column(table, "x") == pd.Series(values).astype("int64").tolist()


def test_cast_string_to_date(sf_runner, make_df, ex):
    table = ex.run(make_df({"s": ["2024-02-29", None]}), col("s").cast(DataType.date()))
    assert ex.column(table, "s") == [datetime.date(2024, 2, 29), None]


def test_impossible_cast_fails_at_build_time(make_df):
    with pytest.raises(ExpressionTypeError, match=r"cannot cast col\(s\) from string to list"):
        make_df(DATA).select(col("s").cast(pa.list_(pa.int64())))


def test_cast_needs_a_pyarrow_type():
    with pytest.raises(TypeError, match="cast needs a pyarrow DataType, got 'int64'"):
        col("a").cast("int64")


def test_alias_names_the_output(sf_runner, make_df, ex):
    table = ex.run(
        make_df(DATA, num_partitions=2),
        (col("a") + 1).alias("b"),
        col("a").alias("first").alias("second"),
        lit(3).alias("three"),
    )
    assert table.column_names == ["b", "second", "three"]
    assert ex.column(table, "three") == [3, 3, 3, 3]


def test_unaliased_expression_takes_the_first_column_name(sf_runner, make_df, ex):
    table = ex.run(make_df(DATA), lit(1) + col("a") * 2)
    assert table.column_names == ["a"]


@pytest.mark.parametrize("name", ["", None, 3])
def test_alias_needs_a_non_empty_string(name):
    with pytest.raises(ValueError, match="alias needs a non-empty string"):
        col("a").alias(name)


def test_with_column_replaces_and_appends(sf_runner, make_df):
    df = (
        make_df(DATA, num_partitions=2)
        .with_column("a", col("a") * 10)
        .with_column("b", col("a") + 1)
    )
    assert df.schema() == df.to_arrow().schema
    assert df.to_pydict()["a"] == [10, -20, None, 400]
    assert df.to_pydict()["b"] == [11, -19, None, 401]


def test_cast_int_to_too_narrow_decimal_names_the_expression(sf_runner, make_df):
    df = make_df({"a": [10**12]}).select(col("a").cast(pa.decimal128(5, 2)))
    with pytest.raises(ValueError, match=r"cannot cast col\(a\) to decimal128\(5, 2\)"):
        df.to_arrow()
