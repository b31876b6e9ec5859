"""Errors a user can cause are raised while the plan is built, before anything runs."""

from __future__ import annotations

import re

import pytest

import spillframe as sf
from spillframe import ExpressionTypeError, SchemaError, col

DATA = {"price": [1.5, 2.0], "qty": [1, 2], "s": ["a", "b"]}


@pytest.fixture
def never_runs(monkeypatch):
    """Fail the test if any query is executed."""
    import spillframe.api.execution as execution

    def refuse(*args, **kwargs):
        raise AssertionError("a query ran; the error should have been raised at build time")

    monkeypatch.setattr(execution, "execute", refuse)
    monkeypatch.setattr(execution, "physical_plan", refuse)


@pytest.mark.parametrize(
    "build",
    [
        lambda df: df.select(col("pric")),
        lambda df: df.where(col("pric") > 1),
        lambda df: df.with_column("total", col("pric") * col("qty")),
        lambda df: df.select((col("qty") + 1).alias("q"), col("pric").is_null()),
        lambda df: df.select(col("pric").str.lower()),
    ],
    ids=["select", "where", "with_column", "nested", "namespace"],
)
def test_unknown_column_names_it_lists_columns_and_suggests(make_df, never_runs, build):
    df = make_df(DATA)
    with pytest.raises(
        SchemaError, match=r"no column 'pric' in \[price, qty, s\]; did you mean 'price'\?"
    ):
        build(df)


def test_unknown_column_without_close_match_has_no_suggestion(make_df, never_runs):
    with pytest.raises(SchemaError, match=r"no column 'zzz' in \[price, qty, s\]$"):
        make_df(DATA).select(col("zzz"))


def test_schema_error_is_a_value_error():
    assert issubclass(SchemaError, ValueError)
    assert issubclass(ExpressionTypeError, TypeError)


@pytest.mark.parametrize(
    ("build", "pattern"),
    [
        (
            lambda: col("s") + 1,
            r"add.*col\(s\) \(string\) and lit\(1\) \(int64\).*col\(s\) \+ lit\(1\)",
        ),
        (lambda: col("s") * col("qty"), r"multiply.*col\(s\) \(string\) and col\(qty\) \(int64\)"),
        (lambda: col("s") / 2, r"true_divide.*col\(s\) \(string\).*\(int64\).*expected a number"),
        (lambda: col("s") // 2, r"floor_divide.*\(string\).*\(int64\)"),
        (lambda: col("s") % 2, r"modulo.*\(string\).*\(int64\)"),
        (lambda: -col("s"), r"negate.*col\(s\) \(string\)"),
        (lambda: col("s") < 1, r"less.*\(string\).*\(int64\)"),
        (lambda: col("qty").str.upper(), r"str\.upper.*col\(qty\) \(int64\).*expected a string"),
        (lambda: col("s").dt.hour(), r"dt\.hour.*col\(s\) \(string\)"),
        (lambda: col("price").round(1) + col("s"), r"add.*\(double\).*col\(s\) \(string\)"),
    ],
    ids=["add", "multiply", "divide", "floordiv", "mod", "neg", "less", "str", "dt", "nested"],
)
def test_type_error_names_expression_and_both_types(make_df, never_runs, build, pattern):
    df = make_df(DATA)
    with pytest.raises(ExpressionTypeError, match=pattern):
        df.select(build().alias("r"))


def test_type_error_in_filter_raises_at_build_time(make_df, never_runs):
    with pytest.raises(ExpressionTypeError, match=r"greater.*\(string\).*\(int64\)"):
        make_df(DATA).where(col("s") > 1)


@pytest.mark.parametrize(
    ("build", "error", "pattern"),
    [
        (lambda: col("s").str.substr(-2, 1), ValueError, "substr start must be an int >= 0"),
        (lambda: col("s").is_in("abc"), TypeError, "is_in needs a list of values, got 'abc'"),
        (lambda: col("s").is_in(3), TypeError, "is_in needs a list of values"),
        (lambda: col("t").dt.truncate("3 eons"), ValueError, r"bad interval '3 eons'; expected"),
        (lambda: col("l").list.get(1.5), TypeError, "list.get index must be an int"),
        (lambda: col("c").count("some"), ValueError, r"count mode must be one of \['all', 'null'"),
        (lambda: sf.lit(col("a")), TypeError, "lit\\(\\) takes a Python value"),
        (lambda: sf.col(3), TypeError, "col\\(\\) needs a column name string"),
    ],
)
def test_bad_arguments_raise_clear_errors(build, error, pattern):
    with pytest.raises(error, match=pattern):
        build()


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (lambda df: df.groupby("tags").agg(col("v").sum()), "cannot group by 'tags'"),
        (lambda df: df.repartition(2, "tags"), "cannot repartition by 'tags'"),
        (lambda df: df.join(df, on="tags"), "cannot join on 'tags'"),
        (lambda df: df.sort("tags"), "cannot sort by 'tags'"),
        (lambda df: df.distinct("tags"), "cannot compare rows on 'tags'"),
        (lambda df: df.distinct(), "distinct('v')"),
    ],
)
def test_list_keys_fail_when_the_query_is_built(build, says):
    """Hashing, grouping and sorting need scalar keys: the error comes at once, naming
    the column and the fix, not from a kernel in the middle of a run."""
    df = sf.from_pydict({"tags": [[1], [2, 3]], "v": [1, 2]})
    with pytest.raises(ExpressionTypeError, match=re.escape(says)):
        build(df)
