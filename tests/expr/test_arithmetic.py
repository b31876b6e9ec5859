"""Arithmetic ``+ - * / // %`` and unary ``-``: Python semantics, compared with pandas."""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from spillframe import col, lit

INTS = {"a": [7, -7, 7, -7, None, 0, 13, -1], "b": [2, 2, -2, -2, 3, 5, -4, 3]}
FLOATS = {
    "x": [1.5, -1.5, 0.0, None, 2.25, -0.5, 7.0, -7.0],
    "y": [0.5, 2.0, -3.0, 1.0, None, 0.25, -2.0, 2.0],
}

OPS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
}


@pytest.mark.parametrize("op", list(OPS))
def test_int_op_int_matches_pandas(sf_runner, make_df, ex, nparts, op):
    fn = OPS[op]
    table = ex.run(make_df(INTS, num_partitions=nparts), fn(col("a"), col("b")).alias("r"))
    expected = fn(pd.Series(INTS["a"], dtype="float64"), pd.Series(INTS["b"], dtype="float64"))
    ex.assert_values(ex.column(table, "r"), ex.values(expected))
    expected_type = pa.float64() if op == "/" else pa.int64()
    assert table.schema.field("r").type == expected_type


@pytest.mark.parametrize("op", list(OPS))
def test_float_op_float_matches_pandas(sf_runner, make_df, ex, nparts, op):
    fn = OPS[op]
    table = ex.run(make_df(FLOATS, num_partitions=nparts), fn(col("x"), col("y")).alias("r"))
    expected = fn(pd.Series(FLOATS["x"], dtype="float64"), pd.Series(FLOATS["y"], dtype="float64"))
    ex.assert_values(ex.column(table, "r"), ex.values(expected))
    assert table.schema.field("r").type == pa.float64()


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("reflected", [False, True], ids=["col-op-lit", "lit-op-col"])
def test_column_with_python_literal(sf_runner, make_df, ex, op, reflected):
    fn = OPS[op]
    expr = fn(3, col("b")) if reflected else fn(col("b"), 3)
    table = ex.run(make_df(INTS, num_partitions=2), expr.alias("r"))
    series = pd.Series(INTS["b"], dtype="float64")
    expected = fn(3, series) if reflected else fn(series, 3)
    ex.assert_values(ex.column(table, "r"), ex.values(expected))


@pytest.mark.parametrize(("a", "b"), [(7, 2), (-7, 2), (7, -2), (-7, -2), (0, -3), (-6, 3)])
def test_floor_divide_and_modulo_follow_python_on_negatives(sf_runner, make_df, ex, a, b):
    table = ex.run(
        make_df({"a": [a], "b": [b]}),
        (col("a") // col("b")).alias("q"),
        (col("a") % col("b")).alias("r"),
    )
    assert table.to_pylist() == [{"q": a // b, "r": a % b}]


@pytest.mark.parametrize(("a", "b"), [(7.5, 2.0), (-7.5, 2.0), (7.5, -2.0), (-7.5, -2.0)])
def test_float_floor_divide_and_modulo_follow_python(sf_runner, make_df, ex, a, b):
    table = ex.run(
        make_df({"a": [a], "b": [b]}),
        (col("a") // col("b")).alias("q"),
        (col("a") % col("b")).alias("r"),
    )
    assert table.to_pylist() == [{"q": a // b, "r": a % b}]


@pytest.mark.parametrize("op", ["/", "//", "%"])
def test_float_division_by_zero_gives_inf_or_nan_like_pandas(sf_runner, make_df, ex, op):
    data = [1.5, -1.5, 0.0, None]
    fn = OPS[op]
    table = ex.run(make_df({"x": data}, num_partitions=2), fn(col("x"), 0.0).alias("r"))
    expected = fn(pd.Series(data, dtype="float64"), 0.0)
    actual = ex.column(table, "r")
    assert actual[3] is None  # null stays null, it does not become NaN
    ex.assert_values(actual[:3], expected.tolist()[:3])


def test_integer_true_division_by_zero_gives_inf(sf_runner, make_df, ex):
    table = ex.run(make_df({"a": [3, -3, 0, None]}), (col("a") / 0).alias("r"))
    values = ex.column(table, "r")
    assert values[:2] == [np.inf, -np.inf] and np.isnan(values[2]) and values[3] is None


@pytest.mark.parametrize("op", ["//", "%"])
def test_integer_floor_division_by_zero_gives_null(sf_runner, make_df, ex, op):
    # Python raises and pandas gives inf/NaN on floats; an int column gets null, like
    # Daft and polars, instead of failing the whole query mid-run.
    table = ex.run(
        make_df({"a": [7, -7, 0, None], "b": [0, 2, 0, 1]}, num_partitions=2),
        OPS[op](col("a"), col("b")).alias("r"),
    )
    assert table.schema.field("r").type == pa.int64()
    assert ex.column(table, "r") == [None, OPS[op](-7, 2), None, None]


@pytest.mark.parametrize("dtype", [pa.int8(), pa.int32(), pa.int64(), pa.float32(), pa.float64()])
def test_negate(sf_runner, make_df, ex, nparts, dtype):
    data = pa.table({"a": pa.array([1, -2, None, 0, 5], type=dtype)})
    table = ex.run(make_df(data, num_partitions=nparts), (-col("a")).alias("n"))
    assert ex.column(table, "n") == [-1, 2, None, 0, -5]
    assert table.schema.field("n").type == dtype


def test_mixed_int_and_float_promote_to_float(sf_runner, make_df, ex):
    table = ex.run(
        make_df({"a": [1, 2], "x": [0.5, 1.5]}),
        (col("a") + col("x")).alias("s"),
        (col("a") * lit(2.0)).alias("p"),
    )
    assert table.to_pydict() == {"s": [1.5, 3.5], "p": [2.0, 4.0]}
    assert table.schema.field("s").type == pa.float64()


def test_nested_arithmetic_matches_pandas(sf_runner, make_df, ex, nparts):
    expr = ((col("a") + 1) * col("b") - col("a") % 4) // 3
    table = ex.run(make_df(INTS, num_partitions=nparts), expr.alias("r"))
    a = pd.Series(INTS["a"], dtype="float64")
    b = pd.Series(INTS["b"], dtype="float64")
    ex.assert_values(ex.column(table, "r"), ex.values(((a + 1) * b - a % 4) // 3))
