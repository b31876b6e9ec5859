"""The type rules every layer shares: view types, time units, join keys, sums.

Expressions type their results, the logical plan checks join keys, kernels cast and
the scans normalize what they read; each of them asks these functions, so that a
rule (which type a string_view computes as, which unit two timestamps compare at) is
written once.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

#: Time units from coarsest to finest.
TIME_UNITS = ("s", "ms", "us", "ns")


def finer_time_unit(a: str, b: str) -> str:
    """The finer of two time units: where timestamps of both compare without loss.

    >>> finer_time_unit("ms", "us")
    'us'
    """
    return max(a, b, key=TIME_UNITS.index)


# -- view types -----------------------------------------------------------------------


def normalize_type(dtype: pa.DataType) -> pa.DataType:
    """``string_view`` -> ``string`` and ``binary_view`` -> ``binary``, also inside lists
    and structs; other types pass through unchanged.

    pyarrow's compute kernels do not all accept view types yet, so spillframe casts
    them once where data enters a plan.
    """
    if dtype == pa.string_view():
        return pa.string()
    if dtype == pa.binary_view():
        return pa.binary()
    if pa.types.is_list(dtype):
        return pa.list_(normalize_type(dtype.value_type))
    if pa.types.is_large_list(dtype):
        return pa.large_list(normalize_type(dtype.value_type))
    if pa.types.is_struct(dtype):
        return pa.struct([f.with_type(normalize_type(f.type)) for f in dtype])
    return dtype


#: The large type a view type computes as where pyarrow has no view-type kernel.
VIEW_TO_LARGE = {pa.string_view(): pa.large_string(), pa.binary_view(): pa.large_binary()}


def without_view_types(kind: pa.DataType) -> pa.DataType:
    """``kind`` with every (nested) string_view/binary_view replaced by its large type."""
    if kind in VIEW_TO_LARGE:
        return VIEW_TO_LARGE[kind]
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        field = kind.value_field.with_type(without_view_types(kind.value_type))
        return pa.list_(field) if pa.types.is_list(kind) else pa.large_list(field)
    if pa.types.is_fixed_size_list(kind):
        field = kind.value_field.with_type(without_view_types(kind.value_type))
        return pa.list_(field, kind.list_size)
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(without_view_types(f.type)) for f in kind])
    if pa.types.is_map(kind):
        return pa.map_(without_view_types(kind.key_type), without_view_types(kind.item_type))
    return kind


# -- aggregation inputs ------------------------------------------------------------------


def is_numeric(kind: pa.DataType) -> bool:
    """Whether sum, mean and the deviations accept ``kind`` (booleans and nulls count)."""
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)
    )


def sum_type(kind: pa.DataType) -> pa.DataType:
    """The type a sum of ``kind`` is computed and returned in: 64-bit integers (unsigned
    for unsigned input), float64, or the widest decimal of the same scale."""
    if pa.types.is_unsigned_integer(kind):
        return pa.uint64()
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind) or pa.types.is_null(kind):
        return pa.int64()
    if pa.types.is_floating(kind):
        return pa.float64()
    if pa.types.is_decimal256(kind):
        return pa.decimal256(76, kind.scale)
    return pa.decimal128(38, kind.scale)


# -- join keys -------------------------------------------------------------------------------


def _is_number(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


_STRINGS = (pa.string(), pa.large_string(), pa.string_view())
_BINARIES = (pa.binary(), pa.large_binary(), pa.binary_view())
_INT_DIGITS = {8: 3, 16: 5, 32: 10, 64: 20}


def _decimal_type(precision: int, scale: int) -> pa.DataType | None:
    if precision <= 38:
        return pa.decimal128(precision, scale)
    return pa.decimal256(precision, scale) if precision <= 76 else None


def _common_decimal(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    if pa.types.is_integer(a):
        a = pa.decimal128(_INT_DIGITS[a.bit_width], 0)
    if pa.types.is_integer(b):
        b = pa.decimal128(_INT_DIGITS[b.bit_width], 0)
    scale = max(a.scale, b.scale)
    return _decimal_type(max(a.precision - a.scale, b.precision - b.scale) + scale, scale)


def _common_numeric(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    if pa.types.is_floating(a) or pa.types.is_floating(b):
        return pa.float64()
    if pa.types.is_decimal(a) or pa.types.is_decimal(b):
        return _common_decimal(a, b)
    width = max(a.bit_width, b.bit_width)
    if pa.types.is_unsigned_integer(a) and pa.types.is_unsigned_integer(b):
        return pa.from_numpy_dtype(np.dtype(f"uint{width}"))
    if pa.types.is_signed_integer(a) and pa.types.is_signed_integer(b):
        return pa.from_numpy_dtype(np.dtype(f"int{width}"))
    return pa.int64()


def common_key_type(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The type both join keys are cast to, or ``None`` when they cannot be compared.

    Parameters
    ----------
    a, b : pa.DataType
        Left and right key types.

    Returns
    -------
    pa.DataType or None
        Equal types: themselves. Integers: the wider (int64 for mixed signedness).
        With a float: float64. Decimals (and decimal with int): a decimal wide enough
        for both. String kinds: large_string (binary kinds: large_binary). Timestamps
        with the same time zone: the finer unit. date32/date64: date64. A null type
        takes the other type.
    """
    a = a.value_type if pa.types.is_dictionary(a) else a
    b = b.value_type if pa.types.is_dictionary(b) else b
    if a == b:
        return a
    if pa.types.is_null(a) or pa.types.is_null(b):
        return b if pa.types.is_null(a) else a
    if _is_number(a) and _is_number(b):
        return _common_numeric(a, b)
    if a in _STRINGS and b in _STRINGS:
        return pa.large_string()
    if a in _BINARIES and b in _BINARIES:
        return pa.large_binary()
    if pa.types.is_date(a) and pa.types.is_date(b):
        return pa.date64()
    for kind_check, factory in ((pa.types.is_timestamp, None), (pa.types.is_duration, pa.duration)):
        if kind_check(a) and kind_check(b):
            if kind_check is pa.types.is_timestamp and a.tz != b.tz:
                return None
            unit = finer_time_unit(a.unit, b.unit)
            return pa.timestamp(unit, a.tz) if factory is None else factory(unit)
    return None
