"""join on expressions and aliased keys (against DuckDB), Daft's prefix=/suffix= naming
of clashing right columns, and the strategy argument's checks."""

from __future__ import annotations

from collections import Counter

import duckdb
import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import col

LEFT = pa.table({"a": [1, 2, 3, None, 2], "x": ["p", "q", "r", "s", "t"]})
RIGHT = pa.table({"b": [10, 20, 20, 40, None], "x": ["P", "Q", "R", "S", "T"]})


def duck(sql: str) -> Counter:
    con = duckdb.connect()
    con.register("l", LEFT)
    con.register("r", RIGHT)
    return Counter(con.sql(sql).fetchall())


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer", "semi", "anti"])
@pytest.mark.parametrize("parts", [1, 3])
def test_join_on_expressions_matches_duckdb(sf_runner, make_df, how, parts):
    left, right = make_df(LEFT, num_partitions=parts), make_df(RIGHT, num_partitions=2)
    out = left.join(right, left_on=col("a") * 10, right_on="b", how=how)
    table = out.to_arrow()
    assert table.schema == out.schema()
    if how in ("semi", "anti"):
        assert out.column_names == ["a", "x"]
        exists = "EXISTS" if how == "semi" else "NOT EXISTS"
        sql = f"SELECT a, x FROM l WHERE {exists} (SELECT 1 FROM r WHERE l.a * 10 = r.b)"
    else:
        assert out.column_names == ["a", "x", "b", "right.x"]
        kind = {"outer": "FULL OUTER"}.get(how, how.upper())
        sql = f'SELECT l.a, l.x, r.b, r.x AS "right.x" FROM l {kind} JOIN r ON l.a * 10 = r.b'
    assert Counter(zip(*table.to_pydict().values())) == duck(sql)


def test_aliased_and_computed_keys_on_both_sides(sf_runner, make_df):
    left, right = make_df(LEFT), make_df(RIGHT)
    out = left.join(right, left_on=col("a").alias("key"), right_on=(col("b") // 10).alias("k"))
    assert out.column_names == ["a", "x", "b", "right.x"]
    expected = duck("SELECT l.a, l.x, r.b, r.x FROM l JOIN r ON l.a = r.b // 10")
    assert Counter(zip(*out.to_pydict().values())) == expected
    # on= with an expression computes it on both sides
    same = left.join(left, on=col("a") % 2, how="semi")
    assert same.count_rows() == 4


@pytest.mark.parametrize(
    ("prefix", "suffix", "name"),
    [(None, None, "right.x"), ("r_", None, "r_x"), (None, "_r", "x_r"), ("<", ">", "<x>")],
)
def test_prefix_and_suffix_name_clashing_columns_as_daft(sf_runner, make_df, prefix, suffix, name):
    left = make_df({"k": [1, 2], "x": [1, 2]})
    right = make_df({"k": [2, 3], "x": [20, 30]})
    out = left.join(right, on="k", how="outer", prefix=prefix, suffix=suffix)
    assert out.column_names == ["k", "x", name]
    rows = sorted(out.to_pylist(), key=lambda r: r["k"])
    assert [r[name] for r in rows] == [None, 20, 30]


def test_renamed_name_skips_taken_names(sf_runner, make_df):
    left = make_df({"k": [1], "x": [1], "right.x": [2]})
    right = make_df({"k": [1], "x": [3]})
    out = left.join(right, on="k")
    assert out.to_pylist() == [{"k": 1, "x": 1, "right.x": 2, "right.right.x": 3}]


def test_strategy_and_key_errors(make_df):
    left, right = make_df(LEFT), make_df(RIGHT)
    with pytest.raises(
        ValueError,
        match=r"strategy must be one of \[None, 'hash', 'broadcast', 'sort_merge'\], got 'merge'",
    ):
        left.join(right, left_on="a", right_on="b", strategy="merge")
    with pytest.raises(ValueError, match="a cross join takes no strategy"):
        left.join(right, how="cross", strategy="hash")
    with pytest.raises(ValueError, match="as many left_on as right_on keys"):
        left.join(right, left_on=["a", "x"], right_on="b")
    with pytest.raises(
        sf.ExpressionTypeError,
        match=r"cannot join left key col\(a\) \+ lit\(1\) \(int64\) with right key 'x' \(string\)",
    ):
        left.join(right, left_on=col("a") + 1, right_on="x")
    with pytest.raises(sf.ExpressionTypeError, match="cannot be an aggregation"):
        left.join(right, left_on=col("a").sum(), right_on="b")
