"""Common subexpressions of one projection are computed once, and only truly equal
ones are shared (same columns, functions, options and literal types)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

import spillframe as sf
from spillframe import col, lit
from spillframe.expr import functions
from spillframe.expr.evaluate import value_key as structural_key


def test_equal_expressions_share_a_key():
    revenue = col("price") * (1 - col("discount"))
    assert structural_key(revenue) == structural_key(col("price") * (lit(1) - col("discount")))
    assert structural_key(revenue.alias("r")) == structural_key(revenue)


def test_different_expressions_have_different_keys():
    base = col("a") + 1
    assert structural_key(base) != structural_key(col("a") + 2)
    assert structural_key(base) != structural_key(col("b") + 1)
    assert structural_key(base) != structural_key(col("a") - 1)
    assert structural_key(base) != structural_key(col("a") + lit(pa.scalar(1, pa.int8())))
    assert structural_key(base) != structural_key(col("a") + 1.0)
    assert structural_key(col("a").cast(pa.int32())) != structural_key(col("a").cast(pa.int16()))
    assert structural_key(col("s").str.contains("x")) != structural_key(col("s").str.contains("y"))


def test_python_functions_are_never_shared():
    assert structural_key(col("a").apply(lambda v: v, return_dtype=pa.int64()) + 1) is None


def test_a_shared_part_is_computed_once(monkeypatch):
    calls = []
    multiply = functions.FUNCTIONS["multiply"]

    def counting(*args, **kwargs):
        if any(not isinstance(a, pa.Scalar) and len(a) for a in args):  # not type checks
            calls.append(1)
        return multiply(*args, **kwargs)

    monkeypatch.setitem(functions.FUNCTIONS, "multiply", counting)
    table = pa.table({"price": [10.0, 20.0], "discount": [0.1, 0.5], "tax": [0.2, 0.0]})
    revenue = col("price") * (1 - col("discount"))
    result = (
        sf.from_arrow(table)
        .select(revenue.alias("revenue"), (revenue * (1 + col("tax"))).alias("charge"))
        .to_arrow()
    )
    assert len(calls) == 2  # revenue once, charge once
    expected_revenue = pc.multiply(table["price"], pc.subtract(1, table["discount"]))
    assert result["revenue"].to_pylist() == expected_revenue.to_pylist()
    assert (
        result["charge"].to_pylist()
        == pc.multiply(expected_revenue, pc.add(1, table["tax"])).to_pylist()
    )
