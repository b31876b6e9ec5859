"""repartition(n, *keys), random repartition(n), into_partitions(n), and limit after them."""

from __future__ import annotations

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
SCHEMA = pa.schema([("k", pa.int64()), ("s", pa.string()), ("id", pa.int64())])

rows_strategy = st.lists(
    st.fixed_dictionaries(
        {"k": st.none() | st.integers(0, 6), "s": st.none() | st.sampled_from(["a", "b", "c"])}
    ),
    max_size=50,
).map(lambda rows: [{**r, "id": i} for i, r in enumerate(rows)])


def partitions_of(df: sf.DataFrame) -> list[pa.Table]:
    parts = list(df.iter_partitions())
    assert len(parts) == df.num_partitions()
    return parts


@SETTINGS
@given(
    rows=rows_strategy,
    n_in=st.sampled_from([1, 3, 8]),
    n_out=st.integers(1, 9),
    keys=st.sampled_from([["k"], ["k", "s"], ["s"]]),
)
def test_hash_repartition(sf_runner, make_df, rows, n_in, n_out, keys):
    table = pa.Table.from_pylist(rows, SCHEMA)
    df = make_df(table, num_partitions=n_in).repartition(n_out, *keys)
    parts = partitions_of(df)
    assert len(parts) == n_out
    assert all(p.schema == SCHEMA for p in parts)
    assert_df_equal(pa.concat_tables(parts), table)
    owner: dict[tuple, int] = {}
    for i, part in enumerate(parts):
        for row in part.to_pylist():
            assert owner.setdefault(tuple(row[k] for k in keys), i) == i


def test_repartition_by_expression_keeps_columns(sf_runner, make_df):
    data = {"k": list(range(40)), "v": [float(i) for i in range(40)]}
    df = make_df(data, num_partitions=3).repartition(4, col("k") % 5)
    parts = partitions_of(df)
    assert df.column_names == ["k", "v"] and len(parts) == 4
    assert_df_equal(pa.concat_tables(parts), data, check_dtype=False)
    owner: dict[int, int] = {}
    for i, part in enumerate(parts):
        for v in part.column("k").to_pylist():
            assert owner.setdefault(v % 5, i) == i


@pytest.mark.parametrize(("n_in", "n_out"), [(1, 4), (3, 1), (8, 3), (2, 7)])
def test_random_repartition_with_seed(sf_runner, make_df, n_in, n_out):
    data = {"id": list(range(100))}
    first = partitions_of(make_df(data, num_partitions=n_in).repartition(n_out, seed=7))
    again = partitions_of(make_df(data, num_partitions=n_in).repartition(n_out, seed=7))
    assert len(first) == n_out
    assert [p.to_pydict() for p in first] == [p.to_pydict() for p in again]
    assert sorted(v for p in first for v in p.column("id").to_pylist()) == data["id"]
    sizes = [p.num_rows for p in first]
    assert max(sizes) - min(sizes) <= n_in  # balanced up to one row per input partition


@pytest.mark.parametrize(("n_in", "n_out"), [(1, 5), (3, 8), (8, 3), (5, 1), (4, 4), (2, 30)])
def test_into_partitions_keeps_row_order(sf_runner, make_df, n_in, n_out):
    data = {"id": list(range(25))}
    df = make_df(data, num_partitions=n_in).into_partitions(n_out)
    parts = partitions_of(df)
    assert len(parts) == n_out
    assert [v for p in parts for v in p.column("id").to_pylist()] == data["id"]


@pytest.mark.parametrize(
    ("make", "keeps_order"),
    [
        (lambda df: df.repartition(4, "k"), False),
        (lambda df: df.repartition(4, seed=1), False),
        (lambda df: df.into_partitions(6), True),
        (lambda df: df.into_partitions(2), True),
    ],
)
def test_limit_after_repartitioning(sf_runner, make_df, make, keeps_order):
    data = {"k": [i % 5 for i in range(60)], "id": list(range(60))}
    df = make(make_df(data, num_partitions=3))
    full = df.to_pylist()
    limited = df.limit(9).to_pylist()
    assert limited == full[:9]
    if keeps_order:
        assert [r["id"] for r in limited] == list(range(9))


@pytest.mark.parametrize("n", [1, 3, 8])
def test_repartition_then_groupby_same_result(sf_runner, make_df, n):
    data = {"k": [i % 7 for i in range(70)], "v": list(range(70))}
    with sf.config.configure(partition_bytes=128):
        df = make_df(data, num_partitions=n).repartition(5, "k").groupby("k").agg(col("v").sum())
        assert_df_equal(df, {"k": list(range(7)), "v": [sum(range(i, 70, 7)) for i in range(7)]})
