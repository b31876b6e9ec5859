"""distinct() and distinct(*on) against pandas drop_duplicates, on 1, 3 and 8 partitions."""

from __future__ import annotations

import math
from collections import Counter

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spillframe as sf
from spillframe.api.execution import physical_plan
from spillframe.testing import assert_df_equal

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.string()), ("c", pa.float64())])
PARTITIONS = st.sampled_from([1, 3, 8])

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "a": st.none() | st.integers(0, 3),
            "b": st.none() | st.sampled_from(["x", "y"]),
            "c": st.none() | st.sampled_from([0.5, 1.5]),
        }
    ),
    max_size=50,
)


def small_partitions():
    return sf.config.configure(partition_bytes=128)


def plain(value):
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def pandas_distinct(rows: list[dict], on: list[str] | None) -> list[tuple]:
    frame = pd.DataFrame(rows, columns=SCHEMA.names, dtype=object)
    unique = frame.drop_duplicates(subset=on)
    return [tuple(plain(v) for v in r) for r in unique[on or SCHEMA.names].itertuples(index=False)]


@SETTINGS
@given(rows=rows_strategy, n=PARTITIONS)
def test_distinct_all_columns(sf_runner, make_df, rows, n):
    with small_partitions():
        df = make_df(pa.Table.from_pylist(rows, SCHEMA), num_partitions=n).distinct()
        result = df.to_arrow()
    assert result.schema == df.schema() == SCHEMA
    expected = pa.Table.from_pylist(
        [dict(zip(SCHEMA.names, r)) for r in pandas_distinct(rows, None)], SCHEMA
    )
    assert_df_equal(result, expected)


@SETTINGS
@given(
    rows=rows_strategy,
    n=PARTITIONS,
    on=st.lists(st.sampled_from(SCHEMA.names), min_size=1, max_size=2, unique=True),
)
def test_distinct_on_subset(sf_runner, make_df, rows, n, on):
    with small_partitions():
        df = make_df(pa.Table.from_pylist(rows, SCHEMA), num_partitions=n).distinct(*on)
        result = df.to_pylist()
    assert df.column_names == SCHEMA.names
    got = Counter(tuple(r[c] for c in on) for r in result)
    assert got == Counter(pandas_distinct(rows, on))
    # The other columns come from some input row with those keys.
    originals = {tuple(r[c] for c in SCHEMA.names) for r in rows}
    assert all(tuple(r[c] for c in SCHEMA.names) in originals for r in result)


@pytest.mark.parametrize("n", [1, 3, 8])
def test_distinct_then_limit(sf_runner, make_df, n):
    data = {"a": [i % 9 for i in range(200)], "b": ["x"] * 200}
    with small_partitions():
        df = make_df(data, num_partitions=n).distinct()
        assert (
            "agg-partial" in [s.name for s in physical_plan(df._builder).stages.values()] or n == 1
        )
        limited = df.limit(4).to_pylist()
    assert len(limited) == 4 and len({r["a"] for r in limited}) == 4


def test_distinct_null_is_one_value(sf_runner, make_df):
    with small_partitions():
        df = make_df({"a": [None, None, 1, 1, None]}, num_partitions=3).distinct()
        assert_df_equal(df, {"a": [None, 1]})


def test_drop_duplicates_is_distinct(sf_runner, make_df):
    rows = [{"a": a, "b": b, "c": 0.5} for a, b in [(1, "x"), (1, "x"), (2, None), (2, "y")]]
    df = make_df(pa.Table.from_pylist(rows, SCHEMA), num_partitions=2)
    whole = df.drop_duplicates().to_arrow()
    expected = pa.Table.from_pylist(
        [dict(zip(SCHEMA.names, r)) for r in pandas_distinct(rows, None)], SCHEMA
    )
    assert_df_equal(whole, expected)
    on_a = df.drop_duplicates("a").to_pylist()
    assert Counter(r["a"] for r in on_a) == Counter(k for (k,) in pandas_distinct(rows, ["a"]))
