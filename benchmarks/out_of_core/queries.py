"""The three queries, for spillframe and for dask.dataframe, and their checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

QUERIES = ("sort", "groupby", "join")


# -- spillframe ------------------------------------------------------------------


def spillframe_query(name: str, paths: dict[str, Path]) -> pa.Table:
    import spillframe as sf

    lineitem = sf.read_parquet(str(paths["lineitem"]))
    if name == "sort":
        return lineitem.sort("l_comment").to_arrow()
    if name == "groupby":
        return lineitem.groupby("l_orderkey").agg(sf.col("l_comment").max()).to_arrow()
    if name == "join":
        orders = sf.read_parquet(str(paths["orders"]))
        return lineitem.join(orders, left_on="l_orderkey", right_on="o_orderkey").to_arrow()
    raise ValueError(f"unknown query {name!r}; choose one of {QUERIES}")


# -- dask.dataframe --------------------------------------------------------------


def dask_query(name: str, paths: dict[str, Path], client: Any) -> pa.Table:
    import dask.dataframe as dd

    lineitem = dd.read_parquet(str(paths["lineitem"]))
    if name == "sort":
        frame = lineitem.sort_values("l_comment")
    elif name == "groupby":
        frame = lineitem.groupby("l_orderkey").agg({"l_comment": "max"}).reset_index()
    elif name == "join":
        orders = dd.read_parquet(str(paths["orders"]))
        frame = lineitem.merge(orders, left_on="l_orderkey", right_on="o_orderkey")
    else:
        raise ValueError(f"unknown query {name!r}; choose one of {QUERIES}")
    result = client.compute(frame).result()
    return pa.Table.from_pandas(result, preserve_index=False)


# -- checks ----------------------------------------------------------------------


def _sum(table: pa.Table, column: str) -> float:
    return pc.sum(table[column]).as_py()


def check_result(name: str, table: pa.Table, reference: dict[str, Any]) -> list[str]:
    """Differences between a result and DuckDB's answers (empty when correct)."""
    problems = []

    def expect(label: str, got: Any, want: Any, tolerance: float = 0.0) -> None:
        same = abs(got - want) <= tolerance * abs(want) if tolerance else got == want
        if not same:
            problems.append(f"{label}: got {got!r}, expected {want!r}")

    expect("rows", table.num_rows, reference["rows"])
    if name == "sort":
        comments = table["l_comment"].combine_chunks()
        ordered = pc.all(
            pc.less_equal(comments.slice(0, len(comments) - 1), comments.slice(1))
        ).as_py()
        if not ordered:
            problems.append("l_comment is not sorted")
        expect("sum(l_orderkey)", _sum(table, "l_orderkey"), reference["sum_orderkey"])
        expect("sum(l_extendedprice)", _sum(table, "l_extendedprice"), reference["sum_price"], 1e-9)
        expect("first l_comment", comments[0].as_py(), reference["first"])
        expect("last l_comment", comments[-1].as_py(), reference["last"])
    elif name == "groupby":
        value = [c for c in table.column_names if c != "l_orderkey"][0]
        expect("sum(l_orderkey)", _sum(table, "l_orderkey"), reference["sum_orderkey"])
        expect(
            "sum(length(max))",
            pc.sum(pc.utf8_length(table[value])).as_py(),
            reference["sum_max_length"],
        )
    elif name == "join":
        expect("sum(l_extendedprice)", _sum(table, "l_extendedprice"), reference["sum_price"], 1e-9)
        expect("sum(o_totalprice)", _sum(table, "o_totalprice"), reference["sum_totalprice"], 1e-9)
    return problems
