"""Type resolution (while a plan is built) and evaluation (while it runs)."""

from __future__ import annotations

import functools
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from spillframe.datatype import to_array
from spillframe.errors import ExpressionTypeError, SchemaError, UDFError, missing_column_message
from spillframe.expr.expression import (
    AggExpr,
    Alias,
    Cast,
    Column,
    Expression,
    Function,
    Literal,
    PyApply,
    UdfCall,
    cacheable_key,
)
from spillframe.expr.functions import call, result_type
from spillframe.kernels.aggregations import agg_output_type


def resolve_type(expr: Expression, schema: pa.Schema) -> pa.DataType:
    """The type ``expr`` produces on a table of ``schema``.

    Raises
    ------
    SchemaError
        A referenced column does not exist (the message lists the columns).
    ExpressionTypeError
        A function does not accept its argument types (the message names both).
    """
    if isinstance(expr, Column):
        index = schema.get_field_index(expr.name)
        if index < 0:
            raise SchemaError(missing_column_message(expr.name, schema.names))
        return schema.field(index).type
    if isinstance(expr, Literal):
        return expr.value.type
    if isinstance(expr, Alias):
        return resolve_type(expr.child, schema)
    if isinstance(expr, Cast):
        source = resolve_type(expr.child, schema)
        _check_cast(expr, source)
        return expr.dtype
    if isinstance(expr, Function):
        kinds = [
            ("scalar" if isinstance(a, Literal) else "array", resolve_type(a, schema))
            for a in expr.args
        ]
        try:
            return result_type(expr.fn, kinds, expr.options)
        except TypeError as exc:
            types = " and ".join(f"{a!r} ({t})" for a, (_, t) in zip(expr.args, kinds))
            raise ExpressionTypeError(
                f"cannot apply {expr.fn} to {types} in {expr!r}: {exc}"
            ) from None
    if isinstance(expr, AggExpr):
        child = resolve_type(expr.child, schema)
        try:
            return agg_output_type(expr.op, child)
        except (TypeError, ValueError) as exc:
            raise ExpressionTypeError(f"cannot compute {expr!r} on type {child}: {exc}") from None
    if isinstance(expr, PyApply):
        resolve_type(expr.child, schema)
        return expr.return_dtype
    if isinstance(expr, UdfCall):
        for arg in expr.args:
            resolve_type(arg, schema)
        return expr.udf.return_dtype
    raise TypeError(f"unknown expression {expr!r}")


def _check_cast(expr: Cast, source: pa.DataType) -> None:
    try:
        pc.cast(pa.array([], type=source), expr.dtype)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        raise ExpressionTypeError(
            f"cannot cast {expr.child!r} from {source} to {expr.dtype}"
        ) from None


def resolve_field(expr: Expression, schema: pa.Schema) -> pa.Field:
    """The output field (name and type) of a projected expression."""
    return pa.field(expr.output_name(), resolve_type(expr, schema))


@functools.lru_cache(maxsize=4096)
def value_key(expr: Expression) -> tuple[Any, ...] | None:
    """:func:`~spillframe.expr.expression.cacheable_key` without an outer alias: a key
    equal for expressions that compute the same values whatever they are named.

    >>> from spillframe import col, lit
    >>> value_key(col("a") + 1) == value_key((col("a") + lit(1)).alias("b"))
    True
    """
    return cacheable_key(expr.child if isinstance(expr, Alias) else expr)


def evaluate(expr: Expression, table: pa.Table, memo: dict[Any, Any] | None = None) -> Any:
    """Evaluate ``expr`` on ``table``; returns a (chunked) array or a scalar.

    ``memo`` (one dict per table) keeps computed subexpressions, so that expressions
    evaluated on the same table share common parts (``price * (1 - discount)`` in
    both a revenue and a charge column is computed once).
    """
    if isinstance(expr, Column):
        return table.column(expr.name)
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Alias):
        return evaluate(expr.child, table, memo)
    if memo is not None and isinstance(expr, (Cast, Function)):
        key = value_key(expr)
        if key is not None:
            if key not in memo:
                memo[key] = _evaluate_call(expr, table, memo)
            return memo[key]
    if isinstance(expr, (Cast, Function)):
        return _evaluate_call(expr, table, memo)
    if isinstance(expr, PyApply):
        values = evaluate(expr.child, table, memo)
        return _apply_rowwise(expr, values, table.num_rows)
    if isinstance(expr, UdfCall):
        args = [evaluate(a, table, memo) for a in expr.args]
        return expr.udf.evaluate(expr, args, table.num_rows)
    if isinstance(expr, AggExpr):
        raise SchemaError(f"aggregation {expr!r} is only allowed inside agg()")
    raise TypeError(f"unknown expression {expr!r}")


def _evaluate_call(expr: Cast | Function, table: pa.Table, memo: dict[Any, Any] | None) -> Any:
    if isinstance(expr, Cast):
        return _cast(expr, evaluate(expr.child, table, memo))
    return call(expr.fn, [evaluate(a, table, memo) for a in expr.args], expr.kwargs)


def _cast(expr: Cast, values: Any) -> Any:
    """Cast for ``Expression.cast``; integers reach a decimal by value, not by type.

    Arrow sizes an integer-to-decimal cast by the integer type (int64 needs 19 digits),
    so ``cast(decimal128(10, 2))`` of small int64 values would fail; going through the
    widest decimal checks each value instead.
    """
    dtype = expr.dtype
    if not (pa.types.is_integer(values.type) and pa.types.is_decimal(dtype)):
        return pc.cast(values, dtype, safe=False)
    wide = (
        pa.decimal128(38, dtype.scale)
        if pa.types.is_decimal128(dtype)
        else pa.decimal256(76, dtype.scale)
    )
    try:
        return pc.cast(pc.cast(values, wide), dtype)
    except pa.ArrowInvalid as exc:
        raise ValueError(f"cannot cast {expr.child!r} to {dtype}: {exc}") from None


def _apply_rowwise(expr: PyApply, values: Any, num_rows: int) -> pa.Array:
    scalar = isinstance(values, pa.Scalar)
    try:
        results = [expr.func(v) for v in ([values.as_py()] if scalar else values.to_pylist())]
    except Exception as exc:  # the user's function: name it (runners add where it ran)
        raise UDFError(f"apply({getattr(expr.func, '__name__', expr.func)})", exc) from exc
    try:
        array = to_array(results, expr.return_dtype)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as exc:
        bad = next((r for r in results if not _fits(r, expr.return_dtype)), None)
        raise TypeError(
            f"{expr!r} returned {bad!r} ({type(bad).__name__}), which is not a "
            f"{expr.return_dtype}: {exc}; fix the function or its return_dtype"
        ) from None
    return array.take(pa.array([0] * num_rows, pa.int64())) if scalar else array


def _fits(value: Any, dtype: pa.DataType) -> bool:
    try:
        pa.scalar(value, type=dtype)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return False
    return True


def evaluate_column(
    expr: Expression, table: pa.Table, dtype: pa.DataType, memo: dict[Any, Any] | None = None
) -> pa.ChunkedArray:
    """Evaluate to a column of ``table.num_rows`` values of exactly ``dtype``."""
    value = evaluate(expr, table, memo)
    if isinstance(value, pa.Scalar):
        value = pa.repeat(value, table.num_rows)
    if value.type != dtype:
        value = value.cast(dtype)
    if isinstance(value, pa.Array):
        value = pa.chunked_array([value], type=dtype)
    return value
