"""Set operations (union*, intersect*, except*) against DuckDB's UNION / INTERSECT /
EXCEPT [ALL], on 1 and 3 partitions, with nulls and duplicates."""

from __future__ import annotations

from collections import Counter

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spillframe as sf

SETTINGS = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.string())])
rows = st.lists(
    st.fixed_dictionaries(
        {"a": st.none() | st.integers(0, 2), "b": st.none() | st.sampled_from(["x", "y"])}
    ),
    max_size=12,
)
SQL = {
    "union": "UNION",
    "union_all": "UNION ALL",
    "intersect": "INTERSECT",
    "intersect_all": "INTERSECT ALL",
    "except_distinct": "EXCEPT",
    "except_all": "EXCEPT ALL",
}


def duck_rows(sql: str, **tables: pa.Table) -> Counter:
    con = duckdb.connect()
    for name, table in tables.items():
        con.register(name, table)
    return Counter(con.sql(sql).fetchall())


@SETTINGS
@given(left=rows, right=rows, n=st.sampled_from([1, 3]))
@pytest.mark.parametrize("op", sorted(SQL))
def test_set_operations_match_duckdb(sf_runner, make_df, op, left, right, n):
    lt, rt = pa.Table.from_pylist(left, SCHEMA), pa.Table.from_pylist(right, SCHEMA)
    with sf.config.configure(partition_bytes=128):
        result = getattr(make_df(lt, num_partitions=n), op)(make_df(rt, num_partitions=n))
        table = result.to_arrow()
    assert table.schema == result.schema() == SCHEMA
    expected = duck_rows(f"SELECT * FROM l {SQL[op]} SELECT * FROM r", l=lt, r=rt)
    assert Counter(zip(*table.to_pydict().values())) == expected


@pytest.mark.parametrize("op", ["union_by_name", "union_all_by_name"])
def test_union_by_name_matches_duckdb(sf_runner, make_df, op):
    lt = pa.table({"x": [1, 2, 2], "y": [4, 5, 5], "w": [9, 10, 10]})
    rt = pa.table({"y": [6, 6, 5], "z": ["a", "a", None]})
    result = getattr(make_df(lt, num_partitions=2), op)(make_df(rt))
    assert result.column_names == ["x", "y", "w", "z"]
    table = result.to_arrow()
    assert table.schema == result.schema()
    sql = "UNION BY NAME" if op == "union_by_name" else "UNION ALL BY NAME"
    expected = duck_rows(f"SELECT * FROM l {sql} SELECT * FROM r", l=lt, r=rt)
    assert Counter(zip(*table.to_pydict().values())) == expected


def test_positional_union_takes_left_names(sf_runner, make_df):
    out = make_df({"a": [1]}).union_all(make_df({"z": [2]}))
    assert out.to_pydict() == {"a": [1, 2]}


def test_set_operation_errors(make_df):
    a = make_df({"a": [1], "b": ["x"]})
    with pytest.raises(sf.SchemaError, match="as many columns.*union_by_name"):
        a.union(make_df({"a": [1]}))
    with pytest.raises(sf.SchemaError, match="column 'b' is string on the left but 'b' is int64"):
        a.intersect(make_df({"a": [1], "b": [2]}))
    with pytest.raises(sf.SchemaError, match="column 'a' is int64 on the left and string"):
        a.union_by_name(make_df({"a": ["1"]}))
    with pytest.raises(TypeError, match="except_all takes a DataFrame, got dict"):
        a.except_all({"a": [1]})
    nested = make_df({"l": [[1]]})
    with pytest.raises(sf.ExpressionTypeError, match="cannot intersect on 'l'"):
        nested.intersect(nested)
