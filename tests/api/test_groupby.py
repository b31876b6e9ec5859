"""groupby/agg and global agg against pandas, on 1, 3 and 8 input partitions."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spillframe as sf
from spillframe import col
from spillframe.testing import assert_df_equal

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SCHEMA = pa.schema(
    [
        ("k", pa.int64()),
        ("g", pa.string()),
        ("v", pa.int64()),
        ("f", pa.float64()),
        ("s", pa.string()),
    ]
)
PARTITIONS = st.sampled_from([1, 3, 8])

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "k": st.none() | st.integers(0, 4),
            "g": st.none() | st.sampled_from(["a", "b", "c"]),
            "v": st.none() | st.integers(-50, 50),
            "f": st.none() | st.integers(-20, 20).map(lambda x: x / 4),
            "s": st.none() | st.sampled_from(["x", "y", "z", "w"]),
        }
    ),
    max_size=40,
)


def small_partitions():
    """Tiny partitions, no broadcast: every exchange of these tests has N > 1 partitions."""
    return sf.config.configure(partition_bytes=128, broadcast_join_bytes=0)


def table_of(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def pandas_of(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=SCHEMA.names)
    return frame.astype({"k": "Int64", "g": "object", "v": "Int64", "f": "Float64", "s": "object"})


def plain(value):
    """pandas scalar -> Python value (NA/NaN -> None)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def stage_names(df: sf.DataFrame) -> str:
    from spillframe.api.execution import physical_plan

    plan = physical_plan(df._builder)
    return " ".join(f"{s.name}:{s.num_partitions}" for s in plan.stages.values())


NUMERIC_AGGS = {
    "sum": lambda e: e.sum(),
    "mean": lambda e: e.mean(),
    "min": lambda e: e.min(),
    "max": lambda e: e.max(),
    "count": lambda e: e.count(),
    "count_all": lambda e: e.count("all"),
    "count_distinct": lambda e: e.count_distinct(),
    "stddev": lambda e: e.stddev(),
    "approx_count_distinct": lambda e: e.approx_count_distinct(),
}


def reference_value(op: str, values: pd.Series):
    """The SQL value of ``op`` over one group's values (nulls skipped)."""
    valid = values.dropna()
    if op == "count_all":
        return len(values)
    if op == "count":
        return len(valid)
    if op in ("count_distinct", "approx_count_distinct"):
        return valid.nunique()
    if len(valid) == 0 or (op == "stddev" and len(valid) < 2):
        return None
    method = {"stddev": "std"}.get(op, op)
    return plain(
        getattr(valid.astype("float64" if op in ("mean", "stddev") else valid.dtype), method)()
    )


def reference_groupby(rows: list[dict], keys: list[str], column: str, ops: list[str]) -> list[dict]:
    frame = pandas_of(rows)
    out = []
    for key, group in frame.groupby(keys, dropna=False, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        row = {k: plain(v) for k, v in zip(keys, key)}
        row.update({f"{column}_{op}": reference_value(op, group[column]) for op in ops})
        out.append(row)
    return out


def named_aggs(column: str, ops: list[str]) -> list:
    return [NUMERIC_AGGS[op](col(column)).alias(f"{column}_{op}") for op in ops]


@SETTINGS
@given(rows=rows_strategy, n=PARTITIONS)
@pytest.mark.parametrize("column", ["v", "f"])
def test_numeric_aggs_match_pandas(sf_runner, make_df, rows, n, column):
    ops = list(NUMERIC_AGGS)
    with small_partitions():
        df = make_df(table_of(rows), num_partitions=n).groupby("k").agg(*named_aggs(column, ops))
        result = df.to_arrow()
    assert result.schema == df.schema()
    expected = pa.Table.from_pylist(reference_groupby(rows, ["k"], column, ops), schema=df.schema())
    assert_df_equal(result, expected, sort_by="k", atol=1e-9)


@SETTINGS
@given(rows=rows_strategy, n=PARTITIONS)
def test_multiple_keys_and_string_aggs(sf_runner, make_df, rows, n):
    ops = ["min", "max", "count", "count_all", "count_distinct", "approx_count_distinct"]
    aggs = [NUMERIC_AGGS[op](col("s")).alias(f"s_{op}") for op in ops]
    with small_partitions():
        df = make_df(table_of(rows), num_partitions=n).groupby("g", "k").agg(*aggs)
        result = df.to_arrow()
    assert result.schema == df.schema()
    expected = pa.Table.from_pylist(
        reference_groupby(rows, ["g", "k"], "s", ops), schema=df.schema()
    )
    assert_df_equal(result, expected, sort_by=["g", "k"])


@SETTINGS
@given(rows=rows_strategy, n=PARTITIONS)
def test_any_value_and_agg_list(sf_runner, make_df, rows, n):
    with small_partitions():
        df = (
            make_df(table_of(rows), num_partitions=n)
            .groupby("g")
            .agg(col("s").any_value().alias("any"), col("s").agg_list().alias("all"))
        )
        result = df.to_arrow()
    assert result.schema == df.schema()
    groups: dict = {}
    for row in rows:
        groups.setdefault(row["g"], []).append(row["s"])
    got = {r["g"]: r for r in result.to_pylist()}
    assert got.keys() == groups.keys()
    for key, values in groups.items():
        non_null = [v for v in values if v is not None]
        assert (got[key]["any"] in non_null) if non_null else got[key]["any"] is None
        order = lambda v: (v is None, v or "")  # noqa: E731
        assert sorted(got[key]["all"], key=order) == sorted(values, key=order)


@SETTINGS
@given(rows=rows_strategy, n=PARTITIONS)
def test_key_expression(sf_runner, make_df, rows, n):
    with small_partitions():
        df = (
            make_df(table_of(rows), num_partitions=n)
            .groupby(col("v") % 3)
            .agg(col("f").sum().alias("total"), col("f").count("all").alias("rows"))
        )
        result = df.to_arrow()
    assert result.schema == df.schema()
    assert df.column_names == ["v", "total", "rows"]
    frame = pandas_of(rows)
    frame["m"] = frame["v"] % 3  # floored modulo, as spillframe's %
    expected = []
    for key, group in frame.groupby("m", dropna=False, sort=False):
        expected.append(
            {"v": plain(key), "total": reference_value("sum", group["f"]), "rows": len(group)}
        )
    assert_df_equal(result, pa.Table.from_pylist(expected, schema=df.schema()), sort_by="v")


@SETTINGS
@given(rows=rows_strategy, n=PARTITIONS)
def test_global_agg(sf_runner, make_df, rows, n):
    ops = list(NUMERIC_AGGS)
    with small_partitions():
        df = make_df(table_of(rows), num_partitions=n).agg(*named_aggs("f", ops))
        result = df.to_arrow()
    assert result.schema == df.schema()
    frame = pandas_of(rows)
    expected = {f"f_{op}": reference_value(op, frame["f"]) for op in ops}
    assert_df_equal(result, pa.Table.from_pylist([expected], schema=df.schema()), atol=1e-9)


def test_null_keys_form_one_group(sf_runner, make_df):
    data = {"k": [None, 1, None, 1, None, 2], "v": [1, 2, 3, 4, 5, 6]}
    with small_partitions():
        df = make_df(data, num_partitions=3).groupby("k").agg(col("v").sum())
        assert_df_equal(df, {"k": [None, 1, 2], "v": [9, 6, 6]}, sort_by="k")


def test_more_partitions_than_rows(sf_runner, make_df):
    data = {"k": ["a", "b", "a"], "v": [1.0, 2.0, 3.0]}
    df = make_df(data, num_partitions=8)
    assert df.num_partitions() == 8
    with small_partitions():
        result = df.groupby("k").agg(col("v").mean(), col("v").stddev().alias("sd"))
        assert_df_equal(
            result, {"k": ["a", "b"], "v": [2.0, 2.0], "sd": [math.sqrt(2), None]}, sort_by="k"
        )


def test_plan_is_two_phase_over_many_partitions(make_df):
    data = {"k": list(range(200)), "v": list(range(200))}
    with small_partitions():
        df = make_df(data, num_partitions=8).groupby("k").agg(col("v").sum())
        names = stage_names(df)
        assert "agg-partial:8" in names and "agg-final" in names
        assert df.num_partitions() > 1


def test_one_phase_on_one_partition(make_df):
    with small_partitions():
        df = make_df({"k": [1, 2], "v": [1, 2]}, num_partitions=1).groupby("k").agg(col("v").sum())
        assert "agg-partial" not in stage_names(df)


@pytest.mark.parametrize("n", [1, 3, 8])
def test_result_does_not_depend_on_partition_count(sf_runner, make_df, n):
    data = {
        "k": [i % 7 if i % 5 else None for i in range(300)],
        "v": [float(i % 11) for i in range(300)],
    }
    with small_partitions():
        df = (
            make_df(data, num_partitions=n)
            .groupby("k")
            .agg(
                col("v").sum().alias("s"),
                col("v").stddev().alias("sd"),
                col("v").count_distinct().alias("cd"),
            )
        )
        one = (
            make_df(data, num_partitions=1)
            .groupby("k")
            .agg(
                col("v").sum().alias("s"),
                col("v").stddev().alias("sd"),
                col("v").count_distinct().alias("cd"),
            )
        )
        assert_df_equal(df, one, sort_by="k", rtol=1e-12)


def test_groupby_then_limit(sf_runner, make_df):
    data = {"k": [i % 10 for i in range(100)], "v": list(range(100))}
    with small_partitions():
        df = make_df(data, num_partitions=4).groupby("k").agg(col("v").count()).limit(3)
        result = df.to_pydict()
    assert len(result["k"]) == 3 and result["v"] == [10, 10, 10]


def test_a_lone_column_op_pair_is_one_aggregation(sf_runner, make_df):
    df = make_df({"k": ["a", "b", "a"], "v": [1, 2, 3]}, num_partitions=2)
    assert_df_equal(df.groupby("k").agg(("v", "sum")), {"k": ["a", "b"], "v": [4, 2]})
    assert_df_equal(
        df.groupby("k").agg([("v", "max"), col("v").count().alias("n")]),
        {"k": ["a", "b"], "v": [3, 2], "n": [2, 1]},
    )


def test_an_unknown_pair_op_names_the_choices(make_df):
    df = make_df({"k": ["a"], "v": [1]})
    with pytest.raises(ValueError, match=r"unknown aggregation 'str' for column 'v'; choose"):
        df.groupby("k").agg(("v", "str"))
