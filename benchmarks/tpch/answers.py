"""Reference answers from DuckDB and the comparison of a result against them.

A result matches when it has the reference's columns (compared by position, and
by name case-insensitively), the same multiset of rows (floats within a relative
tolerance, decimals compared as floats, integers of any width as integers) and,
when the query has an ORDER BY, rows sorted by its keys. Rows that tie on the
ORDER BY keys may come in any order.
"""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from benchmarks.tpch.sql import ORDER_BY, QUERIES


class AnswerMismatch(AssertionError):
    """Raised when a query result differs from the reference answer."""


def duckdb_connection(paths: Mapping[str, str], threads: int | None = None) -> Any:
    """Open an in-memory DuckDB connection with one view per TPC-H table.

    Parameters
    ----------
    paths : mapping
        ``{table: parquet path}``.
    threads : int, optional
        DuckDB's thread count; DuckDB's default when omitted.
    """
    import duckdb

    con = duckdb.connect(":memory:")
    # Its progress bar redraws on stderr every few ms of a long query (SF10), burying
    # the benchmark's own progress lines.
    con.execute("set enable_progress_bar = false")
    if threads is not None:
        con.execute(f"set threads = {int(threads)}")
    for name, path in paths.items():
        escaped = str(path).replace("'", "''")
        con.execute(f"create view {name} as select * from read_parquet('{escaped}')")
    return con


def duckdb_answer(con: Any, qnum: int) -> pa.Table:
    """Run TPC-H query ``qnum`` on a connection from :func:`duckdb_connection`."""
    return con.sql(QUERIES[qnum]).to_arrow_table()


def reference_answers(paths: Mapping[str, str], qnums: Sequence[int]) -> dict[int, pa.Table]:
    """Return DuckDB's answers for several queries over the same files."""
    con = duckdb_connection(paths)
    try:
        return {q: duckdb_answer(con, q) for q in qnums}
    finally:
        con.close()


def _normalize_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.datetime):
        return value.date() if value.time() == datetime.time() else value
    return value


def _rows(table: pa.Table) -> list[tuple[Any, ...]]:
    columns = [[_normalize_value(v) for v in c.to_pylist()] for c in table.columns]
    return list(zip(*columns, strict=True)) if columns else []


def _values_equal(a: Any, b: Any, rtol: float, atol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
    return a == b


def _sort_key(row: tuple[Any, ...], order: Sequence[int]) -> tuple[Any, ...]:
    # Exact columns first so float noise cannot reorder rows that differ elsewhere.
    return tuple((row[i] is None, row[i] if row[i] is not None else 0) for i in order)


def _canonical_order(table: pa.Table) -> list[int]:
    floating = [
        i
        for i, f in enumerate(table.schema)
        if pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
    ]
    exact = [i for i in range(table.num_columns) if i not in floating]
    return exact + floating


def _check_columns(actual: pa.Table, expected: pa.Table) -> None:
    got = [n.lower() for n in actual.column_names]
    want = [n.lower() for n in expected.column_names]
    if got != want:
        raise AnswerMismatch(f"columns differ: got {actual.column_names}, expected {want}")


def _check_sorted(rows: list[tuple[Any, ...]], keys: Sequence[tuple[int, bool]]) -> None:
    for pos, (prev, cur) in enumerate(zip(rows, rows[1:], strict=False)):
        for idx, desc in keys:
            a, b = prev[idx], cur[idx]
            if a == b:
                continue
            if (a > b) != desc:
                raise AnswerMismatch(f"rows {pos} and {pos + 1} are out of order: {prev} / {cur}")
            break


def compare_answers(
    actual: pa.Table,
    expected: pa.Table,
    order_by: Sequence[tuple[str, bool]] = (),
    *,
    rtol: float = 1e-6,
    atol: float = 1e-6,
) -> None:
    """Raise :class:`AnswerMismatch` unless ``actual`` matches ``expected``.

    Parameters
    ----------
    actual, expected : pyarrow.Table
        The result under test and the reference answer.
    order_by : sequence of (column, descending)
        The query's ORDER BY; ``actual`` must be sorted by it. Empty: any order.
    rtol, atol : float
        Relative and absolute tolerance for numbers.
    """
    _check_columns(actual, expected)
    if actual.num_rows != expected.num_rows:
        raise AnswerMismatch(f"{actual.num_rows} rows, expected {expected.num_rows}")
    got, want = _rows(actual), _rows(expected)
    names = [n.lower() for n in expected.column_names]
    _check_sorted(got, [(names.index(c.lower()), d) for c, d in order_by])
    order = _canonical_order(expected)
    got.sort(key=lambda r: _sort_key(r, order))
    want.sort(key=lambda r: _sort_key(r, order))
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        bad = [names[j] for j in range(len(names)) if not _values_equal(g[j], w[j], rtol, atol)]
        if bad:
            raise AnswerMismatch(f"row {i} differs in {bad}: got {g}, expected {w}")


def check_query(qnum: int, actual: pa.Table, expected: pa.Table) -> None:
    """Compare a TPC-H result with the reference, using the query's ORDER BY."""
    compare_answers(actual, expected, ORDER_BY[qnum])
