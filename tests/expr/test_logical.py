"""``& | ~`` follow Kleene logic: null is "unknown"."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pytest

from spillframe import ExpressionTypeError, col, lit

VALUES = [True, False, None]
PAIRS = list(itertools.product(VALUES, VALUES))
DATA = {"x": [p[0] for p in PAIRS], "y": [p[1] for p in PAIRS]}


def kleene_and(x, y):
    if x is False or y is False:
        return False
    if x is None or y is None:
        return None
    return True


def kleene_or(x, y):
    if x is True or y is True:
        return True
    if x is None or y is None:
        return None
    return False


def test_and_or_not_follow_kleene(sf_runner, make_df, ex, nparts):
    table = ex.run(
        make_df(DATA, num_partitions=nparts),
        (col("x") & col("y")).alias("and"),
        (col("x") | col("y")).alias("or"),
        (~col("x")).alias("not"),
    )
    assert ex.column(table, "and") == [kleene_and(x, y) for x, y in PAIRS]
    assert ex.column(table, "or") == [kleene_or(x, y) for x, y in PAIRS]
    assert ex.column(table, "not") == [None if x is None else not x for x, _ in PAIRS]
    assert all(f.type == pa.bool_() for f in table.schema)


@pytest.mark.parametrize("literal", [True, False])
def test_with_python_bool_on_either_side(sf_runner, make_df, ex, literal):
    table = ex.run(
        make_df(DATA, num_partitions=2),
        (literal & col("x")).alias("a"),
        (col("x") | literal).alias("o"),
    )
    assert ex.column(table, "a") == [kleene_and(literal, x) for x, _ in PAIRS]
    assert ex.column(table, "o") == [kleene_or(x, literal) for x, _ in PAIRS]


def test_where_keeps_only_true_rows(sf_runner, make_df):
    df = make_df(DATA, num_partitions=3).where(col("x") | col("y"))
    assert sorted(map(repr, df.to_pylist())) == sorted(
        repr({"x": x, "y": y}) for x, y in PAIRS if kleene_or(x, y) is True
    )


def test_combined_comparisons(sf_runner, make_df, ex):
    table = ex.run(make_df({"a": [1, 2, 3, None]}), ((col("a") > 1) & ~(col("a") == 3)).alias("r"))
    assert ex.column(table, "r") == [False, True, False, None]


@pytest.mark.parametrize(
    "build",
    [
        lambda: col("a") & col("x"),
        lambda: ~col("a"),
        lambda: col("x") | lit(1),
    ],
    ids=["and-int", "not-int", "or-int-literal"],
)
def test_non_boolean_operand_fails_at_build_time(make_df, build):
    df = make_df({"a": [1], "x": [True]})
    with pytest.raises(ExpressionTypeError, match="expected a boolean, got int64"):
        df.select(build().alias("r"))


def test_python_and_or_on_expressions_is_refused():
    with pytest.raises(TypeError, match="combine conditions with & | ~"):
        bool(col("a") > 1)
