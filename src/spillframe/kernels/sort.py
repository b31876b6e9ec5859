"""Sort kernels: stable multi-key sort and top-k with per-key direction and null placement.

Order semantics (shared with :func:`spillframe.kernels.exchange.range_split`): each key
sorts ascending or descending; nulls go first or last per key. For floating-point keys
NaN sorts next to the nulls (after the nulls when ``nulls_first``, before them
otherwise), which is pyarrow's order. ``string_view``/``binary_view`` keys are compared
through ``large_string``/``large_binary`` because pyarrow cannot sort view types.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spillframe.types import VIEW_TO_LARGE, without_view_types

__all__ = [
    "sort_table",
    "top_k",
    "sort_indices",
    "sortable_keys",
    "check_sort_args",
    "take_rows",
    "take_values",
]


def take_values(
    values: pa.Array | pa.ChunkedArray, indices: pa.Array | np.ndarray
) -> pa.Array | pa.ChunkedArray:
    """``values.take(indices)``, also for view types, which pyarrow cannot take.

    Parameters
    ----------
    values : pa.Array or pa.ChunkedArray
        Values to gather (not modified).
    indices : pa.Array or np.ndarray
        Integer positions; a null position gives a null.

    Returns
    -------
    pa.Array or pa.ChunkedArray
        The gathered values, same type as ``values``.
    """
    plain = without_view_types(values.type)
    if plain == values.type:
        return values.take(indices)
    return values.cast(plain).take(indices).cast(values.type)


def take_rows(table: pa.Table, indices: pa.Array | np.ndarray) -> pa.Table:
    """``table.take(indices)`` that also works for string_view/binary_view columns.

    Parameters
    ----------
    table : pa.Table
        Input table (not modified).
    indices : pa.Array or np.ndarray
        Row positions.

    Returns
    -------
    pa.Table
        The gathered rows, same schema.
    """
    if all(without_view_types(t) == t for t in table.schema.types):
        return table.take(indices)
    columns = [take_values(column, indices) for column in table.columns]
    return pa.Table.from_arrays(columns, schema=table.schema)


def check_sort_args(
    schema: pa.Schema, keys: list[str], descending: list[bool], nulls_first: list[bool]
) -> None:
    """Raise ``ValueError``/``KeyError`` when sort arguments do not fit ``schema``.

    Parameters
    ----------
    schema : pa.Schema
        Schema holding the key columns.
    keys, descending, nulls_first : list
        Key names and one flag per key.
    """
    if len(descending) != len(keys) or len(nulls_first) != len(keys):
        raise ValueError(
            f"sort needs one 'descending' and one 'nulls_first' flag per key: got "
            f"{len(keys)} keys, {len(descending)} descending, {len(nulls_first)} nulls_first"
        )
    for key in keys:
        if schema.get_field_index(key) < 0:
            raise KeyError(f"no sort key column {key!r} in [{', '.join(schema.names)}]")


def sortable_keys(table: pa.Table, keys: list[str]) -> pa.Table:
    """Return the key columns of ``table`` with view types cast to sortable large types.

    Parameters
    ----------
    table : pa.Table
        Input table (not modified).
    keys : list of str
        Key column names.

    Returns
    -------
    pa.Table
        Only the key columns; ``string_view`` becomes ``large_string``.

    Raises
    ------
    TypeError
        A key has a nested type (list, struct, map), which has no order.
    """
    columns = []
    for key in keys:
        column = table.column(key)
        kind = column.type
        if pa.types.is_nested(kind):
            raise TypeError(f"cannot sort by column {key!r} of nested type {kind}")
        if pa.types.is_dictionary(kind):
            column = column.cast(kind.value_type)
            kind = column.type
        if kind in VIEW_TO_LARGE:
            column = column.cast(VIEW_TO_LARGE[kind])
        columns.append(column)
    return pa.Table.from_arrays(columns, names=list(keys)) if keys else table.select([])


def _sort_keys(keys: list[str], descending: list[bool], nulls_first: list[bool]) -> list[tuple]:
    return [
        (key, "descending" if desc else "ascending", "at_start" if first else "at_end")
        for key, desc, first in zip(keys, descending, nulls_first, strict=True)
    ]


def _sort_indices_global_nulls(
    keys_table: pa.Table, keys: list[str], descending: list[bool], nulls_first: list[bool]
) -> pa.Array:
    # Older pyarrow only has a global null placement: sort on an is_null helper per key.
    helpers, sort_keys = [], []
    for i, (key, desc, first) in enumerate(zip(keys, descending, nulls_first, strict=True)):
        name = f"__is_null_{i}"
        helpers.append((name, pc.is_null(keys_table.column(key))))
        sort_keys.append((name, "descending" if first else "ascending"))
        sort_keys.append((key, "descending" if desc else "ascending"))
    for name, values in helpers:
        keys_table = keys_table.append_column(name, values)
    options = pc.SortOptions(sort_keys, null_placement="at_end")
    return pc.sort_indices(keys_table, options=options)


def sort_indices(
    table: pa.Table, keys: list[str], descending: list[bool], nulls_first: list[bool]
) -> pa.UInt64Array:
    """Stable sort permutation of ``table`` by ``keys``.

    Parameters
    ----------
    table : pa.Table
        Input table.
    keys : list of str
        Sort key columns, most significant first.
    descending, nulls_first : list of bool
        One flag per key.

    Returns
    -------
    pa.UInt64Array
        Row indices in sorted order; equal rows keep their input order.
    """
    check_sort_args(table.schema, keys, descending, nulls_first)
    keys_table = sortable_keys(table, keys)
    if not keys or table.num_rows <= 1:
        return pa.array(np.arange(table.num_rows, dtype=np.uint64))
    try:
        options = pc.SortOptions(_sort_keys(keys, descending, nulls_first))
        return pc.sort_indices(keys_table, options=options)
    except (TypeError, ValueError, pa.ArrowNotImplementedError):
        # pyarrow without per-key null placement rejects 3-tuples.
        return _sort_indices_global_nulls(keys_table, keys, descending, nulls_first)


def sort_table(
    table: pa.Table, keys: list[str], descending: list[bool], nulls_first: list[bool]
) -> pa.Table:
    """Sort ``table`` by ``keys`` (stable), each key with its own direction and null placement.

    Parameters
    ----------
    table : pa.Table
        Input table (not modified).
    keys : list of str
        Sort key columns, most significant first.
    descending : list of bool
        Per key: sort descending.
    nulls_first : list of bool
        Per key: place nulls (and NaN) before the other values.

    Returns
    -------
    pa.Table
        Same schema, rows in sorted order.

    Examples
    --------
    >>> t = pa.table({"a": [2, None, 1]})
    >>> sort_table(t, ["a"], [False], [True])["a"].to_pylist()
    [None, 1, 2]
    """
    return take_rows(table, sort_indices(table, keys, descending, nulls_first))


def _fresh_name(names: list[str], base: str) -> str:
    name = base
    while name in names:
        name = "_" + name
    return name


def top_k(
    table: pa.Table, keys: list[str], descending: list[bool], nulls_first: list[bool], k: int
) -> pa.Table:
    """First ``k`` rows of ``sort_table(table, ...)``, without sorting every row.

    Ties are broken by input position, so the result is exactly
    ``sort_table(table, keys, descending, nulls_first).slice(0, k)``.

    Parameters
    ----------
    table : pa.Table
        Input table (not modified).
    keys, descending, nulls_first : list
        As in :func:`sort_table`.
    k : int
        Number of rows to keep (``k <= 0`` gives an empty table).

    Returns
    -------
    pa.Table
        At most ``k`` rows, sorted.
    """
    check_sort_args(table.schema, keys, descending, nulls_first)
    if k <= 0:
        return table.slice(0, 0)
    if k >= table.num_rows or not keys:
        return sort_table(table, keys, descending, nulls_first).slice(0, k)
    keys_table = sortable_keys(table, keys)
    row = _fresh_name(keys_table.column_names, "__row")
    keys_table = keys_table.append_column(row, pa.array(np.arange(table.num_rows)))
    sort_keys = _sort_keys(keys, descending, nulls_first) + [(row, "ascending", "at_end")]
    try:
        chosen = pc.select_k_unstable(keys_table, options=pc.SelectKOptions(k, sort_keys))
    except (TypeError, ValueError, pa.ArrowNotImplementedError):
        return sort_table(table, keys, descending, nulls_first).slice(0, k)
    picked = keys_table.take(chosen)
    order = sort_indices(picked, [*keys, row], [*descending, False], [*nulls_first, False])
    return take_rows(table, chosen.take(order))
