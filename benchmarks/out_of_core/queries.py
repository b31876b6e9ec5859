"""The three queries, for spillframe and for dask.dataframe, and their checks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

QUERIES = ("sort", "groupby", "join")


# -- spillframe ------------------------------------------------------------------


def spillframe_batches(name: str, paths: dict[str, Path]) -> Iterator[pa.Table]:
    """The query's result partition by partition (nothing collected in the driver)."""
    import spillframe as sf

    lineitem = sf.read_parquet(str(paths["lineitem"]))
    if name == "sort":
        frame = lineitem.sort("l_comment")
    elif name == "groupby":
        frame = lineitem.groupby("l_orderkey").agg(sf.col("l_comment").max())
    elif name == "join":
        orders = sf.read_parquet(str(paths["orders"]))
        frame = lineitem.join(orders, left_on="l_orderkey", right_on="o_orderkey")
    else:
        raise ValueError(f"unknown query {name!r}; choose one of {QUERIES}")
    yield from frame.iter_partitions()


# -- DuckDB ----------------------------------------------------------------------

DUCKDB_SQL = {
    "sort": "SELECT * FROM lineitem ORDER BY l_comment",
    "groupby": "SELECT l_orderkey, max(l_comment) AS l_comment FROM lineitem GROUP BY l_orderkey",
    "join": "SELECT * FROM lineitem JOIN orders ON l_orderkey = o_orderkey",
}


def duckdb_batches(
    name: str,
    paths: dict[str, Path],
    memory_limit: str,
    threads: int,
    temp_directory: Path,
    batch_rows: int = 1 << 17,
) -> Iterator[pa.RecordBatch]:
    """DuckDB's answer as a stream of record batches, under ``memory_limit``."""
    import duckdb

    con = duckdb.connect(
        config={
            "memory_limit": memory_limit,
            "threads": threads,
            "temp_directory": str(temp_directory),
            "preserve_insertion_order": False,
        }
    )
    try:
        for table, path in paths.items():
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}/*.parquet')")
        reader = con.sql(DUCKDB_SQL[name]).fetch_record_batch(batch_rows)
        yield from reader
    finally:
        con.close()


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


@dataclass(slots=True)
class Summary:
    """What the checks need from a result, accumulated batch by batch.

    Lets a streamed result be checked without holding it: sortedness is checked
    within each batch and across batch boundaries.
    """

    query: str
    rows: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    sum_max_length: int = 0
    first: str | None = None
    last: str | None = None
    unsorted: bool = False

    def add(self, batch: pa.Table | pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self.rows += batch.num_rows
        for column in ("l_orderkey", "l_extendedprice", "o_totalprice"):
            if column in batch.schema.names:
                value = pc.sum(batch[column]).as_py() or 0
                self.sums[column] = self.sums.get(column, 0) + value
        if self.query == "groupby":
            value = [c for c in batch.schema.names if c != "l_orderkey"][0]
            self.sum_max_length += pc.sum(pc.utf8_length(batch[value])).as_py() or 0
        if self.query == "sort":
            comments = batch["l_comment"]
            if isinstance(comments, pa.ChunkedArray):
                comments = comments.combine_chunks()
            n = len(comments)
            if (
                n > 1
                and not pc.all(pc.less_equal(comments.slice(0, n - 1), comments.slice(1))).as_py()
            ):
                self.unsorted = True
            head, tail = comments[0].as_py(), comments[n - 1].as_py()
            if self.last is not None and head < self.last:
                self.unsorted = True
            if self.first is None:
                self.first = head
            self.last = tail


def summarize(name: str, batches: Iterable[pa.Table | pa.RecordBatch]) -> Summary:
    summary = Summary(name)
    for batch in batches:
        summary.add(batch)
    return summary


def check_result(name: str, table: pa.Table, reference: dict[str, Any]) -> list[str]:
    """Differences between a result and DuckDB's answers (empty when correct)."""
    return check_summary(summarize(name, [table]), reference)


def check_summary(summary: Summary, reference: dict[str, Any]) -> list[str]:
    """Differences between a (streamed) result's summary and DuckDB's answers."""
    name = summary.query
    problems = []

    def expect(label: str, got: Any, want: Any, tolerance: float = 0.0) -> None:
        if got is None:
            problems.append(f"{label}: missing, expected {want!r}")
            return
        same = abs(got - want) <= tolerance * abs(want) if tolerance else got == want
        if not same:
            problems.append(f"{label}: got {got!r}, expected {want!r}")

    expect("rows", summary.rows, reference["rows"])
    sums = summary.sums
    if name == "sort":
        if summary.unsorted:
            problems.append("l_comment is not sorted")
        expect("sum(l_orderkey)", sums.get("l_orderkey"), reference["sum_orderkey"])
        expect("sum(l_extendedprice)", sums.get("l_extendedprice"), reference["sum_price"], 1e-9)
        expect("first l_comment", summary.first, reference["first"])
        expect("last l_comment", summary.last, reference["last"])
    elif name == "groupby":
        expect("sum(l_orderkey)", sums.get("l_orderkey"), reference["sum_orderkey"])
        expect("sum(length(max))", summary.sum_max_length, reference["sum_max_length"])
    elif name == "join":
        expect("sum(l_extendedprice)", sums.get("l_extendedprice"), reference["sum_price"], 1e-9)
        expect("sum(o_totalprice)", sums.get("o_totalprice"), reference["sum_totalprice"], 1e-9)
    return problems
