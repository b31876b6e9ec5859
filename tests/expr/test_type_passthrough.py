"""pyarrow types pass through select/filter and work with the kernels that accept them."""

from __future__ import annotations

import datetime
import decimal
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import spillframe as sf
from spillframe import col

D = decimal.Decimal
DECIMALS = pa.array([D("1.10"), D("-2.25"), None, D("10.05"), D("0.00")], pa.decimal128(10, 2))
TZ = pa.timestamp("us", tz="Europe/Berlin")

PASSTHROUGH = {
    "decimal": DECIMALS,
    "large_string": pa.array(["a", None, "ccc", "d", "e"], pa.large_string()),
    "date32": pa.array([datetime.date(2024, 1, d) for d in range(1, 6)], pa.date32()),
    "timestamp_tz": pa.array(
        [datetime.datetime(2024, 5, d, 12, tzinfo=datetime.timezone.utc) for d in range(1, 6)],
        pa.timestamp("us", tz="UTC"),
    ).cast(TZ),
    "list": pa.array([[1], [], None, [2, 3], [4]], pa.list_(pa.int64())),
    "struct": pa.array(
        [{"x": i, "y": str(i)} for i in range(4)] + [None],
        pa.struct([("x", pa.int64()), ("y", pa.string())]),
    ),
    "list_of_struct": pa.array(
        [[{"k": 1}], None, [], [{"k": 2}, {"k": 3}], [{"k": None}]],
        pa.list_(pa.struct([("k", pa.int64())])),
    ),
    "dictionary": pa.array(["u", "v", "u", None, "v"]).dictionary_encode(),
}


def _table():
    return pa.table({"i": list(range(5)), **PASSTHROUGH})


@pytest.mark.parametrize("name", list(PASSTHROUGH))
def test_select_and_filter_pass_types_through(sf_runner, make_df, nparts, name):
    df = make_df(_table(), num_partitions=nparts).where(col("i") % 2 == 0).select(name, "i")
    result = df.to_arrow()
    assert result.schema == df.schema()
    assert result.schema.field(name).type == PASSTHROUGH[name].type
    assert result.column(name).to_pylist() == [PASSTHROUGH[name][i].as_py() for i in (0, 2, 4)]


@pytest.mark.parametrize("name", list(PASSTHROUGH))
def test_is_null_on_every_type(sf_runner, make_df, ex, name):
    table = ex.run(make_df(_table(), num_partitions=2), col(name).is_null())
    assert ex.column(table, name) == [v is None for v in PASSTHROUGH[name].to_pylist()]


def test_decimal_arithmetic_keeps_exact_values(sf_runner, make_df, ex, nparts):
    table = ex.run(
        make_df({"d": DECIMALS}, num_partitions=nparts),
        (col("d") + col("d")).alias("add"),
        (col("d") - D("0.05")).alias("sub"),
        (col("d") * 2).alias("mul"),
        (-col("d")).alias("neg"),
        col("d").abs(),
    )
    values = DECIMALS.to_pylist()
    assert ex.column(table, "add") == [None if v is None else v + v for v in values]
    assert ex.column(table, "sub") == [None if v is None else v - D("0.05") for v in values]
    assert ex.column(table, "mul") == [None if v is None else v * 2 for v in values]
    assert ex.column(table, "neg") == [None if v is None else -v for v in values]
    assert all(pa.types.is_decimal(f.type) for f in table.schema)


@pytest.mark.parametrize("literal", [1, 1.1, D("1.1")])
def test_decimal_comparisons(sf_runner, make_df, ex, literal):
    table = ex.run(
        make_df({"d": DECIMALS}, num_partitions=2),
        (col("d") > literal).alias("gt"),
        (col("d") == literal).alias("eq"),
    )
    values = DECIMALS.to_pylist()
    assert ex.column(table, "gt") == [None if v is None else v > D(str(literal)) for v in values]
    assert ex.column(table, "eq") == [None if v is None else v == D(str(literal)) for v in values]


def test_decimal_sum_is_exact(sf_runner, make_df, nparts):
    df = make_df({"d": DECIMALS}, num_partitions=nparts).agg(col("d").sum())
    result = df.to_arrow()
    assert result.schema == df.schema()
    assert pa.types.is_decimal(result.schema.field("d").type)
    assert result.column("d").to_pylist() == [D("8.90")]


def test_large_string_functions_keep_large_string(sf_runner, make_df, ex):
    data = pa.table({"s": PASSTHROUGH["large_string"]})
    table = ex.run(
        make_df(data, num_partitions=2),
        col("s").str.upper(),
        (col("s") == "ccc").alias("eq"),
        col("s").fill_null("?").alias("f"),
    )
    assert table.schema.field("s").type == pa.large_string()
    assert ex.column(table, "s") == ["A", None, "CCC", "D", "E"]
    assert ex.column(table, "f") == ["a", "?", "ccc", "d", "e"]


def test_timestamp_tz_compares_with_aware_datetime(sf_runner, make_df):
    data = pa.table({"t": PASSTHROUGH["timestamp_tz"]})
    cutoff = datetime.datetime(2024, 5, 3, 12, tzinfo=datetime.timezone.utc)
    df = make_df(data, num_partitions=2).where(col("t") >= cutoff)
    assert df.count_rows() == 3


def test_timestamps_of_different_units_and_zones_compare(sf_runner, make_df):
    stamps = [datetime.datetime(2024, 1, d, tzinfo=datetime.timezone.utc) for d in (1, 2, 3)]
    data = pa.table(
        {
            "ms": pa.array(stamps, pa.timestamp("ms", tz="Asia/Tokyo")),
            "us": pa.array(stamps, pa.timestamp("us", tz="UTC")),
        }
    )
    df = make_df(data).select(
        (col("ms") == col("us")).alias("eq"), (col("ms") < stamps[1]).alias("lt")
    )
    assert df.to_pydict() == {"eq": [True, True, True], "lt": [True, False, False]}


def test_date_compares_with_date_literal(sf_runner, make_df):
    data = pa.table({"d": PASSTHROUGH["date32"]})
    df = make_df(data, num_partitions=3).where(col("d") > datetime.date(2024, 1, 3))
    assert df.count_rows() == 2


def test_string_view_from_arrow_is_normalized_to_string(sf_runner, make_df, ex):
    data = pa.table(
        {
            "s": pa.array(["x", None, "yz"], pa.string_view()),
            "l": pa.array([["a"], None, ["b", "c"]], pa.list_(pa.string_view())),
        }
    )
    df = sf.from_arrow(data, num_partitions=2)
    assert df.schema().field("s").type == pa.string()
    assert df.schema().field("l").type == pa.list_(pa.string())
    table = ex.run(df, col("s").str.upper(), col("l").list.join("+"))
    assert table.to_pydict() == {"s": ["X", None, "YZ"], "l": ["a", None, "b+c"]}


def test_string_view_parquet_is_normalized_at_the_scan(sf_runner, tmp_path, ex):
    path = os.path.join(tmp_path, "sv.parquet")
    pq.write_table(pa.table({"s": pa.array(["x", None, "yz"], pa.string_view())}), path)
    assert pq.read_schema(path).field("s").type == pa.string_view()
    df = sf.read_parquet(path)
    assert df.schema().field("s").type == pa.string()
    table = ex.run(df.where(col("s") != "x"), col("s").str.length())
    assert table.to_pydict() == {"s": [2]}
