"""``functions.when(...).when(...).otherwise(...)`` (Daft 0.7's CASE WHEN) against a
Python reading of the same chain, and the ``if_else`` it is built from."""

from __future__ import annotations

import pyarrow as pa
import pytest

from spillframe import ExpressionTypeError, col, lit
from spillframe.expr.expression import structural_key
from spillframe.functions import when

SCORES = [85, 92, None, 65, 78, 90]


def _grade(score):
    """The chain below, read as Python (a null condition gives null, as in Daft)."""
    if score is None:
        return None
    if score >= 90:
        return "A"
    if score >= 80:
        return "B"
    return "C" if score >= 70 else "F"


def _grades():
    s = col("score")
    return when(s >= 90, then="A").when(s >= 80, then="B").when(s >= 70, "C").otherwise("F")


def test_first_condition_that_holds_picks_the_value(sf_runner, make_df, ex, nparts):
    table = ex.run(make_df({"score": SCORES}, num_partitions=nparts), _grades())
    assert ex.column(table, "score") == [_grade(s) for s in SCORES]
    assert table.schema.field("score").type == pa.string()


def test_without_otherwise_the_rest_is_null(sf_runner, make_df, ex, nparts):
    chain = when(col("score") >= 90, then=col("score") * 10).when(col("score") < 70, then=0)
    table = ex.run(make_df({"score": SCORES}, num_partitions=nparts), chain)
    expected = [None if s is None else s * 10 if s >= 90 else 0 if s < 70 else None for s in SCORES]
    assert ex.column(table, "score") == expected
    assert table.schema.field("score").type == pa.int64()


def test_values_of_different_numeric_types_meet_in_a_common_type(sf_runner, make_df, ex):
    table = ex.run(make_df({"x": [1, 5]}), when(col("x") > 3, then=col("x")).otherwise(0.5))
    assert ex.column(table, "x") == [0.5, 5.0]
    assert table.schema.field("x").type == pa.float64()


def test_is_the_nested_if_else_daft_builds(sf_runner, make_df):
    s = col("score")
    nested = (s >= 90).if_else(lit("A"), (s >= 80).if_else(lit("B"), lit("F")))
    chain = when(s >= 90, then="A").when(s >= 80, then="B").otherwise("F")
    assert structural_key(chain) == structural_key(nested)
    df = make_df({"score": SCORES}, num_partitions=2)
    assert df.select(chain).to_pydict() == df.select(nested).to_pydict()


def test_a_chain_is_an_expression_in_filters_and_aggregations(sf_runner, make_df):
    df = make_df({"k": ["a", "a", "b", "b"], "x": [1, 5, 7, None]}, num_partitions=2)
    high = when(col("x") > 3, then=1).otherwise(0)
    out = df.groupby("k").agg(high.sum().alias("high"), col("x").count().alias("n")).sort("k")
    assert out.to_pydict() == {"k": ["a", "b"], "high": [1, 1], "n": [2, 1]}
    kept = df.where(when(col("k") == "a", then=col("x") > 3).otherwise(True)).sort("x")
    assert kept.to_pydict() == {"k": ["a", "b", "b"], "x": [5, 7, None]}


def test_a_python_bool_condition_is_a_literal(sf_runner, make_df, ex):
    table = ex.run(make_df({"x": [1, 2]}), col("x"), when(False, then=1).otherwise(2).alias("c"))
    assert ex.column(table, "c") == [2, 2]


@pytest.mark.parametrize("condition", ["x", 1, None])
def test_a_condition_that_is_no_expression_or_bool_fails_at_once(condition):
    with pytest.raises(TypeError, match="when needs a boolean expression .* as its condition"):
        when(condition, then=1)
    with pytest.raises(TypeError, match="when needs a boolean expression"):
        when(col("x") > 1, then=1).when(condition, then=2)


def test_a_non_boolean_condition_column_fails_when_the_plan_is_built(make_df):
    with pytest.raises(
        ExpressionTypeError,
        match=r"if_else needs a boolean condition, got int64 \(when\(\) is made",
    ):
        make_df({"x": [1, 2]}).select(when(col("x"), then=1).otherwise(0))
