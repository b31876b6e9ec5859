"""Logical plan nodes: immutable, typed, schema resolved when built.

A node declares its behaviour with class flags (``is_narrow``) that the
optimizer rules and the lowering read. The logical plan never says *how*: join
strategy, aggregation phases and partition counts are chosen when lowering.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from spillframe.errors import ExpressionTypeError, SchemaError, missing_column_message
from spillframe.expr.evaluate import resolve_field, resolve_type
from spillframe.expr.expression import AggExpr, Alias, Expression, UdfCall, cacheable_key
from spillframe.io.scan import ScanFormat, scan_format
from spillframe.kernels.join import common_key_type, join_output_schema
from spillframe.resources import ResourceRequest

JOIN_HOWS = ("inner", "left", "right", "outer", "semi", "anti", "cross")
JOIN_STRATEGIES = (None, "hash", "broadcast")


@dataclass(frozen=True, eq=False)
class LogicalPlan:
    """Base class of logical nodes; ``schema`` is computed once in ``__post_init__``."""

    is_narrow: ClassVar[bool] = True
    schema: pa.Schema = field(init=False, repr=False)

    def children(self) -> tuple[LogicalPlan, ...]:
        return ()

    def with_children(self, children: tuple[LogicalPlan, ...]) -> LogicalPlan:
        return self

    def _compute_schema(self) -> pa.Schema:
        raise NotImplementedError(type(self).__name__)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", self._compute_schema())

    @functools.cached_property
    def key(self) -> tuple[Any, ...] | None:
        """The structural key, computed once: equal keys mean equal subtrees (the same
        operators with the same expressions, names included, options and sources, with
        in-memory tables by identity). None for a subtree that calls Python functions,
        whose results may differ per call.

        The optimizer keeps repeated subtrees identical (``pushdown_projections``) and
        leaves reused aggregations whole (``reduce_grouped_sides``); the lowering
        computes a repeated subtree once (``physical.shared``). All of them compare
        subtrees by this key; a node's key reads its children's, so a plan is keyed in
        one walk however many rules ask.
        """
        parts: list[Any] = [type(self).__name__]
        for f in dataclasses.fields(self):
            if f.init:
                value = _key_of(getattr(self, f.name))
                if value is _UNKEYABLE:
                    return None
                parts.append((f.name, value))
        return tuple(parts)

    def walk(self) -> Iterator[LogicalPlan]:
        yield self
        for child in self.children():
            yield from child.walk()

    def describe(self) -> str:
        """One line for ``explain``."""
        return type(self).__name__

    def replace(self, **changes: Any) -> LogicalPlan:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        values.update(changes)
        return type(self)(**values)


_UNKEYABLE = object()


def _key_of(value: Any) -> Any:
    """The part of a node's structural key for one field value."""
    if isinstance(value, LogicalPlan):
        return _UNKEYABLE if value.key is None else value.key
    if isinstance(value, Expression):
        key = cacheable_key(value)
        return _UNKEYABLE if key is None else key
    if isinstance(value, (tuple, list)):
        items = tuple(_key_of(v) for v in value)
        return _UNKEYABLE if any(i is _UNKEYABLE for i in items) else items
    if isinstance(value, pa.Table):
        return ("table", id(value))  # the same in-memory data (the node holds it), not equal data
    if isinstance(value, (pa.Schema, pa.DataType)):
        return str(value)
    try:
        hash(value)
    except TypeError:
        return ("object", id(value))
    return value


@dataclass(frozen=True, eq=False)
class _Unary(LogicalPlan):
    child: LogicalPlan

    def children(self) -> tuple[LogicalPlan, ...]:
        return (self.child,)

    def with_children(self, children: tuple[LogicalPlan, ...]) -> LogicalPlan:
        return self if children[0] is self.child else self.replace(child=children[0])

    def _compute_schema(self) -> pa.Schema:
        """Row-wise operators keep their input's schema unless they say otherwise."""
        return self.child.schema


def check_scalar_keys(operation: str, keys: list[tuple[str, pa.DataType]]) -> None:
    """Raise ExpressionTypeError for a list, struct or map key: rows are hashed, compared
    and sorted by key values, which Arrow's kernels only do for scalar types."""
    for name, kind in keys:
        if isinstance(kind, pa.ExtensionType):
            raise ExpressionTypeError(
                f"cannot {operation} {name!r}: it holds {kind} values (e.g. Python "
                "objects), which cannot be hashed, compared or sorted; derive a scalar key "
                "from it with .apply(..., return_dtype=DataType.string()) first"
            )
        if pa.types.is_nested(kind):
            raise ExpressionTypeError(
                f"cannot {operation} {name!r}: it is a {kind} column, and keys must hold "
                "scalar values (numbers, strings, dates...); explode() it first, or derive "
                "a scalar key from it (e.g. col(...).list.join(','))"
            )


def check_columns(names: list[str] | tuple[str, ...], schema: pa.Schema) -> None:
    """Raise SchemaError for the first name not in ``schema``."""
    for name in names:
        if schema.get_field_index(name) < 0:
            raise SchemaError(missing_column_message(name, schema.names))


@dataclass(frozen=True, eq=False)
class InMemorySource(LogicalPlan):
    """Partitions already in memory (from_* or a collected DataFrame's cache)."""

    partitions: tuple[pa.Table, ...]
    source_schema: pa.Schema

    def _compute_schema(self) -> pa.Schema:
        return self.source_schema

    def describe(self) -> str:
        rows = sum(p.num_rows for p in self.partitions)
        return f"InMemorySource: {len(self.partitions)} partitions, {rows} rows"


@dataclass(frozen=True, eq=False)
class ScanSource(LogicalPlan):
    """Files to read; the optimizer pushes projections, filters and limits into it."""

    format: str
    paths: tuple[str, ...]
    file_schema: pa.Schema
    options: tuple[tuple[str, Any], ...] = ()
    columns: tuple[str, ...] | None = None
    predicate: Expression | None = None
    limit: int | None = None

    def _compute_schema(self) -> pa.Schema:
        scan_format(self.format)  # raises naming the known formats
        if self.columns is None:
            return self.file_schema
        return pa.schema([self.file_schema.field(c) for c in self.columns])

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def scan_format(self) -> ScanFormat:
        """The format object that answers pushdown questions and plans the tasks."""
        return scan_format(self.format)

    def describe(self) -> str:
        parts = [f"Scan{self.format.capitalize()}: {len(self.paths)} path(s)"]
        if self.columns is not None:
            parts.append(f"columns=[{', '.join(self.columns)}]")
        if self.predicate is not None:
            parts.append(f"predicate={self.predicate!r}")
        if self.limit is not None:
            parts.append(f"limit={self.limit}")
        return ", ".join(parts)


@dataclass(frozen=True, eq=False)
class Project(_Unary):
    """Compute ``exprs`` (one output column each) from the child's columns."""

    exprs: tuple[Expression, ...] = ()

    def _compute_schema(self) -> pa.Schema:
        fields = []
        for expr in self.exprs:
            if expr.has_agg():
                raise SchemaError(f"aggregation {expr!r} is only allowed inside agg()")
            fields.append(resolve_field(expr, self.child.schema))
        names = [f.name for f in fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SchemaError(
                f"duplicate output column(s) {duplicates}; give each expression a unique "
                "name with .alias()"
            )
        return pa.schema(fields)

    def resources(self) -> ResourceRequest:
        """The largest request of the UDFs this projection calls."""
        request = ResourceRequest(num_cpus=1)
        for expr in self.exprs:
            for node in expr.walk():
                if isinstance(node, UdfCall):
                    request = request.max(node.udf.resources)
        return request

    def udf_labels(self) -> list[str]:
        return [node.udf.name for e in self.exprs for node in e.walk() if isinstance(node, UdfCall)]

    def describe(self) -> str:
        return f"Project: {', '.join(map(repr, self.exprs))}"


@dataclass(frozen=True, eq=False)
class Filter(_Unary):
    """Keep rows where ``predicate`` is true."""

    predicate: Expression | None = None

    def _compute_schema(self) -> pa.Schema:
        if self.predicate is None:
            raise ValueError("Filter needs a predicate")
        if self.predicate.has_agg():
            raise SchemaError(f"aggregation {self.predicate!r} is not allowed in where()")
        dtype = resolve_type(self.predicate, self.child.schema)
        if not (pa.types.is_boolean(dtype) or pa.types.is_null(dtype)):
            raise SchemaError(
                f"where() needs a boolean expression, got {self.predicate!r} of type {dtype}"
            )
        return self.child.schema

    def describe(self) -> str:
        return f"Filter: {self.predicate!r}"


@dataclass(frozen=True, eq=False)
class Limit(_Unary):
    """The first ``n`` rows."""

    n: int = 0

    def describe(self) -> str:
        return f"Limit: {self.n}"


@dataclass(frozen=True, eq=False)
class Write(_Unary):
    """Write the child's rows as ``file_format`` files into ``staging``; the output is
    one row per written file (its path relative to ``staging``). Staging and publishing
    the files is :mod:`spillframe.io.write`'s; this node makes a write one more stage of
    the query's plan, planned and run like every other eager call."""

    is_narrow: ClassVar[bool] = False
    file_format: str = "parquet"
    staging: str = ""
    partition_cols: tuple[str, ...] = ()
    options: tuple[tuple[str, Any], ...] = ()

    def _compute_schema(self) -> pa.Schema:
        check_columns(self.partition_cols, self.child.schema)
        return pa.schema([pa.field("path", pa.string())])

    def describe(self) -> str:
        by = f" partitioned by {', '.join(self.partition_cols)}" if self.partition_cols else ""
        return f"Write{self.file_format.capitalize()}{by}"


@dataclass(frozen=True, eq=False)
class Explode(_Unary):
    """One row per list element of ``columns`` (lists of a row must have equal lengths)."""

    columns: tuple[str, ...] = ()

    def _compute_schema(self) -> pa.Schema:
        check_columns(self.columns, self.child.schema)
        schema = self.child.schema
        for name in self.columns:
            i = schema.get_field_index(name)
            t = schema.field(i).type
            if not (
                pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
            ):
                raise SchemaError(f"explode needs list columns; {name!r} is {t}")
            schema = schema.set(i, pa.field(name, t.value_type))
        return schema

    def describe(self) -> str:
        return f"Explode: {', '.join(self.columns)}"


@dataclass(frozen=True, eq=False)
class Sample(_Unary):
    """A Bernoulli sample of about ``fraction`` of the rows."""

    fraction: float = 0.0
    seed: int | None = None

    def describe(self) -> str:
        return f"Sample: fraction={self.fraction}, seed={self.seed}"


@dataclass(frozen=True, eq=False)
class IntoPartitions(_Unary):
    """Split or merge partitions into exactly ``n`` without a shuffle."""

    n: int = 1

    def describe(self) -> str:
        return f"IntoPartitions: {self.n}"


@dataclass(frozen=True, eq=False)
class Repartition(_Unary):
    """Hash-shuffle on ``keys`` (random when none) into ``n`` partitions (auto when None)."""

    n: int | None = None
    keys: tuple[Expression, ...] = ()
    seed: int | None = None

    is_narrow: ClassVar[bool] = False

    def _compute_schema(self) -> pa.Schema:
        check_scalar_keys(
            "repartition by",
            [(k.output_name(), resolve_type(k, self.child.schema)) for k in self.keys],
        )
        return self.child.schema

    def describe(self) -> str:
        keys = ", ".join(map(repr, self.keys)) or "random"
        return f"Repartition: n={self.n}, by {keys}"


@dataclass(frozen=True, eq=False)
class Concat(LogicalPlan):
    """The rows of ``left`` followed by the rows of ``right`` (same schema)."""

    left: LogicalPlan
    right: LogicalPlan

    def children(self) -> tuple[LogicalPlan, ...]:
        return (self.left, self.right)

    def with_children(self, children: tuple[LogicalPlan, ...]) -> LogicalPlan:
        if children[0] is self.left and children[1] is self.right:
            return self
        return Concat(children[0], children[1])

    def _compute_schema(self) -> pa.Schema:
        if not self.left.schema.equals(self.right.schema):
            raise SchemaError(
                f"concat needs equal schemas; left has {_schema_text(self.left.schema)} and "
                f"right has {_schema_text(self.right.schema)}"
            )
        return self.left.schema

    def describe(self) -> str:
        return "Concat"


def _schema_text(schema: pa.Schema) -> str:
    return "[" + ", ".join(f"{f.name}: {f.type}" for f in schema) + "]"


def unwrap_agg(expr: Expression) -> AggExpr:
    """The AggExpr inside ``expr`` (an AggExpr, possibly aliased); SchemaError otherwise."""
    root = expr.child if isinstance(expr, Alias) else expr
    if not isinstance(root, AggExpr):
        raise SchemaError(
            f"{expr!r} is not an aggregation; use e.g. col(...).sum() in agg(), "
            "optionally with .alias()"
        )
    return root


@dataclass(frozen=True, eq=False)
class Aggregate(_Unary):
    """Group by ``keys`` (none: one global row) and compute ``aggs``."""

    keys: tuple[Expression, ...] = ()
    aggs: tuple[Expression, ...] = ()

    is_narrow: ClassVar[bool] = False

    def _compute_schema(self) -> pa.Schema:
        fields = [resolve_field(k, self.child.schema) for k in self.keys]
        check_scalar_keys("group by", [(f.name, f.type) for f in fields])
        for key in self.keys:
            if key.has_agg():
                raise SchemaError(f"group key {key!r} cannot contain an aggregation")
        for agg in self.aggs:
            root = unwrap_agg(agg)
            if root.child.has_agg():
                raise SchemaError(f"nested aggregation in {agg!r}")
            fields.append(resolve_field(agg, self.child.schema))
        names = [f.name for f in fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SchemaError(f"duplicate output column(s) {duplicates} in agg(); use .alias()")
        return pa.schema(fields)

    def describe(self) -> str:
        keys = ", ".join(map(repr, self.keys))
        return f"Aggregate: {', '.join(map(repr, self.aggs))}" + (f" by {keys}" if keys else "")


@dataclass(frozen=True, eq=False)
class Distinct(_Unary):
    """Drop duplicate rows, comparing the columns ``on`` (all when empty)."""

    on: tuple[str, ...] = ()

    is_narrow: ClassVar[bool] = False

    def _compute_schema(self) -> pa.Schema:
        check_columns(self.on, self.child.schema)
        schema = self.child.schema
        if not self.on:
            nested = [
                f.name
                for f in schema
                if pa.types.is_nested(f.type) or isinstance(f.type, pa.ExtensionType)
            ]
            scalar = [n for n in schema.names if n not in nested] or ["id"]
            if nested:
                raise ExpressionTypeError(
                    f"distinct() compares whole rows, and column {nested[0]!r} holds "
                    f"{schema.field(nested[0]).type} values, which cannot be compared; pass "
                    f"the columns to compare, e.g. distinct({scalar[0]!r})"
                )
        check_scalar_keys("compare rows on", [(n, schema.field(n).type) for n in self.on])
        return schema

    def describe(self) -> str:
        return f"Distinct: {', '.join(self.on) or 'all columns'}"


@dataclass(frozen=True, eq=False)
class Sort(_Unary):
    """Order rows by ``keys`` with a direction and null placement per key."""

    keys: tuple[Expression, ...] = ()
    descending: tuple[bool, ...] = ()
    nulls_first: tuple[bool, ...] = ()

    is_narrow: ClassVar[bool] = False

    def _compute_schema(self) -> pa.Schema:
        check_scalar_keys(
            "sort by", [(k.output_name(), resolve_type(k, self.child.schema)) for k in self.keys]
        )
        return self.child.schema

    def describe(self) -> str:
        keys = ", ".join(
            f"{k!r} {'desc' if d else 'asc'}{' nulls first' if n else ''}"
            for k, d, n in zip(self.keys, self.descending, self.nulls_first)
        )
        return f"Sort: {keys}"


@dataclass(frozen=True, eq=False)
class TopK(_Unary):
    """The first ``k`` rows of a sort (a sort followed by a limit)."""

    keys: tuple[Expression, ...] = ()
    descending: tuple[bool, ...] = ()
    nulls_first: tuple[bool, ...] = ()
    k: int = 0

    is_narrow: ClassVar[bool] = False

    def describe(self) -> str:
        return f"TopK: k={self.k}, by {', '.join(map(repr, self.keys))}"


@dataclass(frozen=True, eq=False)
class Join(LogicalPlan):
    """Join ``left`` and ``right`` on key columns; strategy is chosen when lowering
    (the user's ``strategy``, "hash" or "broadcast", only constrains the choice).

    ``reduction`` marks a semi join that the optimizer added to filter rows a later
    join drops anyway (``optimizer.rules.reduce_grouped_sides``): the query's result
    does not depend on it, so the lowering runs it only where it is expected to pay.
    """

    left: LogicalPlan
    right: LogicalPlan
    left_on: tuple[str, ...]
    right_on: tuple[str, ...]
    how: str = "inner"
    strategy: str | None = None
    prefix: str = "right."
    suffix: str | None = None
    reduction: bool = False

    is_narrow: ClassVar[bool] = False

    def children(self) -> tuple[LogicalPlan, ...]:
        return (self.left, self.right)

    def with_children(self, children: tuple[LogicalPlan, ...]) -> LogicalPlan:
        if children[0] is self.left and children[1] is self.right:
            return self
        return self.replace(left=children[0], right=children[1])

    def _compute_schema(self) -> pa.Schema:
        if self.how not in JOIN_HOWS:
            raise ValueError(f"join how must be one of {list(JOIN_HOWS)}, got {self.how!r}")
        if self.strategy not in JOIN_STRATEGIES:
            raise ValueError(
                f"join strategy must be one of {list(JOIN_STRATEGIES)}, got {self.strategy!r}"
            )
        if self.reduction and (self.how != "semi" or self.strategy is not None):
            raise ValueError("a reducing join is a semi join with no strategy of its own")
        check_columns(self.left_on, self.left.schema)
        check_columns(self.right_on, self.right.schema)
        if len(self.left_on) != len(self.right_on):
            raise ValueError(
                f"join needs as many left_on as right_on columns, got "
                f"{list(self.left_on)} and {list(self.right_on)}"
            )
        for lname, rname in zip(self.left_on, self.right_on):
            ltype = self.left.schema.field(lname).type
            rtype = self.right.schema.field(rname).type
            check_scalar_keys("join on", [(lname, ltype), (rname, rtype)])
            if common_key_type(ltype, rtype) is None:
                raise ExpressionTypeError(
                    f"cannot join left key {lname!r} ({ltype}) with right key {rname!r} "
                    f"({rtype}); cast one side with .cast() so both have one type"
                )
        return join_output_schema(
            self.left.schema,
            self.right.schema,
            list(self.left_on),
            list(self.right_on),
            self.how,
            self.prefix,
            self.suffix,
        )

    def describe(self) -> str:
        keys = ", ".join(f"{a}={b}" for a, b in zip(self.left_on, self.right_on))
        strategy = f", strategy={self.strategy}" if self.strategy else ""
        reduction = ", optional reduction" if self.reduction else ""
        return f"Join: how={self.how}, on [{keys}]{strategy}{reduction}"
