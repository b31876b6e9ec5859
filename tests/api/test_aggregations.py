"""DataFrame-level aggregations (sum/mean/min/max/count...) and GroupedDataFrame
shortcuts, against DuckDB, on 1 and 3 partitions."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

import spillframe as sf
from spillframe.testing import assert_df_equal

DATA = pa.table(
    {
        "k": [1, 1, 2, 2, 2, None],
        "a": [1, None, 3, 4, 4, 6],
        "f": [0.5, 1.5, None, -2.0, 3.25, 1.0],
        "s": ["x", "y", None, "z", "x", "w"],
    }
)


@pytest.fixture(params=[1, 3], ids=["1part", "3parts"])
def df(request, make_df):
    return make_df(DATA, num_partitions=request.param)


def duck(sql: str) -> pa.Table:
    """The answer of DuckDB's ``sql`` over ``DATA`` (the table named ``data``)."""
    con = duckdb.connect()
    con.register("data", DATA)
    return con.sql(sql).arrow().read_all()


@pytest.mark.parametrize(
    ("method", "sql"),
    [
        ("sum", "sum(k)::BIGINT AS k, sum(a)::BIGINT AS a, sum(f) AS f"),
        ("mean", "avg(k) AS k, avg(a) AS a, avg(f) AS f"),
        ("min", "min(k) AS k, min(a) AS a, min(f) AS f"),
        ("max", "max(k) AS k, max(a) AS a, max(f) AS f"),
        ("count", "count(k) AS k, count(a) AS a, count(f) AS f"),
        (
            "count_distinct",
            "count(DISTINCT k) AS k, count(DISTINCT a) AS a, count(DISTINCT f) AS f",
        ),
    ],
)
def test_global_shortcuts_match_duckdb(sf_runner, df, method, sql):
    # count() with no columns counts rows (see below); the others default to every column
    cols = ("k", "a", "f") if method == "count" else ()
    result = getattr(df.exclude("s"), method)(*cols)
    table = result.to_arrow()
    assert table.schema == result.schema()
    assert_df_equal(table, duck(f"SELECT {sql} FROM data"), check_dtype=False)


def test_global_shortcut_of_named_columns(sf_runner, df):
    assert df.max("s", "a").to_pydict() == {"s": ["z"], "a": [6]}
    assert df.min(["f"]).to_pydict() == {"f": [-2.0]}


@pytest.mark.parametrize("star", [(), ("*",), (1,)])
def test_count_rows_as_daft(sf_runner, df, star):
    result = df.where(sf.col("a") > 1).count(*star)
    assert result.schema() == pa.schema([("count", pa.int64())])
    assert result.to_pydict() == {
        "count": duck("SELECT count(*) AS count FROM data WHERE a > 1")["count"].to_pylist()
    }


def test_count_star_with_names_is_an_error(df):
    with pytest.raises(ValueError, match="either '\\*'"):
        df.count("*", "a")
    with pytest.raises(sf.SchemaError, match="no column 'b'"):
        df.sum("b")


@pytest.mark.parametrize(
    ("method", "sql"),
    [
        ("sum", "sum(a)::BIGINT AS a, sum(f) AS f"),
        ("mean", "avg(a) AS a, avg(f) AS f"),
        ("count", "count(a) AS a, count(f) AS f"),
        ("any_value", None),
        ("list_agg", None),
    ],
)
def test_grouped_shortcuts_match_duckdb(sf_runner, df, method, sql):
    grouped = getattr(df.exclude("s").groupby("k"), method)()
    table = grouped.to_arrow()
    assert table.schema == grouped.schema()
    if method == "any_value":
        for key, a, f in zip(*table.to_pydict().values()):
            rows = [r for r in DATA.to_pylist() if r["k"] == key]
            assert a in {r["a"] for r in rows if r["a"] is not None}
            assert f in {r["f"] for r in rows if r["f"] is not None}
        return
    if method == "list_agg":
        got = {r["k"]: sorted(x for x in r["a"] if x is not None) for r in table.to_pylist()}
        expected = duck(
            "SELECT k, list(a ORDER BY a) FILTER (a IS NOT NULL) AS a FROM data GROUP BY k"
        )
        assert got == {r["k"]: r["a"] or [] for r in expected.to_pylist()}
        return
    expected = duck(f"SELECT k, {sql} FROM data GROUP BY k")
    assert_df_equal(table, expected, sort_by=["k"], check_dtype=False)
