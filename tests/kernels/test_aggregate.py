"""Tests of spillframe.kernels.aggregate."""

from __future__ import annotations

import datetime
import decimal
import math

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spillframe.kernels.aggregate import (
    AggSpec,
    agg_output_type,
    aggregate,
    final_aggregate,
    partial_aggregate,
)
from spillframe.kernels.exchange import concat_tables

SETTINGS = settings(max_examples=30, deadline=None)
NUMERIC_OPS = ["sum", "mean", "min", "max", "count", "count_distinct", "stddev", "any_value"]


def two_phase(table, keys, specs, num_parts):
    step = max(1, -(-table.num_rows // num_parts))
    parts = [table.slice(i * step, step) for i in range(num_parts)]
    partials = [partial_aggregate(p, keys, specs) for p in parts]
    return final_aggregate(concat_tables(partials), keys, specs)


def rows_by_key(table, keys):
    return {tuple(row[k] for k in keys): row for row in table.to_pylist()}


def assert_close(actual, expected):
    assert actual.keys() == expected.keys()
    for key, row in expected.items():
        for name, value in row.items():
            got = actual[key][name]
            if isinstance(value, float) and value is not None and got is not None:
                assert math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9), (key, name)
            else:
                assert got == value, (key, name, got, value)


@st.composite
def groups(draw):
    n = draw(st.integers(0, 40))
    keys = draw(st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=n, max_size=n))
    values = draw(st.lists(st.one_of(st.none(), st.integers(-50, 50)), min_size=n, max_size=n))
    floats = draw(st.lists(st.one_of(st.none(), st.floats(-1e3, 1e3)), min_size=n, max_size=n))
    return pa.table(
        {
            "k": pa.array(keys, pa.int32()),
            "v": pa.array(values, pa.int64()),
            "f": pa.array(floats, pa.float64()),
        }
    )


def all_specs():
    specs = [AggSpec(op, col, f"{op}_{col}") for op in NUMERIC_OPS for col in ("v", "f")]
    return specs + [AggSpec("count_all", None, "n"), AggSpec("agg_list", "v", "list_v")]


@SETTINGS
@given(groups())
def test_aggregate_matches_pandas(table):
    specs = [s for s in all_specs() if s.op not in ("any_value", "agg_list")]
    result = rows_by_key(aggregate(table, ["k"], specs), ["k"])
    frame = table.to_pandas()
    grouped = frame.groupby("k", dropna=False)
    expected = {}
    for key, group in grouped:
        key = None if pd.isna(key) else int(key)
        row = {"k": key, "n": len(group)}
        for col in ("v", "f"):
            present = group[col].dropna()
            empty = present.empty
            row[f"sum_{col}"] = None if empty else present.sum().item()
            row[f"mean_{col}"] = None if empty else float(present.mean())
            row[f"min_{col}"] = None if empty else present.min().item()
            row[f"max_{col}"] = None if empty else present.max().item()
            row[f"count_{col}"] = int(present.count())
            row[f"count_distinct_{col}"] = int(present.nunique())
            row[f"stddev_{col}"] = None if len(present) < 2 else float(present.std(ddof=1))
        expected[(key,)] = row
    assert_close(result, expected)


@SETTINGS
@given(groups(), st.sampled_from([1, 3, 8]), st.booleans())
def test_two_phase_equals_one_phase(table, num_parts, grouped):
    keys = ["k"] if grouped else []
    specs = all_specs()
    one = aggregate(table, keys, specs)
    two = two_phase(table, keys, specs, num_parts)
    assert two.schema == one.schema
    assert_close(rows_by_key(two, keys), rows_by_key(one, keys))


TYPED_VALUES = {
    "i8": pa.array([1, None, 3], pa.int8()),
    "u32": pa.array([1, None, 3], pa.uint32()),
    "f32": pa.array([1.5, None, 3.0], pa.float32()),
    "dec": pa.array([decimal.Decimal("1.10"), None, decimal.Decimal("2.25")], pa.decimal128(9, 2)),
    "s": pa.array(["x", None, "y"], pa.string()),
    "ls": pa.array(["x", None, "y"], pa.large_string()),
    "sv": pa.array(["x", None, "y"], pa.string_view()),
    "b": pa.array([True, None, False]),
    "d": pa.array([datetime.date(2020, 1, 1), None, datetime.date(2021, 5, 2)]),
    "ts": pa.array([1, None, 2], pa.timestamp("ms", "America/New_York")),
    "l": pa.array([[1], None, [2, 3]]),
    "null": pa.nulls(3),
}
OPS_BY_KIND = {
    "numeric": [
        "sum",
        "mean",
        "stddev",
        "min",
        "max",
        "count",
        "count_distinct",
        "any_value",
        "agg_list",
        "approx_count_distinct",
    ],
    "ordered": ["min", "max", "count", "count_distinct", "any_value", "agg_list"],
    "nested": ["count", "any_value", "agg_list"],
}
KIND_OF = {
    "i8": "numeric",
    "u32": "numeric",
    "f32": "numeric",
    "dec": "numeric",
    "b": "numeric",
    "null": "numeric",
    "s": "ordered",
    "ls": "ordered",
    "sv": "ordered",
    "d": "ordered",
    "ts": "ordered",
    "l": "nested",
}


@pytest.mark.parametrize("column", list(TYPED_VALUES))
@pytest.mark.parametrize("rows", [3, 0])
def test_result_types_match_agg_output_type(column, rows):
    values = TYPED_VALUES[column].slice(0, rows)
    table = pa.table(
        {"k": pa.array(["a", "b", "a"], pa.string_view()).slice(0, rows), column: values}
    )
    specs = [AggSpec(op, column, op) for op in OPS_BY_KIND[KIND_OF[column]]]
    for keys in (["k"], []):
        one = aggregate(table, keys, specs)
        two = two_phase(table, keys, specs, 2)
        expected = [agg_output_type(s.op, values.type) for s in specs]
        assert one.schema.types[len(keys) :] == expected
        assert two.schema == one.schema
        assert two.to_pylist() == one.to_pylist()
        assert one.num_rows == (1 if not keys else len({*table["k"].to_pylist()}))


def test_types_of_sums_and_lists():
    assert agg_output_type("sum", pa.int8()) == pa.int64()
    assert agg_output_type("sum", pa.uint8()) == pa.uint64()
    assert agg_output_type("sum", pa.bool_()) == pa.int64()
    assert agg_output_type("sum", pa.decimal128(9, 2)) == pa.decimal128(38, 2)
    assert agg_output_type("mean", pa.decimal128(9, 2)) == pa.decimal128(38, 6)  # as Daft
    assert agg_output_type("stddev", pa.decimal128(9, 2)) == pa.float64()
    assert agg_output_type("count_all", None) == pa.int64()
    assert agg_output_type("agg_list", pa.string_view()) == pa.list_(pa.string_view())
    with pytest.raises(TypeError, match="sum needs a numeric column"):
        agg_output_type("sum", pa.string())
    with pytest.raises(TypeError, match="nested"):
        agg_output_type("min", pa.list_(pa.int64()))


def test_global_aggregate_of_empty_input_is_one_sql_row():
    table = pa.table({"v": pa.array([], pa.int64())})
    specs = [
        AggSpec("count", "v", "c"),
        AggSpec("count_all", None, "n"),
        AggSpec("sum", "v", "s"),
        AggSpec("agg_list", "v", "l"),
        AggSpec("count_distinct", "v", "d"),
    ]
    expected = [{"c": 0, "n": 0, "s": None, "l": None, "d": 0}]
    assert aggregate(table, [], specs).to_pylist() == expected
    assert two_phase(table, [], specs, 3).to_pylist() == expected
    assert partial_aggregate(table, [], specs).num_rows == 0


def test_null_keys_group_and_distinct():
    table = pa.table({"a": [1, None, 1, None], "b": ["x", "y", "x", "y"]})
    assert aggregate(table, ["a", "b"], []).to_pylist() == [
        {"a": 1, "b": "x"},
        {"a": None, "b": "y"},
    ]
    result = aggregate(table, ["a"], [AggSpec("count_all", None, "n")])
    assert result.to_pylist() == [{"a": 1, "n": 2}, {"a": None, "n": 2}]


def test_partial_column_names():
    table = pa.table({"k": [1], "v": [2.0]})
    specs = [
        AggSpec("mean", "v", "m"),
        AggSpec("stddev", "v", "s"),
        AggSpec("count_distinct", "v", "d"),
    ]
    assert partial_aggregate(table, ["k"], specs).column_names == [
        "k",
        "__m__sum",
        "__m__count",
        "__s__count",
        "__s__mean",
        "__s__var",
        "__d__distinct",
    ]


def test_bad_specs():
    with pytest.raises(ValueError, match="unknown aggregation 'median'"):
        AggSpec("median", "v", "m")
    with pytest.raises(ValueError, match="needs a column"):
        AggSpec("sum", None, "s")
    with pytest.raises(KeyError, match="no column 'w'"):
        aggregate(pa.table({"v": [1]}), [], [AggSpec("sum", "w", "s")])
    with pytest.raises(TypeError, match="nested type"):
        aggregate(pa.table({"l": [[1]], "v": [1]}), ["l"], [AggSpec("sum", "v", "s")])
