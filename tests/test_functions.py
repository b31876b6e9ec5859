"""spillframe.functions (Daft's daft.functions names) against DuckDB and Python's
datetime, on 1 and 2 partitions."""

from __future__ import annotations

import datetime
import zoneinfo

import duckdb
import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import col
from spillframe import functions as F

DATES = pa.table(
    {
        "d": [
            datetime.date(2024, 1, 31),
            datetime.date(2023, 2, 10),
            None,
            datetime.date(1969, 12, 31),
        ],
        "e": [
            datetime.date(2024, 3, 1),
            datetime.date(2023, 2, 10),
            datetime.date(2020, 1, 1),
            None,
        ],
        "n": [1, -41, 3, 400],
        "t": [
            datetime.datetime(2024, 1, 31, 23, 59),
            datetime.datetime(2023, 7, 14, 3, 40),
            None,
            datetime.datetime(1969, 12, 31, 12),
        ],
    }
)


def duck(sql: str) -> list[tuple]:
    con = duckdb.connect()
    con.register("t", DATES)
    return con.sql(sql).fetchall()


@pytest.fixture(params=[1, 2], ids=["1part", "2parts"])
def df(request, make_df):
    return make_df(DATES, num_partitions=request.param)


def test_date_functions_match_duckdb(sf_runner, df):
    out = df.select(
        F.date_add(col("d"), col("n")).alias("add"),
        F.date_sub(col("d"), 2).alias("sub"),
        F.date_diff(col("e"), col("d")).alias("diff"),
        F.last_day(col("d")).alias("last"),
        F.last_day(col("t")).alias("last_t"),
        F.date_diff(col("t"), col("d")).alias("diff_t"),
    )
    table = out.to_arrow()
    assert table.schema == out.schema()
    assert table.schema.field("diff").type == pa.int32()  # as Daft
    assert table.schema.field("last").type == pa.date32()
    expected = duck(
        "SELECT CAST(d + to_days(CAST(n AS INTEGER)) AS DATE), CAST(d - INTERVAL 2 DAY AS DATE), "
        "date_diff('day', d, e), last_day(d), last_day(t), date_diff('day', d, CAST(t AS DATE)) FROM t"
    )
    assert [tuple(r.values()) for r in table.to_pylist()] == expected


def test_make_date_is_null_for_invalid_dates(sf_runner, make_df):
    parts = {"y": [2024, 2023, 2023, 2000, None], "m": [2, 2, 13, 12, 1], "d": [29, 29, 1, 31, 1]}
    out = make_df(parts).select(F.make_date(col("y"), col("m"), col("d")).alias("date"))

    def python(y, m, d):
        try:
            return datetime.date(y, m, d)
        except (TypeError, ValueError):
            return None

    assert out.to_pydict()["date"] == [python(*r) for r in zip(*parts.values())]
    assert make_df({"a": [1]}).select(F.make_date(2020, 1, 2).alias("x")).to_pydict() == {
        "x": [datetime.date(2020, 1, 2)]
    }


def test_from_unixtime_and_to_utc_timestamp(sf_runner, df, make_df):
    secs = make_df({"s": [0, 1609459200, None, 1.5e9]})
    got = secs.select(F.from_unixtime(col("s")), F.from_unixtime(col("s"), "%Y/%m").alias("m"))
    expected = [
        None if s is None else datetime.datetime.fromtimestamp(int(s), datetime.UTC)
        for s in [0, 1609459200, None, 1.5e9]
    ]
    assert got.to_pydict() == {
        "s": [None if e is None else e.strftime("%Y-%m-%d %H:%M:%S") for e in expected],
        "m": [None if e is None else e.strftime("%Y/%m") for e in expected],
    }
    utc = df.select(F.to_utc_timestamp(col("t"), "America/New_York")).to_pydict()["t"]
    zone = zoneinfo.ZoneInfo("America/New_York")
    assert utc == [
        None if t is None else t.replace(tzinfo=zone).astimezone(datetime.UTC).replace(tzinfo=None)
        for t in DATES.column("t").to_pylist()
    ]
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        F.to_utc_timestamp(col("t"), "Mars/Base")


def test_format_and_interval(sf_runner, make_df):
    df = make_df({"who": ["Ann", "Bo", None], "n": [1, 22, 3]})
    out = df.select(F.format("{}: #{}!", "who", col("n") * 2).alias("s")).to_pydict()["s"]
    assert out == ["Ann: #2!", "Bo: #44!", None]
    with pytest.raises(ValueError, match="has 2 placeholders but 1 arguments"):
        F.format("{} {}", "who")
    t = make_df({"t": [datetime.datetime(2021, 1, 1, 23, 30)]})
    step = sf.interval(days=1, hours=2, seconds=30, millis=5)
    got = t.select(col("t") + step, (col("t") - sf.interval(minutes=31)).alias("m")).to_pylist()
    base = datetime.datetime(2021, 1, 1, 23, 30)
    delta = datetime.timedelta(days=1, hours=2, seconds=30, milliseconds=5)
    assert got == [{"t": base + delta, "m": base - datetime.timedelta(minutes=31)}]
    with pytest.raises(ValueError, match="calendar units have no fixed length"):
        sf.interval(months=1)


def test_function_mirrors_equal_expression_methods(sf_runner, make_df):
    df = make_df(
        {"k": [1, 1, 2], "x": [1.5, float("nan"), None], "v": [1, 4, 2], "s": ["a", "B", "c"]}
    )
    by_function = df.groupby("k").agg(
        F.sum("v"), F.stddev(col("v"), ddof=0).alias("sd"), F.string_agg("s", "-")
    )
    by_method = df.groupby("k").agg(
        col("v").sum(), col("v").stddev(0).alias("sd"), col("s").string_agg("-")
    )
    expected = {"k": [1, 2], "v": [5, 2], "sd": [1.5, 0.0], "s": ["a-B", "c"]}
    assert by_function.sort("k").to_pydict() == by_method.sort("k").to_pydict() == expected
    rows = df.select(F.is_nan(col("x")), F.fill_nan(col("x"), 0.0).alias("f"), F.upper(col("s")))
    assert rows.to_pydict() == {
        "x": [False, True, None],
        "f": [1.5, 0.0, None],
        "s": ["A", "B", "C"],
    }
