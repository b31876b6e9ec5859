"""The ``.dt`` namespace on dates and (time-zone aware) timestamps, against pandas."""

from __future__ import annotations

import datetime

import pandas as pd
import pyarrow as pa
import pytest

from spillframe import ExpressionTypeError, col

NAIVE = [
    datetime.datetime(2024, 2, 29, 23, 59, 58),
    datetime.datetime(2023, 12, 31, 0, 0, 1),
    None,
    datetime.datetime(2024, 3, 10, 7, 31, 45),
    datetime.datetime(1999, 1, 4, 12, 15),
]
# 04:30 UTC is the previous evening in New York and already the next day in Tokyo.
UTC = [
    datetime.datetime(2024, 3, 10, 4, 30, tzinfo=datetime.timezone.utc),
    datetime.datetime(2024, 7, 1, 23, 45, tzinfo=datetime.timezone.utc),
    None,
    datetime.datetime(2024, 11, 3, 6, 10, 5, tzinfo=datetime.timezone.utc),
]

PARTS = ["year", "month", "day", "hour", "minute", "second", "day_of_week"]
PANDAS: dict[str, str] = {}


def _naive_table():
    return pa.table({"t": pa.array(NAIVE, type=pa.timestamp("us"))})


def _tz_table(tz):
    return pa.table(
        {"t": pa.array(UTC, type=pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us", tz=tz))}
    )


@pytest.mark.parametrize("part", PARTS)
def test_parts_of_naive_timestamps_match_pandas(sf_runner, make_df, ex, nparts, part):
    table = ex.run(make_df(_naive_table(), num_partitions=nparts), getattr(col("t").dt, part)())
    expected = getattr(pd.Series(pd.to_datetime(NAIVE)).dt, PANDAS.get(part, part))
    assert ex.column(table, "t") == ex.values(expected)
    assert table.schema.field("t").type == pa.int64()


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Tokyo", "UTC"])
@pytest.mark.parametrize("part", PARTS)
def test_parts_of_tz_aware_timestamps_are_local(sf_runner, make_df, ex, tz, part):
    table = ex.run(make_df(_tz_table(tz), num_partitions=2), getattr(col("t").dt, part)())
    local = pd.Series(pd.to_datetime(UTC, utc=True)).dt.tz_convert(tz)
    assert ex.column(table, "t") == ex.values(getattr(local.dt, PANDAS.get(part, part)))


@pytest.mark.parametrize("part", ["year", "month", "day", "day_of_week"])
def test_parts_of_dates(sf_runner, make_df, ex, part):
    days = [datetime.date(2024, 2, 29), None, datetime.date(2021, 1, 3)]
    table = ex.run(make_df({"d": days}), getattr(col("d").dt, part)())
    expected = getattr(pd.Series(pd.to_datetime(days)).dt, PANDAS.get(part, part))
    assert ex.column(table, "d") == ex.values(expected)


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Tokyo", "UTC"])
def test_date_of_tz_aware_timestamp_is_the_local_date(sf_runner, make_df, ex, nparts, tz):
    table = ex.run(make_df(_tz_table(tz), num_partitions=nparts), col("t").dt.date())
    local = pd.Series(pd.to_datetime(UTC, utc=True)).dt.tz_convert(tz).dt.date
    assert ex.column(table, "t") == ex.values(local)
    assert table.schema.field("t").type == pa.date32()


def test_date_of_naive_timestamp_and_of_date(sf_runner, make_df, ex):
    table = ex.run(make_df(_naive_table()), col("t").dt.date())
    assert ex.column(table, "t") == [None if v is None else v.date() for v in NAIVE]
    days = [datetime.date(2024, 1, 2), None]
    assert ex.column(ex.run(make_df({"d": days}), col("d").dt.date()), "d") == days


@pytest.mark.parametrize(
    ("interval", "freq"),
    [
        ("1 day", "1D"),
        ("15 minutes", "15min"),
        ("1 hour", "1h"),
        ("2 hours", "2h"),
        ("second", "1s"),
    ],
)
def test_truncate_naive_matches_pandas_floor(sf_runner, make_df, ex, nparts, interval, freq):
    table = ex.run(make_df(_naive_table(), num_partitions=nparts), col("t").dt.truncate(interval))
    expected = pd.Series(pd.to_datetime(NAIVE)).dt.floor(freq)
    actual = [None if v is None else pd.Timestamp(v) for v in ex.column(table, "t")]
    assert actual == ex.values(expected)
    assert table.schema.field("t").type == pa.timestamp("us")


def test_truncate_tz_aware_to_day_is_local_midnight(sf_runner, make_df, ex):
    table = ex.run(make_df(_tz_table("America/New_York")), col("t").dt.truncate("1 day"))
    local = pd.Series(pd.to_datetime(UTC, utc=True)).dt.tz_convert("America/New_York")
    expected = [None if v is pd.NaT else v.normalize() for v in local]
    actual = [None if v is None else pd.Timestamp(v) for v in ex.column(table, "t")]
    assert actual == expected
    assert table.schema.field("t").type == pa.timestamp("us", tz="America/New_York")


def test_truncate_date_to_month(sf_runner, make_df, ex):
    table = ex.run(
        make_df({"d": [datetime.date(2024, 2, 29), None]}), col("d").dt.truncate("1 month")
    )
    assert ex.column(table, "d") == [datetime.date(2024, 2, 1), None]


@pytest.mark.parametrize("interval", ["1 fortnight", "fifteen minutes", "", "1 day ago", 3])
def test_bad_interval_raises_at_build_time_listing_units(interval):
    with pytest.raises(ValueError, match=r"bad interval .*expected e\.g\. '1 day'.*minute"):
        col("t").dt.truncate(interval)


@pytest.mark.parametrize("part", ["year", "date"])
def test_dt_on_non_temporal_column_fails_at_build_time(make_df, part):
    with pytest.raises(ExpressionTypeError, match=rf"dt\.{part}.*expected a date or timestamp"):
        make_df({"n": ["2024-01-01"]}).select(getattr(col("n").dt, part)())
