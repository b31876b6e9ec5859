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
``stddev`` ``count``/``mean``/``m2`` merged with Chan's formula.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spillframe.kernels.sort import take_values
from spillframe.types import VIEW_TO_LARGE, is_numeric, sum_type

__all__ = [
    "AGG_OPS",
    "AggSpec",
    "agg_output_type",
    "aggregate",
    "partial_aggregate",
    "final_aggregate",
]

AGG_OPS = (
    "sum",
    "mean",
    "min",
    "max",
    "count",
    "count_all",
    "count_distinct",
    "approx_count_distinct",
    "any_value",
    "agg_list",
    "stddev",
)
_COUNT_OPS = ("count", "count_all", "count_distinct", "approx_count_distinct")
_GLOBAL_KEY = "__global_key"
_ROW = "__row"
_SKIP_NULLS = pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)


@dataclass(frozen=True, slots=True)
class AggSpec:
    """One aggregation: ``op`` over ``column``, written to output column ``name``."""

    op: str
    column: str | None
    name: str
    options: tuple = ()

    def __post_init__(self) -> None:
        if self.op not in AGG_OPS:
            raise ValueError(f"unknown aggregation {self.op!r}; choose one of {', '.join(AGG_OPS)}")
        if self.column is None and self.op != "count_all":
            raise ValueError(f"aggregation {self.op!r} needs a column")


def agg_output_type(op: str, input_type: pa.DataType | None) -> pa.DataType:
    """Result type of aggregation ``op`` over a column of ``input_type``.

    Parameters
    ----------
    op : str
        One of :data:`AGG_OPS`.
    input_type : pa.DataType or None
        Type of the aggregated column (``None`` only for ``count_all``).

    Returns
    -------
    pa.DataType
        Counts: int64. sum: int64 (signed ints, bool), uint64 (unsigned ints), float64,
        decimal128(38, s) / decimal256(76, s). mean/stddev: float64. min/max/any_value:
        the input type (a dictionary's value type). agg_list: ``list<input type>``.

    Raises
    ------
    TypeError
        The op is not defined for the type (e.g. ``sum`` of strings).
    """
    if op not in AGG_OPS:
        raise ValueError(f"unknown aggregation {op!r}; choose one of {', '.join(AGG_OPS)}")
    if input_type is None:
        if op == "count_all":
            return pa.int64()
        raise TypeError(f"aggregation {op!r} needs an input column")
    kind = input_type.value_type if pa.types.is_dictionary(input_type) else input_type
    if op in ("count_distinct", "approx_count_distinct") and pa.types.is_nested(kind):
        raise TypeError(f"{op} is not supported for nested type {kind}")
    if op in _COUNT_OPS:
        return pa.int64()
    if op in ("sum", "mean", "stddev"):
        if not is_numeric(kind):
            raise TypeError(f"{op} needs a numeric column, got {kind}")
        return sum_type(kind) if op == "sum" else pa.float64()
    if op in ("min", "max") and pa.types.is_nested(kind):
        raise TypeError(f"{op} is not supported for nested type {kind}")
    if op == "agg_list":
        return pa.list_(kind)
    return kind


# ---------------------------------------------------------------------------- helpers


def _compute_values(column: pa.ChunkedArray, op: str) -> pa.ChunkedArray:
    """Cast ``column`` to a type pyarrow's grouped ``op`` kernel accepts."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if op in ("mean", "stddev"):
        return column.cast(pa.float64())
    if op == "sum" and (pa.types.is_null(kind) or pa.types.is_boolean(kind)):
        return column.cast(pa.int64())
    if kind in VIEW_TO_LARGE:
        return column.cast(VIEW_TO_LARGE[kind])
    if pa.types.is_decimal(kind) and kind.bit_width < 128:
        return column.cast(pa.decimal128(kind.precision, kind.scale))
    if pa.types.is_float16(kind):
        return column.cast(pa.float32())
    if pa.types.is_null(kind) and op != "agg_list":
        return column.cast(pa.int8())
    if op in ("count_distinct", "approx_count_distinct"):
        return _zero_without_sign(column)
    return column


def _zero_without_sign(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``-0.0`` as ``0.0``, so that equal floats group (and hash) alike."""
    if pa.types.is_floating(column.type):
        return pc.add(column, pa.scalar(0.0, column.type))
    return column


def _cast_result(values: pa.Array | pa.ChunkedArray, kind: pa.DataType) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_null(kind):
        return pa.nulls(len(values))
    return values if values.type == kind else values.cast(kind)


def _first_supported(kind: pa.DataType) -> bool:
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_temporal(kind)
    )


def _row_index(num_rows: int) -> pa.Array:
    return pa.array(np.arange(num_rows, dtype=np.int64))


def _take_lists(values: pa.ChunkedArray, index_lists: pa.ChunkedArray) -> pa.ListArray:
    """Build one list per row of ``index_lists`` holding ``values`` at those indices."""
    lists = (
        index_lists.combine_chunks() if isinstance(index_lists, pa.ChunkedArray) else index_lists
    )
    taken = take_values(values, pc.list_flatten(lists))
    taken = taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), taken)


@dataclass(frozen=True, slots=True)
class _Step:
    """One pyarrow grouped aggregation and how its result becomes a column."""

    name: str
    values: pa.ChunkedArray | pa.Array
    func: str
    options: pc.FunctionOptions | None
    finish: Callable[[pa.ChunkedArray], pa.Array]


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
        columns.append(_zero_without_sign(column.cast(VIEW_TO_LARGE.get(column.type, column.type))))
    return pa.Table.from_arrays(columns, names=list(keys)), list(keys)


def _run_steps(
    table: pa.Table, keys: list[str], steps: list[_Step]
) -> tuple[pa.Table, list[pa.Array], int]:
    """Group ``table`` by ``keys`` and run ``steps``.

    Returns the output key columns, the finished step columns and the group count.
    """
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


def _global_default(names: list[str], types: list[pa.DataType], ops: list[str]) -> pa.Table:
    """The one row a global aggregation returns for empty input."""
    columns = [
        pa.array([0], pa.int64()) if op in _COUNT_OPS else pa.nulls(1, kind)
        for op, kind in zip(ops, types, strict=True)
    ]
    return pa.Table.from_arrays(columns, names=names) if names else pa.table({})


def _check_columns(table: pa.Table, keys: list[str], specs: list[AggSpec]) -> None:
    names = table.column_names
    for column in [*keys, *(s.column for s in specs if s.column is not None)]:
        if column not in names:
            raise KeyError(f"no column {column!r} in [{', '.join(names)}]")


# ---------------------------------------------------------------------------- one phase


def _direct_step(spec: AggSpec, index: int, table: pa.Table) -> _Step:
    """The single-step (one-phase) computation of ``spec``."""
    name = f"__agg{index}"
    if spec.op == "count_all":
        zeros = pa.array(np.zeros(table.num_rows, dtype=np.int8))
        return _Step(name, zeros, "count", pc.CountOptions("all"), _cast_result_to(pa.int64()))
    column = table.column(spec.column)
    out_type = agg_output_type(spec.op, column.type)
    finish = _cast_result_to(out_type)
    if spec.op in ("any_value", "agg_list"):
        return _pick_step(spec.op, name, column, out_type)
    values = _compute_values(column, spec.op)
    func, options = {
        "sum": ("sum", _SKIP_NULLS),
        "mean": ("mean", _SKIP_NULLS),
        "min": ("min", _SKIP_NULLS),
        "max": ("max", _SKIP_NULLS),
        "count": ("count", pc.CountOptions("only_valid")),
        "count_distinct": ("count_distinct", pc.CountOptions("only_valid")),
        "approx_count_distinct": ("count_distinct", pc.CountOptions("only_valid")),
        "stddev": ("stddev", pc.VarianceOptions(ddof=1)),
    }[spec.op]
    return _Step(name, values, func, options, finish)


def _cast_result_to(kind: pa.DataType) -> Callable[[pa.ChunkedArray], pa.Array]:
    return lambda values: _cast_result(values, kind)


def _pick_step(op: str, name: str, column: pa.ChunkedArray, out_type: pa.DataType) -> _Step:
    """``any_value``/``agg_list`` directly, or through row indices for unsupported types."""
    values = _compute_values(column, op)
    kind = values.type
    if op == "any_value" and _first_supported(kind):
        return _Step(name, values, "first", _SKIP_NULLS, _cast_result_to(out_type))
    if op == "agg_list" and not pa.types.is_nested(kind) and kind not in VIEW_TO_LARGE:
        return _Step(name, values, "list", None, _cast_result_to(out_type))
    rows = _row_index(len(values))
    if op == "any_value":
        # The smallest row index holding a value, then take that value.
        valid_rows = pc.if_else(pc.is_valid(values), rows, pa.scalar(None, pa.int64()))
        finish = lambda found: _cast_result(take_values(values, found), out_type)  # noqa: E731
        return _Step(name, valid_rows, "min", _SKIP_NULLS, finish)
    finish = lambda found: _cast_result(_take_lists(values, found), out_type)  # noqa: E731
    return _Step(name, rows, "list", None, finish)


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
        :func:`agg_output_type`. Groups in first-appearance order.

    Examples
    --------
    >>> t = pa.table({"k": ["a", "b", "a"], "v": [1, 2, 3]})
    >>> aggregate(t, ["k"], [AggSpec("sum", "v", "total")]).to_pydict()
    {'k': ['a', 'b'], 'total': [4, 2]}
    """
    _check_columns(table, keys, specs)
    steps = [_direct_step(spec, i, table) for i, spec in enumerate(specs)]
    keys_table, columns, num_groups = _run_steps(table, keys, steps)
    names = [s.name for s in specs]
    if not keys and num_groups == 0:
        types = [
            agg_output_type(s.op, table.column(s.column).type if s.column else None) for s in specs
        ]
        return _global_default(names, types, [s.op for s in specs])
    return _output(keys_table, names, columns)


# ---------------------------------------------------------------------------- two phases


def _partial_name(spec: AggSpec, part: str) -> str:
    return f"__{spec.name}__{part}"


def _partial_steps(spec: AggSpec, table: pa.Table) -> list[_Step]:
    """Steps whose results are the partial columns of ``spec``."""
    name = lambda part: _partial_name(spec, part)  # noqa: E731
    if spec.op in ("sum", "min", "max", "count", "count_all"):
        step = _direct_step(spec, 0, table)
        part = "count" if spec.op.startswith("count") else spec.op
        return [_Step(name(part), step.values, step.func, step.options, step.finish)]
    column = table.column(spec.column)
    out_type = agg_output_type(spec.op, column.type)
    if spec.op in ("any_value", "agg_list"):
        part = "any" if spec.op == "any_value" else "list"
        return [_pick_step(spec.op, name(part), column, out_type)]
    int64, float64 = _cast_result_to(pa.int64()), _cast_result_to(pa.float64())
    count = _Step(name("count"), column, "count", pc.CountOptions("only_valid"), int64)
    values = _compute_values(column, spec.op)
    if spec.op == "mean":
        return [_Step(name("sum"), values, "sum", _SKIP_NULLS, float64), count]
    if spec.op == "stddev":
        variance = pc.VarianceOptions(ddof=0)
        return [
            count,
            _Step(name("mean"), values, "mean", _SKIP_NULLS, float64),
            _Step(name("var"), values, "variance", variance, float64),
        ]
    # count_distinct / approx_count_distinct: the distinct non-null values of the group.
    identity = lambda found: _cast_result(found, found.type)  # noqa: E731
    return [_Step(name("distinct"), values, "distinct", pc.CountOptions("only_valid"), identity)]


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
    steps = [step for spec in specs for step in _partial_steps(spec, table)]
    keys_table, columns, _ = _run_steps(table, keys, steps)
    return _output(keys_table, [s.name for s in steps], columns)


@dataclass(frozen=True, slots=True)
class _Groups:
    """Group id of every partial row, and the partial rows ordered by group."""

    gid: np.ndarray
    order: np.ndarray
    count: int


def _groups_from_rows(row_lists: pa.ChunkedArray, num_rows: int) -> _Groups:
    lists = row_lists.combine_chunks()
    order = pc.list_flatten(lists).to_numpy()
    gid = np.empty(num_rows, dtype=np.int64)
    gid[order] = pc.list_parent_indices(lists).to_numpy()
    return _Groups(gid, order, len(lists))


def _merge_distinct(distinct_lists: pa.ChunkedArray, groups: _Groups) -> pa.Array:
    lists = distinct_lists.combine_chunks()
    parents = pc.list_parent_indices(lists).to_numpy()
    pairs = pa.table({"g": groups.gid[parents], "v": pc.list_flatten(lists)})
    counted = pairs.group_by("g", use_threads=False).aggregate(
        [("v", "count_distinct", pc.CountOptions("only_valid"))]
    )
    counts = np.zeros(groups.count, dtype=np.int64)
    counts[counted.column("g").to_numpy()] = counted.column("v_count_distinct").to_numpy()
    return pa.array(counts)


def _merge_lists(lists: pa.ChunkedArray, groups: _Groups) -> pa.Array:
    # Partial rows ordered by group: their lists, flattened, are the groups' lists.
    ordered = take_values(lists, pa.array(groups.order)).combine_chunks()
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    totals = np.bincount(groups.gid, weights=lengths, minlength=groups.count)
    offsets = np.concatenate([[0], np.cumsum(totals)]).astype(np.int32)
    merged = pa.ListArray.from_arrays(pa.array(offsets), pc.list_flatten(ordered))
    return _cast_result(merged, lists.type)


def _merge_stddev(
    count: pa.ChunkedArray, mean: pa.ChunkedArray, var: pa.ChunkedArray, groups: _Groups
) -> pa.Array:
    """Sample standard deviation from per-partition (count, mean, variance): Chan et al."""
    as_numpy = lambda c: c.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64)  # noqa: E731
    n_i, mean_i, var_i = as_numpy(count), as_numpy(mean), as_numpy(var)
    n = np.bincount(groups.gid, weights=n_i, minlength=groups.count)
    with np.errstate(divide="ignore", invalid="ignore"):
        total_mean = np.bincount(groups.gid, weights=n_i * mean_i, minlength=groups.count) / n
        spread = n_i * var_i + n_i * (mean_i - total_mean[groups.gid]) ** 2
        m2 = np.bincount(groups.gid, weights=spread, minlength=groups.count)
        std = np.sqrt(np.maximum(m2, 0.0) / (n - 1))
    return pa.array(std, mask=n < 2, type=pa.float64())


def _final_plan(spec: AggSpec, partials: pa.Table):
    """(steps, combine) computing ``spec`` from its partial columns."""
    part = lambda p: partials.column(_partial_name(spec, p))  # noqa: E731
    name = lambda p: f"__final_{spec.name}__{p}"  # noqa: E731
    identity = lambda results, groups: results[0]  # noqa: E731
    op = spec.op
    if op in ("sum", "min", "max"):
        finish = _cast_result_to(part(op).type)
        return [_Step(name(op), _compute_values(part(op), op), op, _SKIP_NULLS, finish)], identity
    if op in ("count", "count_all"):
        to_int = lambda found: _cast_result(found.fill_null(0), pa.int64())  # noqa: E731
        return [_Step(name("count"), part("count"), "sum", None, to_int)], identity
    if op == "mean":
        float64 = _cast_result_to(pa.float64())
        steps = [
            _Step(name("sum"), part("sum"), "sum", _SKIP_NULLS, float64),
            _Step(name("count"), part("count"), "sum", None, float64),
        ]
        divide = lambda results, groups: pc.if_else(  # noqa: E731
            pc.greater(results[1], 0), pc.divide(results[0], results[1]), None
        )
        return steps, divide
    if op == "any_value":
        values = part("any")
        return [_pick_step("any_value", name("any"), values, values.type)], identity
    if op == "agg_list":
        return [], lambda results, groups: _merge_lists(part("list"), groups)
    if op == "stddev":
        return [], lambda results, groups: _merge_stddev(
            part("count"), part("mean"), part("var"), groups
        )
    return [], lambda results, groups: _merge_distinct(part("distinct"), groups)


def _final_type(spec: AggSpec, partials: pa.Schema) -> pa.DataType:
    part = {"sum": "sum", "min": "min", "max": "max", "any_value": "any", "agg_list": "list"}
    if spec.op in part:
        return partials.field(_partial_name(spec, part[spec.op])).type
    return pa.int64() if spec.op in _COUNT_OPS else pa.float64()


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
    plans = [_final_plan(spec, partials) for spec in specs]
    rows = _Step(_ROW, _row_index(partials.num_rows), "list", None, lambda found: found)
    steps = [rows] + [step for plan_steps, _ in plans for step in plan_steps]
    keys_table, results, num_groups = _run_steps(partials, keys, steps)
    names = [s.name for s in specs]
    types = [_final_type(s, partials.schema) for s in specs]
    if not keys and num_groups == 0:
        return _global_default(names, types, [s.op for s in specs])
    groups = _groups_from_rows(results[0], partials.num_rows)
    columns, position = [], 1
    for (plan_steps, combine), kind in zip(plans, types, strict=True):
        found = results[position : position + len(plan_steps)]
        columns.append(_cast_result(combine(found, groups), kind))
        position += len(plan_steps)
    return _output(keys_table, names, columns)
