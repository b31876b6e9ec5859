"""``abs``, ``round``, ``if_else``, ``hash`` and ``apply``."""

from __future__ import annotations

import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import ExpressionTypeError, col, lit

DATA = {
    "a": [3, -4, None, 0, -7, 12],
    "x": [2.5, -3.5, 0.125, None, -0.5, 1.005],
    "s": ["p", "q", None, "r", "p", "q"],
}


@pytest.mark.parametrize("column", ["a", "x"])
def test_abs_matches_pandas(sf_runner, make_df, ex, nparts, column):
    table = ex.run(make_df(DATA, num_partitions=nparts), col(column).abs())
    expected = pd.Series(DATA[column], dtype="float64").abs()
    ex.assert_values(ex.column(table, column), ex.values(expected))
    assert table.schema.field(column).type == make_df(DATA).schema().field(column).type


@pytest.mark.parametrize("decimals", [0, 1, 2, -1])
def test_round_half_to_even_matches_numpy(sf_runner, make_df, ex, nparts, decimals):
    table = ex.run(make_df(DATA, num_partitions=nparts), col("x").round(decimals))
    expected = [None if v is None else float(np.round(v, decimals)) for v in DATA["x"]]
    ex.assert_values(ex.column(table, "x"), expected)


@pytest.mark.parametrize(
    ("decimals", "expected"), [(0, [3, -4, None, 0, -7, 12]), (-1, [0, 0, None, 0, -10, 10])]
)
def test_round_integers(sf_runner, make_df, ex, decimals, expected):
    table = ex.run(make_df(DATA), col("a").round(decimals))
    assert ex.column(table, "a") == expected
    assert table.schema.field("a").type == pa.int64()


def test_round_decimal_keeps_decimal(sf_runner, make_df, ex):
    data = pa.table(
        {"d": pa.array([decimal.Decimal("1.25"), decimal.Decimal("1.35")], pa.decimal128(10, 2))}
    )
    table = ex.run(make_df(data), col("d").round(1))
    assert pa.types.is_decimal(table.schema.field("d").type)
    assert ex.column(table, "d") == [decimal.Decimal("1.2"), decimal.Decimal("1.4")]


def test_if_else_matches_numpy_where(sf_runner, make_df, ex, nparts):
    table = ex.run(
        make_df(DATA, num_partitions=nparts), (col("a") > 0).if_else(col("a"), -col("a")).alias("r")
    )
    expected = [None if a is None else abs(a) for a in DATA["a"]]
    assert ex.column(table, "r") == expected


def test_if_else_with_literals_and_null_condition(sf_runner, make_df, ex):
    table = ex.run(
        make_df(DATA, num_partitions=2),
        col("s").is_in(["p"]).if_else("yes", "no").alias("r"),
        (col("x") > 0).if_else(col("a"), 0.5).alias("m"),
    )
    assert ex.column(table, "r") == ["yes", "no", "no", "no", "yes", "no"]
    # A null condition gives null; int and float branches promote to float.
    assert ex.column(table, "m") == [3.0, 0.5, None, None, 0.5, 12.0]
    assert table.schema.field("m").type == pa.float64()


def test_if_else_needs_a_boolean_condition(make_df):
    with pytest.raises(ExpressionTypeError, match="if_else needs a boolean condition, got int64"):
        make_df(DATA).select(col("a").if_else(1, 2))


def test_if_else_incompatible_branches_fail_at_build_time(make_df):
    with pytest.raises(ExpressionTypeError, match=r"if_else.*int64.*string"):
        make_df(DATA).select((col("a") > 0).if_else(col("a"), col("s")))


@pytest.mark.parametrize("column", ["a", "s", "x"])
def test_hash_is_stable_across_partition_counts(sf_runner, make_df, ex, column):
    results = [
        ex.column(ex.run(make_df(DATA, num_partitions=n), col(column).hash()), column)
        for n in (1, 2, 5)
    ]
    assert results[0] == results[1] == results[2]
    assert len(set(results[0])) == len(set(DATA[column]))  # equal inputs, equal hashes


def test_hash_is_equal_for_int32_and_int64(sf_runner, make_df, ex):
    values = [1, -5, None, 2**31 - 1]
    data = pa.table({"i32": pa.array(values, pa.int32()), "i64": pa.array(values, pa.int64())})
    table = ex.run(make_df(data, num_partitions=2), col("i32").hash(), col("i64").hash())
    assert ex.column(table, "i32") == ex.column(table, "i64")
    assert table.schema.field("i32").type == pa.uint64()


def test_hash_seed_changes_the_hash(sf_runner, make_df, ex):
    table = ex.run(make_df(DATA), col("a").hash().alias("h0"), col("a").hash(seed=7).alias("h7"))
    assert ex.column(table, "h0") != ex.column(table, "h7")


def test_apply_calls_the_function_per_value(sf_runner, make_df, ex, nparts):
    table = ex.run(
        make_df(DATA, num_partitions=nparts),
        col("s").apply(lambda v: None if v is None else v * 2, pa.string()),
    )
    assert ex.column(table, "s") == [None if v is None else v * 2 for v in DATA["s"]]


def test_apply_declares_its_return_type(sf_runner, make_df, ex):
    table = ex.run(make_df(DATA), col("a").apply(lambda v: (v or 0) / 2, pa.float32()))
    assert table.schema.field("a").type == pa.float32()
    assert ex.column(table, "a") == [1.5, -2.0, 0.0, 0.0, -3.5, 6.0]


def test_apply_on_literal(sf_runner, make_df, ex):
    table = ex.run(make_df(DATA), col("a"), lit(2).apply(lambda v: v + 1, pa.int64()).alias("t"))
    assert ex.column(table, "t") == [3] * 6


def test_apply_needs_a_callable():
    with pytest.raises(TypeError, match="apply needs a callable"):
        col("a").apply(3, pa.int64())


def test_apply_returning_the_wrong_type_names_function_and_value(sf_runner, make_df):
    df = make_df(DATA).select(col("a").apply(lambda v: "oops" if v == 0 else v, pa.int64()))
    with pytest.raises(
        TypeError,
        match=r"apply\(col\(a\), <lambda>\) returned 'oops' \(str\), "
        r"which is not a int64.*return_dtype",
    ):
        df.to_arrow()


def test_apply_exception_propagates(sf_runner, make_df):
    def explode(v):
        raise KeyError(f"no {v}")

    with pytest.raises(sf.UDFError, match=r"'apply\(explode\)' raised KeyError: 'no 3'") as info:
        make_df(DATA).select(col("a").apply(explode, pa.int64())).to_arrow()
    assert isinstance(info.value.__cause__, KeyError)
