"""DataFrame-level aggregations (sum/mean/min/max/count...) and GroupedDataFrame
shortcuts, against DuckDB, on 1 and 3 partitions."""

from __future__ import annotations

import decimal

import duckdb
import pandas as pd
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


@pytest.mark.parametrize("ddof", [0, 1, 2])
def test_stddev_and_var_with_ddof_match_pandas(sf_runner, make_df, ddof):
    # 3 partitions of tiny size: partial -> final, merged with Chan's formula
    with sf.config.configure(partition_bytes=64):
        df = make_df(DATA, num_partitions=3)
        grouped = df.groupby("k").agg(
            sf.col("f").stddev(ddof=ddof).alias("sd"), sf.col("a").var(ddof).alias("v")
        )
        table = grouped.to_arrow()
        whole = df.stddev("f", ddof=ddof).to_pydict()["f"][0]
        shortcut = df.groupby("k").var("a", "f", ddof=ddof).to_arrow()
    assert table.schema == grouped.schema()
    pdf = DATA.to_pandas()
    expected = (
        pdf.groupby("k", dropna=False)
        .agg(sd=("f", lambda s: s.std(ddof=ddof)), v=("a", lambda s: s.var(ddof=ddof)))
        .reset_index()
    )
    got = table.to_pandas().astype({"sd": "float64", "v": "float64"})
    assert_df_equal(got, expected, sort_by=["k"], check_dtype=False, rtol=1e-9)
    assert whole == pytest.approx(pdf["f"].std(ddof=ddof))
    by_var = {r["k"]: r for r in shortcut.to_pylist()}
    for key, rows in pdf.groupby("k", dropna=False):
        k = None if pd.isna(key) else int(key)
        exp = rows["a"].var(ddof=ddof)
        assert (by_var[k]["a"] is None) if pd.isna(exp) else by_var[k]["a"] == pytest.approx(exp)


def test_var_and_stddev_match_duckdb_global(sf_runner, df):
    out = df.agg(
        sf.col("f").var(ddof=0).alias("vp"),
        sf.col("f").var().alias("vs"),
        sf.col("a").stddev(ddof=0).alias("sp"),
        sf.col("a").stddev().alias("ss"),
    )
    expected = duck(
        "SELECT var_pop(f) AS vp, var_samp(f) AS vs, stddev_pop(a) AS sp, stddev_samp(a) AS ss "
        "FROM data"
    )
    assert_df_equal(out.to_arrow(), expected, rtol=1e-9)
    with pytest.raises(ValueError, match="ddof must be an int >= 0"):
        sf.col("a").stddev(ddof=-1)


def test_string_agg_matches_duckdb(sf_runner, df):
    out = df.groupby("k").agg(sf.col("s").string_agg(",").alias("s"))
    table = out.to_arrow()
    assert table.schema == out.schema()
    # order within a group: input order, as DuckDB's string_agg over an ordered scan
    expected = duck("SELECT k, string_agg(s, ',') AS s FROM data GROUP BY k")
    assert_df_equal(table, expected, sort_by=["k"])
    assert df.agg_concat("s").to_pydict() == {"s": ["xyzxw"]}
    assert df.groupby("k").string_agg("s").sort("k", nulls_first=True).to_pydict()["s"] == [
        "w",
        "xy",
        "zx",
    ]
    with pytest.raises(sf.ExpressionTypeError, match="string_agg needs a string column"):
        df.agg(sf.col("a").string_agg())


@pytest.mark.parametrize("parts", [1, 3])
def test_decimal_mean_stays_decimal_as_daft(sf_runner, make_df, parts):
    money = pa.array(
        [
            decimal.Decimal(v) if v else None
            for v in ["1.00", "2.00", "2.00", None, "-1.25", "7.10"]
        ],
        pa.decimal128(15, 2),
    )
    table = pa.table({"k": [1, 1, 1, 2, 3, 3], "m": money})
    with sf.config.configure(partition_bytes=64):
        df = make_df(table, num_partitions=parts)
        grouped = df.groupby("k").agg(sf.col("m").mean(), sf.col("m").stddev().alias("sd"))
        result = grouped.to_arrow()
        overall = df.mean("m").to_arrow()
    # Daft: mean of decimal(p, s) is decimal(38, s + 4); stddev is float64
    assert result.schema == grouped.schema()
    assert result.schema.field("m").type == pa.decimal128(38, 6)
    assert result.schema.field("sd").type == pa.float64()
    con = duckdb.connect()
    con.register("t", table)
    expected = (
        con.sql("SELECT k, avg(m) AS m, stddev_samp(m) AS sd FROM t GROUP BY k").arrow().read_all()
    )
    got = result.to_pandas().astype({"m": "float64"})
    assert_df_equal(got, expected.to_pandas(), sort_by=["k"], check_dtype=False, rtol=1e-6)
    # 5 / 3 truncates (Daft divides the scaled integers), it does not round up
    assert sorted(result.to_pylist(), key=lambda r: r["k"])[0]["m"] == decimal.Decimal("1.666666")
    assert overall.column("m").to_pylist() == [decimal.Decimal("2.170000")]
    # comparisons across decimal scales work (decimal(15, 2) > decimal(38, 6))
    above = df.where(sf.col("m") > sf.lit(overall.column("m")[0])).count_rows()
    assert above == 1
