"""``assert_df_equal``: compare DataFrames, pandas and Arrow data in tests."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pyarrow as pa


def _to_table(value: Any, what: str) -> pa.Table:
    from spillframe.api.dataframe import DataFrame

    if isinstance(value, DataFrame):
        return value.to_arrow()
    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    if isinstance(value, pd.DataFrame):
        return pa.Table.from_pandas(value, preserve_index=False)
    if isinstance(value, dict):
        return pa.table(value)
    raise TypeError(
        f"assert_df_equal: {what} must be a spillframe DataFrame, pandas "
        f"DataFrame, pyarrow Table or dict, got {type(value).__name__}"
    )


def _same(a: Any, b: Any, rtol: float, atol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
    if (
        isinstance(a, (int, float))
        and isinstance(b, (int, float))
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, rtol, atol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], rtol, atol) for k in a)
    return bool(a == b)


def _sort_key(value: Any) -> tuple[int, Any]:
    # Nulls and NaNs last; mixed or nested values compare by their text.
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (2, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    if isinstance(value, (str, bytes)):
        return (1, value)
    return (1, repr(value))


def _rows(table: pa.Table, order: list[str] | None) -> list[dict[str, Any]]:
    rows = table.to_pylist()
    if order is not None:
        rows.sort(key=lambda r: tuple(_sort_key(r[c]) for c in order))
    return rows


def assert_df_equal(
    actual: Any,
    expected: Any,
    *,
    sort_by: list[str] | str | None = None,
    check_dtype: bool = True,
    check_row_order: bool = False,
    rtol: float = 1e-9,
    atol: float = 0.0,
) -> None:
    """Assert two tables hold the same rows.

    Parameters
    ----------
    actual, expected
        spillframe DataFrames (run here), pandas DataFrames, pyarrow Tables or dicts.
    sort_by : str or list of str, optional
        Columns to order both sides by before comparing. By default rows are compared
        as multisets (order-insensitive) unless ``check_row_order`` is set.
    check_dtype : bool
        Also compare column types (Arrow types, after converting pandas input).
    check_row_order : bool
        Compare rows in the order given.
    rtol, atol : float
        Tolerance for floating point values.

    Examples
    --------
    >>> import spillframe as sf
    >>> assert_df_equal(sf.from_pydict({"a": [2, 1]}), {"a": [1, 2]})
    """
    __tracebackhide__ = True
    left, right = _to_table(actual, "actual"), _to_table(expected, "expected")
    if left.column_names != right.column_names:
        raise AssertionError(
            f"column names differ:\n  actual:   {left.column_names}\n"
            f"  expected: {right.column_names}"
        )
    if check_dtype:
        for a, e in zip(left.schema, right.schema):
            if a.type != e.type:
                raise AssertionError(f"column {a.name!r} has type {a.type}, expected {e.type}")
    if left.num_rows != right.num_rows:
        raise AssertionError(
            f"row counts differ: actual {left.num_rows}, expected {right.num_rows}"
        )
    if check_row_order:
        order = None
    elif sort_by is not None:
        order = [sort_by] if isinstance(sort_by, str) else list(sort_by)
        order += [c for c in left.column_names if c not in order]
    else:
        order = left.column_names
    for i, (a, e) in enumerate(zip(_rows(left, order), _rows(right, order))):
        bad = [c for c in left.column_names if not _same(a[c], e[c], rtol, atol)]
        if bad:
            raise AssertionError(
                f"rows differ at position {i} (after {'sorting' if order else 'no sorting'}) "
                f"in column(s) {bad}:\n  actual:   {a}\n  expected: {e}"
            )
