"""Grouped aggregation kernels: one-phase and two-phase (partial -> final).

Semantics (SQL-like, stable across one and two phases):

- Null keys form their own group. Output: key columns first, then one column per
  :class:`AggSpec`, named ``spec.name``, typed :func:`agg_output_type` exactly.
- ``count``/``count_all``/``count_distinct``/``approx_count_distinct`` are ``int64``.
  ``count`` counts non-null values, ``count_all`` rows, ``count_distinct`` distinct
  non-null values. ``approx_count_distinct`` is computed exactly.
- ``sum``/``mean``/``min``/``max``/``stddev``/``any_value`` skip nulls and are null
  for a group without non-null values. ``stddev`` is the sample deviation (ddof=1),
  null for fewer than two values. ``mean`` and ``stddev`` compute in float64.
- ``agg_list`` keeps nulls and the input order (partition order in two phases).
- A global aggregation (no keys) returns one row even for empty input: counts are 0,
  every other result (``agg_list`` included) is null.
- ``string_view``/``binary_view`` compute as ``large_string``/``large_binary`` and are
  cast back for ``min``/``max``/``any_value``/``agg_list``.

Two phases: ``final_aggregate(concat_tables([partial_aggregate(p, ...) ...]), ...)``
equals ``aggregate(concat_tables(parts), ...)`` (floats up to rounding). Partial
columns are named ``__{name}__{part}``: ``sum``, ``count``, ``min``, ``max``,
``any``, ``list``, ``distinct`` (list of distinct non-null values), and for
``stddev`` ``count``/``mean``/``var`` merged with Chan's formula.

Each aggregation is one class of :mod:`spillframe.kernels.aggregations` that declares
its output type and its phases; the kernels here run whichever aggregations a query
names and never switch on their names.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from spillframe.kernels.aggregations import (
    AGG_OPS,
    AGGREGATIONS,
    Aggregation,
    AggSpec,
    Namer,
    Parts,
    Step,
    agg_output_type,
    aggregation,
    cast_result,
    groups_from_rows,
    row_index,
    zero_without_sign,
)
from spillframe.kernels.runs import aggregate_runs
from spillframe.types import VIEW_TO_LARGE

__all__ = [
    "AGGREGATIONS",
    "AGG_OPS",
    "AggSpec",
    "Aggregation",
    "aggregation",
    "agg_output_type",
    "aggregate",
    "partial_aggregate",
    "final_aggregate",
]

_GLOBAL_KEY = "__global_key"
_ROW = "__row"


# ---------------------------------------------------------------------------- running


def _prepare_keys(table: pa.Table, keys: list[str]) -> tuple[pa.Table, list[str]]:
    """Key columns ready for ``group_by`` (views cast), plus a constant key if none."""
    if not keys:
        constant = pa.array(np.zeros(table.num_rows, dtype=np.int8))
        return pa.table({_GLOBAL_KEY: constant}), [_GLOBAL_KEY]
    columns = []
    for key in keys:
        column = table.column(key)
        if pa.types.is_nested(column.type):
            raise TypeError(f"cannot group by column {key!r} of nested type {column.type}")
        columns.append(zero_without_sign(column.cast(VIEW_TO_LARGE.get(column.type, column.type))))
    return pa.Table.from_arrays(columns, names=list(keys)), list(keys)


def _run_steps(
    table: pa.Table, keys: list[str], steps: list[Step]
) -> tuple[pa.Table, list[pa.Array], int]:
    """Group ``table`` by ``keys`` and run ``steps``.

    Returns the output key columns, the finished step columns and the group count.
    """
    if len(keys) == 1:  # keys in order: one run of rows per group, no hash table
        found = aggregate_runs(table.column(keys[0]), steps)
        if found is not None:
            key_column, columns = found
            finished = [s.finish(pa.chunked_array([c])) for s, c in zip(steps, columns)]
            return pa.table({keys[0]: key_column}), finished, len(key_column)
    work, group_keys = _prepare_keys(table, keys)
    for step in steps:
        work = work.append_column(step.name, step.values)
    aggregations = [(s.name, s.func, s.options) if s.options else (s.name, s.func) for s in steps]
    grouped = work.group_by(group_keys, use_threads=False).aggregate(aggregations)
    key_columns = [grouped.column(k).cast(table.schema.field(k).type) for k in keys]
    finished = [s.finish(grouped.column(f"{s.name}_{s.func}")) for s in steps]
    return pa.Table.from_arrays(key_columns, names=list(keys)), finished, grouped.num_rows


def _output(keys_table: pa.Table, names: list[str], columns: list[pa.Array]) -> pa.Table:
    arrays = list(keys_table.columns) + list(columns)
    return pa.Table.from_arrays(arrays, names=keys_table.column_names + names)


def _global_default(names: list[str], types: list[pa.DataType], specs: list[AggSpec]) -> pa.Table:
    """The one row a global aggregation returns for empty input."""
    columns = [
        pa.array([0], pa.int64()) if s.aggregation.zero_when_empty else pa.nulls(1, kind)
        for s, kind in zip(specs, types, strict=True)
    ]
    return pa.Table.from_arrays(columns, names=names) if names else pa.table({})


def _check_columns(table: pa.Table, keys: list[str], specs: list[AggSpec]) -> None:
    names = table.column_names
    for column in [*keys, *(s.column for s in specs if s.column is not None)]:
        if column not in names:
            raise KeyError(f"no column {column!r} in [{', '.join(names)}]")


def _input(spec: AggSpec, table: pa.Table) -> tuple[pa.ChunkedArray, pa.DataType]:
    """The column ``spec`` aggregates (a constant for ``count_all``, which reads none)
    and its output type."""
    if spec.column is None:
        zeros = pa.chunked_array([np.zeros(table.num_rows, dtype=np.int8)], pa.int8())
        return zeros, agg_output_type(spec.op, None)
    column = table.column(spec.column)
    return column, agg_output_type(spec.op, column.type)


def _value_type(kind: pa.DataType) -> pa.DataType:
    return kind.value_type if pa.types.is_dictionary(kind) else kind


# ---------------------------------------------------------------------------- one phase


def aggregate(table: pa.Table, keys: list[str], specs: list[AggSpec]) -> pa.Table:
    """Group ``table`` by ``keys`` and compute ``specs`` in one phase.

    Parameters
    ----------
    table : pa.Table
        Input rows (not modified).
    keys : list of str
        Group key columns; empty for a global aggregation (exactly one output row).
        With no specs this is ``distinct`` over ``keys``.
    specs : list of AggSpec
        Aggregations, in output order.

    Returns
    -------
    pa.Table
        Key columns (their input types), then one column per spec typed
        :func:`agg_output_type`. Groups in no set order (in key order when the keys
        arrive in order, see :mod:`spillframe.kernels.runs`).

    Examples
    --------
    >>> t = pa.table({"k": ["a", "b", "a"], "v": [1, 2, 3]})
    >>> aggregate(t, ["k"], [AggSpec("sum", "v", "total")]).to_pydict()
    {'k': ['a', 'b'], 'total': [4, 2]}
    """
    _check_columns(table, keys, specs)
    inputs = [_input(spec, table) for spec in specs]
    if not all(
        spec.aggregation.one_phase(_value_type(column.type))
        for spec, (column, _) in zip(specs, inputs)
    ):  # e.g. a decimal mean, which divides exactly only from its partials
        return final_aggregate(partial_aggregate(table, keys, specs), keys, specs)
    steps = [
        spec.aggregation.direct(f"__agg{i}", column, out_type)
        for i, (spec, (column, out_type)) in enumerate(zip(specs, inputs))
    ]
    keys_table, columns, num_groups = _run_steps(table, keys, steps)
    names = [s.name for s in specs]
    if not keys and num_groups == 0:
        return _global_default(names, [out_type for _, out_type in inputs], specs)
    return _output(keys_table, names, columns)


# ---------------------------------------------------------------------------- two phases


def _namer(prefix: str, spec: AggSpec) -> Namer:
    return lambda part: f"{prefix}{spec.name}__{part}"


def partial_aggregate(table: pa.Table, keys: list[str], specs: list[AggSpec]) -> pa.Table:
    """First phase of a two-phase aggregation over one partition.

    Parameters
    ----------
    table : pa.Table
        One input partition (not modified).
    keys : list of str
        Group key columns (may be empty).
    specs : list of AggSpec
        Aggregations.

    Returns
    -------
    pa.Table
        Key columns, then the partial columns ``__{name}__{part}`` of every spec (see
        the module docstring). One row per group; no row for an empty global input.
    """
    _check_columns(table, keys, specs)
    steps = [
        step
        for spec in specs
        for step in spec.aggregation.partial(_namer("__", spec), *_input(spec, table))
    ]
    keys_table, columns, _ = _run_steps(table, keys, steps)
    return _output(keys_table, [s.name for s in steps], columns)


def final_aggregate(partials: pa.Table, keys: list[str], specs: list[AggSpec]) -> pa.Table:
    """Second phase: merge the concatenated partial results of every partition.

    Parameters
    ----------
    partials : pa.Table
        Concatenated outputs of :func:`partial_aggregate` (for the same keys and
        specs), with every row of a group in this one table.
    keys : list of str
        Group key columns (may be empty).
    specs : list of AggSpec
        The same aggregations as in the partial phase.

    Returns
    -------
    pa.Table
        Same result as :func:`aggregate` over the original rows.
    """
    parts = [_parts_of(spec, partials) for spec in specs]
    combines = [
        spec.aggregation.combine(_namer("__final_", spec), part) for spec, part in zip(specs, parts)
    ]
    rows = Step(_ROW, row_index(partials.num_rows), "list", None, lambda found: found)
    steps = [rows] + [step for combine in combines for step in combine]
    keys_table, results, num_groups = _run_steps(partials, keys, steps)
    names = [s.name for s in specs]
    types = [s.aggregation.final_type(_part_types_of(s, partials.schema)) for s in specs]
    if not keys and num_groups == 0:
        return _global_default(names, types, specs)
    groups = groups_from_rows(results[0], partials.num_rows)
    columns, position = [], 1
    for spec, part, combine, kind in zip(specs, parts, combines, types, strict=True):
        combined = results[position : position + len(combine)]
        columns.append(cast_result(spec.aggregation.finalize(combined, part, groups), kind))
        position += len(combine)
    return _output(keys_table, names, columns)


def _parts_of(spec: AggSpec, partials: pa.Table) -> Parts:
    return lambda part: partials.column(f"__{spec.name}__{part}")


def _part_types_of(spec: AggSpec, schema: pa.Schema) -> Callable[[str], pa.DataType]:
    return lambda part: schema.field(f"__{spec.name}__{part}").type
