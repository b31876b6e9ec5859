"""The aggregations: one class per aggregation, declaring all it knows.

An :class:`Aggregation` declares its output type, its one-phase step (``direct``),
its ``partial`` steps (per partition), the ``combine`` steps that merge partial
columns by group, and the ``finalize`` that turns the merged results into its output
column. :data:`AGGREGATIONS` holds one instance of each by name; the kernels of
:mod:`spillframe.kernels.aggregate` run whichever a query names, and typing reads
:func:`agg_output_type`. A new aggregation is a new class added to the registry.

A step is one grouped pyarrow kernel (``Table.group_by(...).aggregate``) over one
prepared column, and how its result becomes a column.
"""

from __future__ import annotations

import dataclasses
import decimal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spillframe.kernels.sort import take_values
from spillframe.types import VIEW_TO_LARGE, is_numeric, sum_type

_SKIP_NULLS = pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)
_VALID = pc.CountOptions("only_valid")


# ---------------------------------------------------------------------------- helpers


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A dictionary column as its values."""
    kind = column.type
    return column.cast(kind.value_type) if pa.types.is_dictionary(kind) else column


def zero_without_sign(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``-0.0`` as ``0.0``, so that equal floats group (and hash) alike."""
    if pa.types.is_floating(column.type):
        return pc.add(column, pa.scalar(0.0, column.type))
    return column


def cast_result(values: pa.Array | pa.ChunkedArray, kind: pa.DataType) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_null(kind):
        return pa.nulls(len(values))
    return values if values.type == kind else values.cast(kind)


def row_index(num_rows: int) -> pa.Array:
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


@dataclass(frozen=True, slots=True)
class Step:
    """One pyarrow grouped aggregation and how its result becomes a column."""

    name: str
    values: pa.ChunkedArray | pa.Array
    func: str
    options: pc.FunctionOptions | None
    finish: Callable[[pa.ChunkedArray], pa.Array]


def cast_result_to(kind: pa.DataType) -> Callable[[pa.ChunkedArray], pa.Array]:
    return lambda values: cast_result(values, kind)


def _as_is(found: pa.ChunkedArray) -> pa.Array:
    return cast_result(found, found.type)


def _count_of(found: pa.ChunkedArray) -> pa.Array:
    """A merged count: a group without partial counts counted nothing."""
    return cast_result(found.fill_null(0), pa.int64())


@dataclass(frozen=True, slots=True)
class Groups:
    """Group id of every partial row, and the partial rows ordered by group."""

    gid: np.ndarray
    order: np.ndarray
    count: int


def groups_from_rows(row_lists: pa.ChunkedArray, num_rows: int) -> Groups:
    lists = row_lists.combine_chunks()
    order = pc.list_flatten(lists).to_numpy()
    gid = np.empty(num_rows, dtype=np.int64)
    gid[order] = pc.list_parent_indices(lists).to_numpy()
    return Groups(gid, order, len(lists))


def _merge_distinct(distinct_lists: pa.ChunkedArray, groups: Groups) -> pa.Array:
    lists = distinct_lists.combine_chunks()
    parents = pc.list_parent_indices(lists).to_numpy()
    pairs = pa.table({"g": groups.gid[parents], "v": pc.list_flatten(lists)})
    counted = pairs.group_by("g", use_threads=False).aggregate(
        [("v", "count_distinct", pc.CountOptions("only_valid"))]
    )
    counts = np.zeros(groups.count, dtype=np.int64)
    counts[counted.column("g").to_numpy()] = counted.column("v_count_distinct").to_numpy()
    return pa.array(counts)


def _merge_lists(lists: pa.ChunkedArray, groups: Groups) -> pa.Array:
    # Partial rows ordered by group: their lists, flattened, are the groups' lists.
    ordered = take_values(lists, pa.array(groups.order)).combine_chunks()
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    totals = np.bincount(groups.gid, weights=lengths, minlength=groups.count)
    offsets = np.concatenate([[0], np.cumsum(totals)]).astype(np.int32)
    merged = pa.ListArray.from_arrays(pa.array(offsets), pc.list_flatten(ordered))
    return cast_result(merged, lists.type)


def _merge_moments(
    count: pa.ChunkedArray,
    mean: pa.ChunkedArray,
    var: pa.ChunkedArray,
    groups: Groups,
    ddof: int,
    root: bool,
) -> pa.Array:
    """The variance with divisor ``n - ddof`` (its square root with ``root``) from
    per-partition (count, mean, population variance): Chan et al.; null for
    ``n <= ddof``."""
    as_numpy = lambda c: c.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64)  # noqa: E731
    n_i, mean_i, var_i = as_numpy(count), as_numpy(mean), as_numpy(var)
    n = np.bincount(groups.gid, weights=n_i, minlength=groups.count)
    with np.errstate(divide="ignore", invalid="ignore"):
        total_mean = np.bincount(groups.gid, weights=n_i * mean_i, minlength=groups.count) / n
        spread = n_i * var_i + n_i * (mean_i - total_mean[groups.gid]) ** 2
        m2 = np.bincount(groups.gid, weights=spread, minlength=groups.count)
        variance = np.maximum(m2, 0.0) / (n - ddof)
    result = np.sqrt(variance) if root else variance
    return pa.array(result, mask=n <= ddof, type=pa.float64())


def mean_decimal_type(kind: pa.DataType) -> pa.DataType:
    """Daft's type of a decimal mean: the widest precision, four more digits of scale."""
    if pa.types.is_decimal256(kind):
        return pa.decimal256(76, min(76, kind.scale + 4))
    return pa.decimal128(38, min(38, kind.scale + 4))


def divide_decimal(total: pa.Array, count: pa.Array) -> pa.Array:
    """``total / count`` at ``total``'s scale, truncated toward zero (Daft divides the
    scaled integers); null where the count is 0."""
    kind = total.type
    step = decimal.Decimal(1).scaleb(-kind.scale)
    context = decimal.Context(prec=2 * kind.precision + 2)
    means = [
        None
        if t is None or not c
        else context.divide(t, decimal.Decimal(c)).quantize(step, decimal.ROUND_DOWN, context)
        for t, c in zip(total.to_pylist(), count.to_pylist())
    ]
    return pa.array(means, kind)


def join_string_lists(lists: pa.Array, delimiter: str, kind: pa.DataType) -> pa.Array:
    """Join each list of strings, skipping nulls; null where nothing is left."""
    values = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    valid = np.asarray(pc.is_valid(values).to_numpy(zero_copy_only=False), dtype=bool)
    counts = np.bincount(parents[valid], minlength=len(lists))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    kept = pa.ListArray.from_arrays(pa.array(offsets), values.filter(pa.array(valid)))
    joined = pc.binary_join(kept, delimiter)
    return pc.if_else(pa.array(counts > 0), joined, pa.scalar(None, joined.type)).cast(kind)


#: ``name(part)``: the partial (or combine) column of one spec named after its part.
Namer = Callable[[str], str]
#: ``part(part)``: one partial column of a spec, as read by the final phase.
Parts = Callable[[str], pa.ChunkedArray]


# ---------------------------------------------------------------------------- aggregations


class Aggregation:
    """What one aggregation is: its output type and its phases.

    One phase runs :meth:`direct` (a grouped pyarrow kernel over the input column).
    Two phases run :meth:`partial` on every partition, then, on the concatenated
    partials of a group, :meth:`combine` (grouped kernels over the partial columns)
    and :meth:`finalize` (the output column from the combined results).
    """

    name: ClassVar[str]
    #: False only for ``count_all``, which counts rows.
    needs_column: ClassVar[bool] = True
    #: A global aggregation of no rows gives 0 (counts) rather than null.
    zero_when_empty: ClassVar[bool] = False

    def output_type(self, kind: pa.DataType) -> pa.DataType:
        """The result type over input ``kind`` (a dictionary's value type); TypeError
        when the aggregation is not defined for it."""
        return kind

    def configured(self, options: dict[str, Any]) -> Aggregation:
        """This aggregation with a spec's options (``ddof``, ``delimiter``)."""
        if options:
            raise ValueError(f"aggregation {self.name!r} takes no options, got {options}")
        return self

    def one_phase(self, kind: pa.DataType) -> bool:
        """Whether :meth:`direct` gives what the two phases give over input ``kind``
        (otherwise one phase runs as partial and final on the same table)."""
        return True

    def values(self, column: pa.ChunkedArray) -> pa.ChunkedArray:
        """``column`` cast to a type pyarrow's grouped kernels accept."""
        column = _decoded(column)
        kind = column.type
        if kind in VIEW_TO_LARGE:
            return column.cast(VIEW_TO_LARGE[kind])
        if pa.types.is_decimal(kind) and kind.bit_width < 128:
            return column.cast(pa.decimal128(kind.precision, kind.scale))
        if pa.types.is_float16(kind):
            return column.cast(pa.float32())
        if pa.types.is_null(kind):
            return column.cast(pa.int8())
        return column

    def direct(self, name: str, column: pa.ChunkedArray, out_type: pa.DataType) -> Step:
        """The one-phase step, named ``name``, finishing as ``out_type``."""
        raise NotImplementedError(type(self).__name__)

    def partial(self, name: Namer, column: pa.ChunkedArray, out_type: pa.DataType) -> list[Step]:
        """The steps of the first phase over one partition."""
        raise NotImplementedError(type(self).__name__)

    def combine(self, name: Namer, part: Parts) -> list[Step]:
        """Grouped steps over the partial columns; their results go to :meth:`finalize`."""
        return []

    def finalize(self, results: list[pa.Array], part: Parts, groups: Groups) -> pa.Array:
        """The output column from the combined ``results`` (the partials by group)."""
        return results[0]

    def final_type(self, part_type: Callable[[str], pa.DataType]) -> pa.DataType:
        """The output type, read from the partial columns' types."""
        return pa.float64()


class _Reduction(Aggregation):
    """Reduced by the same grouped kernel in both phases (sum, min, max)."""

    options: ClassVar[pc.FunctionOptions | None] = _SKIP_NULLS

    def direct(self, name: str, column: pa.ChunkedArray, out_type: pa.DataType) -> Step:
        return Step(name, self.values(column), self.name, self.options, cast_result_to(out_type))

    def partial(self, name: Namer, column: pa.ChunkedArray, out_type: pa.DataType) -> list[Step]:
        return [self.direct(name(self.name), column, out_type)]

    def combine(self, name: Namer, part: Parts) -> list[Step]:
        partial = part(self.name)
        finish = cast_result_to(partial.type)
        return [Step(name(self.name), self.values(partial), self.name, self.options, finish)]

    def final_type(self, part_type: Callable[[str], pa.DataType]) -> pa.DataType:
        return part_type(self.name)


class Sum(_Reduction):
    name = "sum"

    def output_type(self, kind: pa.DataType) -> pa.DataType:
        if not is_numeric(kind):
            raise TypeError(f"sum needs a numeric column, got {kind}")
        return sum_type(kind)

    def values(self, column: pa.ChunkedArray) -> pa.ChunkedArray:
        column = _decoded(column)
        if pa.types.is_null(column.type) or pa.types.is_boolean(column.type):
            return column.cast(pa.int64())
        return super().values(column)


class Min(_Reduction):
    name = "min"

    def output_type(self, kind: pa.DataType) -> pa.DataType:
        if pa.types.is_nested(kind):
            raise TypeError(f"{self.name} is not supported for nested type {kind}")
        return kind


class Max(Min):
    name = "max"


class Count(Aggregation):
    """Non-null values."""

    name = "count"
    zero_when_empty = True

    def output_type(self, kind: pa.DataType) -> pa.DataType:
        return pa.int64()

    def direct(self, name: str, column: pa.ChunkedArray, out_type: pa.DataType) -> Step:
        return Step(name, self.values(column), "count", _VALID, cast_result_to(pa.int64()))

    def partial(self, name: Namer, column: pa.ChunkedArray, out_type: pa.DataType) -> list[Step]:
        return [self.direct(name("count"), column, out_type)]

    def combine(self, name: Namer, part: Parts) -> list[Step]:
        return [Step(name("count"), part("count"), "sum", None, _count_of)]

    def final_type(self, part_type: Callable[[str], pa.DataType]) -> pa.DataType:
        return pa.int64()


class CountAll(Count):
    """Rows, nulls included; reads no column."""

    name = "count_all"
    needs_column = False

    def direct(self, name: str, column: pa.ChunkedArray, out_type: pa.DataType) -> Step:
        # ``column`` is a constant (see _input): every row counts.
        return Step(name, column, "count", pc.CountOptions("all"), cast_result_to(pa.int64()))


class CountDistinct(Count):
    """Distinct non-null values: partials keep each group's distinct values."""

    name = "count_distinct"

    def output_type(self, kind: pa.DataType) -> pa.DataType:
        if pa.types.is_nested(kind):
            raise TypeError(f"{self.name} is not supported for nested type {kind}")
        return pa.int64()

    def values(self, column: pa.ChunkedArray) -> pa.ChunkedArray:
        return zero_without_sign(super().values(column))

    def direct(self, name: str, column: pa.ChunkedArray, out_type: pa.DataType) -> Step:
        values = self.values(column)
        return Step(name, values, "count_distinct", _VALID, cast_result_to(pa.int64()))

    def partial(self, name: Namer, column: pa.ChunkedArray, out_type: pa.DataType) -> list[Step]:
        return [Step(name("distinct"), self.values(column), "distinct", _VALID, _as_is)]

    def combine(self, name: Namer, part: Parts) -> list[Step]:
        return []

    def finalize(self, results: list[pa.Array], part: Parts, groups: Groups) -> pa.Array:
        return _merge_distinct(part("distinct"), groups)


class ApproxCountDistinct(CountDistinct):
    """Computed exactly (as count_distinct)."""

    name = "approx_count_distinct"


class Mean(Aggregation):
    """In float64; partials are the sum and the count of non-null values. The mean of
    a decimal(p, s) is a decimal(38, s + 4) (76 digits for decimal256), truncated, as
    Daft's."""

    name = "mean"

    def output_type(self, kind: pa.DataType) -> pa.DataType:
        if not is_numeric(kind):
            raise TypeError(f"{self.name} needs a numeric column, got {kind}")
        return mean_decimal_type(kind) if pa.types.is_decimal(kind) else pa.float64()

    def values(self, column: pa.ChunkedArray) -> pa.ChunkedArray:
        column = _decoded(column)
        if pa.types.is_decimal(column.type):
            return column.cast(mean_decimal_type(column.type))
        return column.cast(pa.float64())

    def one_phase(self, kind: pa.DataType) -> bool:
        return not pa.types.is_decimal(kind)  # Arrow's decimal mean rounds; Daft truncates

    def direct(self, name: str, column: pa.ChunkedArray, out_type: pa.DataType) -> Step:
        return Step(name, self.values(column), "mean", _SKIP_NULLS, cast_result_to(out_type))

    def partial(self, name: Namer, column: pa.ChunkedArray, out_type: pa.DataType) -> list[Step]:
        values = self.values(column)
        total = values.type if pa.types.is_decimal(values.type) else pa.float64()
        return [
            Step(name("sum"), values, "sum", _SKIP_NULLS, cast_result_to(total)),
            Step(name("count"), column, "count", _VALID, cast_result_to(pa.int64())),
        ]

    def combine(self, name: Namer, part: Parts) -> list[Step]:
        total = part("sum").type
        exact = pa.types.is_decimal(total)
        count = cast_result_to(pa.int64() if exact else pa.float64())
        return [
            Step(name("sum"), part("sum"), "sum", _SKIP_NULLS, cast_result_to(total)),
            Step(name("count"), part("count"), "sum", None, count),
        ]

    def finalize(self, results: list[pa.Array], part: Parts, groups: Groups) -> pa.Array:
        total, count = results
        if pa.types.is_decimal(total.type):
            return divide_decimal(total, count)
        return pc.if_else(pc.greater(count, 0), pc.divide(total, count), None)

    def final_type(self, part_type: Callable[[str], pa.DataType]) -> pa.DataType:
        total = part_type("sum")
        return total if pa.types.is_decimal(total) else pa.float64()


@dataclass(frozen=True)
class Stddev(Mean):
    """The deviation with divisor ``n - ddof`` (default 1: the sample deviation), null
    for ``n <= ddof``, in float64 (decimals too, as Daft); partials are count, mean
    and population variance per partition, merged with Chan's formula."""

    name: ClassVar[str] = "stddev"
    ddof: int = 1
    root: ClassVar[bool] = True
    kernel: ClassVar[str] = "stddev"

    def configured(self, options: dict[str, Any]) -> Aggregation:
        unknown = set(options) - {"ddof"}
        if unknown:
            raise ValueError(f"aggregation {self.name!r} takes ddof=, got {sorted(unknown)}")
        return dataclasses.replace(self, ddof=int(options.get("ddof", 1)))

    def output_type(self, kind: pa.DataType) -> pa.DataType:
        if not is_numeric(kind):
            raise TypeError(f"{self.name} needs a numeric column, got {kind}")
        return pa.float64()

    def values(self, column: pa.ChunkedArray) -> pa.ChunkedArray:
        return _decoded(column).cast(pa.float64())

    def one_phase(self, kind: pa.DataType) -> bool:
        return True

    def direct(self, name: str, column: pa.ChunkedArray, out_type: pa.DataType) -> Step:
        values, ddof = self.values(column), pc.VarianceOptions(ddof=self.ddof)
        return Step(name, values, self.kernel, ddof, cast_result_to(out_type))

    def partial(self, name: Namer, column: pa.ChunkedArray, out_type: pa.DataType) -> list[Step]:
        values, float64 = self.values(column), cast_result_to(pa.float64())
        return [
            Step(name("count"), column, "count", _VALID, cast_result_to(pa.int64())),
            Step(name("mean"), values, "mean", _SKIP_NULLS, float64),
            Step(name("var"), values, "variance", pc.VarianceOptions(ddof=0), float64),
        ]

    def combine(self, name: Namer, part: Parts) -> list[Step]:
        return []

    def finalize(self, results: list[pa.Array], part: Parts, groups: Groups) -> pa.Array:
        return _merge_moments(
            part("count"), part("mean"), part("var"), groups, self.ddof, self.root
        )

    def final_type(self, part_type: Callable[[str], pa.DataType]) -> pa.DataType:
        return pa.float64()


@dataclass(frozen=True)
class Var(Stddev):
    """The variance with divisor ``n - ddof`` (default 1); see :class:`Stddev`."""

    name: ClassVar[str] = "var"
    root: ClassVar[bool] = False
    kernel: ClassVar[str] = "variance"


class AnyValue(Aggregation):
    """Some non-null value of the group (the first one pyarrow meets)."""

    name = "any_value"

    def direct(self, name: str, column: pa.ChunkedArray, out_type: pa.DataType) -> Step:
        values = self.values(column)
        if _first_supported(values.type):
            return Step(name, values, "first", _SKIP_NULLS, cast_result_to(out_type))
        # Other types: the smallest row index holding a value, then take that value.
        rows = row_index(len(values))
        valid_rows = pc.if_else(pc.is_valid(values), rows, pa.scalar(None, pa.int64()))

        def finish(found: pa.ChunkedArray) -> pa.Array:
            return cast_result(take_values(values, found), out_type)

        return Step(name, valid_rows, "min", _SKIP_NULLS, finish)

    def partial(self, name: Namer, column: pa.ChunkedArray, out_type: pa.DataType) -> list[Step]:
        return [self.direct(name("any"), column, out_type)]

    def combine(self, name: Namer, part: Parts) -> list[Step]:
        values = part("any")
        return [self.direct(name("any"), values, values.type)]

    def final_type(self, part_type: Callable[[str], pa.DataType]) -> pa.DataType:
        return part_type("any")


class AggList(Aggregation):
    """Every value of the group, nulls included, in input (partition) order."""

    name = "agg_list"

    def output_type(self, kind: pa.DataType) -> pa.DataType:
        return pa.list_(kind)

    def values(self, column: pa.ChunkedArray) -> pa.ChunkedArray:
        column = _decoded(column)
        if pa.types.is_null(column.type):
            return column  # a list of nulls stays a list<null>
        return super().values(column)

    def direct(self, name: str, column: pa.ChunkedArray, out_type: pa.DataType) -> Step:
        values = self.values(column)
        if not pa.types.is_nested(values.type) and values.type not in VIEW_TO_LARGE:
            return Step(name, values, "list", None, cast_result_to(out_type))
        # Other types: lists of row indices, then take the values.

        def finish(found: pa.ChunkedArray) -> pa.Array:
            return cast_result(_take_lists(values, found), out_type)

        return Step(name, row_index(len(values)), "list", None, finish)

    def partial(self, name: Namer, column: pa.ChunkedArray, out_type: pa.DataType) -> list[Step]:
        return [self.direct(name("list"), column, out_type)]

    def finalize(self, results: list[pa.Array], part: Parts, groups: Groups) -> pa.Array:
        return _merge_lists(part("list"), groups)

    def final_type(self, part_type: Callable[[str], pa.DataType]) -> pa.DataType:
        return part_type("list")


@dataclass(frozen=True)
class StringAgg(AggList):
    """The group's non-null strings joined by ``delimiter`` (default none), in input
    order; null for a group without strings. Partials are lists, as ``agg_list``'s."""

    name: ClassVar[str] = "string_agg"
    delimiter: str = ""

    def configured(self, options: dict[str, Any]) -> Aggregation:
        unknown = set(options) - {"delimiter"}
        if unknown:
            raise ValueError(f"string_agg takes delimiter=, got {sorted(unknown)}")
        return dataclasses.replace(self, delimiter=options.get("delimiter") or "")

    def output_type(self, kind: pa.DataType) -> pa.DataType:
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            if kind not in VIEW_TO_LARGE or pa.types.is_binary_view(kind):
                raise TypeError(f"string_agg needs a string column, got {kind}")
            return pa.large_string()
        return kind

    def direct(self, name: str, column: pa.ChunkedArray, out_type: pa.DataType) -> Step:
        lists = super().direct(name, column, pa.list_(out_type))

        def finish(found: pa.ChunkedArray) -> pa.Array:
            return join_string_lists(lists.finish(found), self.delimiter, out_type)

        return dataclasses.replace(lists, finish=finish)

    def partial(self, name: Namer, column: pa.ChunkedArray, out_type: pa.DataType) -> list[Step]:
        return [AggList.direct(self, name("list"), column, pa.list_(out_type))]

    def finalize(self, results: list[pa.Array], part: Parts, groups: Groups) -> pa.Array:
        lists = _merge_lists(part("list"), groups)
        return join_string_lists(lists, self.delimiter, lists.type.value_type)

    def final_type(self, part_type: Callable[[str], pa.DataType]) -> pa.DataType:
        return part_type("list").value_type


#: Every aggregation by name; ``AggSpec.op`` and ``AggExpr.op`` name one of them.
AGGREGATIONS: dict[str, Aggregation] = {
    a.name: a
    for a in (
        Sum(),
        Mean(),
        Min(),
        Max(),
        Count(),
        CountAll(),
        CountDistinct(),
        ApproxCountDistinct(),
        AnyValue(),
        AggList(),
        Stddev(),
        Var(),
        StringAgg(),
    )
}
AGG_OPS = tuple(AGGREGATIONS)


def aggregation(op: str) -> Aggregation:
    """The :class:`Aggregation` called ``op``; ValueError naming the choices otherwise.

    >>> aggregation("sum").output_type(pa.int8())
    DataType(int64)
    """
    try:
        return AGGREGATIONS[op]
    except KeyError:
        raise ValueError(
            f"unknown aggregation {op!r}; choose one of {', '.join(AGG_OPS)}"
        ) from None


@dataclass(frozen=True, slots=True)
class AggSpec:
    """One aggregation: ``op`` over ``column``, written to output column ``name``."""

    op: str
    column: str | None
    name: str
    options: tuple = ()

    def __post_init__(self) -> None:
        agg = aggregation(self.op)  # raises naming the aggregations
        if self.column is None and agg.needs_column:
            raise ValueError(f"aggregation {self.op!r} needs a column")

    @property
    def aggregation(self) -> Aggregation:
        """The aggregation with this spec's options (e.g. ``stddev`` with its ddof)."""
        return aggregation(self.op).configured(dict(self.options))


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
        decimal128(38, s) / decimal256(76, s). mean: float64, or decimal(38, s + 4) of
        a decimal. stddev/var: float64. min/max/any_value: the input type (a
        dictionary's value type). agg_list: ``list<input type>``. string_agg: the
        string type.

    Raises
    ------
    TypeError
        The op is not defined for the type (e.g. ``sum`` of strings).
    """
    agg = aggregation(op)
    if input_type is None:
        if not agg.needs_column:
            return pa.int64()
        raise TypeError(f"aggregation {op!r} needs an input column")
    return agg.output_type(
        input_type.value_type if pa.types.is_dictionary(input_type) else input_type
    )
