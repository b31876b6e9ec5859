"""Scalar functions: one evaluation per function, on ``pyarrow.compute``.

Each entry of :data:`FUNCTIONS` maps a function name to ``impl(*args, **options)``
where args are pyarrow arrays, chunked arrays or scalars. The result type of a
call is found by running the same ``impl`` on empty arrays of the argument types
(:func:`result_type`), so the type predicted while a plan is built is exactly the
type the query produces.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spillframe.kernels.exchange import hash_arrays
from spillframe.types import finer_time_unit

Datum: TypeAlias = pa.Array | pa.ChunkedArray | pa.Scalar


def _is_str(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise TypeError(message)


# -- arithmetic ------------------------------------------------------------------


def _numeric(x: Datum) -> None:
    t = x.type
    _require(
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_null(t),
        f"expected a number, got {t}",
    )


def _widen_decimal(x: Datum, to: str) -> Datum:
    if not pa.types.is_decimal(x.type):
        return x
    if to == "float":
        return pc.cast(x, pa.float64())
    return pc.cast(x, pa.decimal256(x.type.precision, x.type.scale))


def _decimal_safe(kernel: Callable[[Datum, Datum], Datum], a: Datum, b: Datum) -> Datum:
    """``kernel(a, b)``; when a decimal result would exceed decimal128's 38 digits, the
    operands become decimal256 (76 digits, still exact), and beyond that float64."""
    try:
        return kernel(a, b)
    except pa.ArrowInvalid as exc:
        if "precision" not in str(exc).lower() or not (
            pa.types.is_decimal(a.type) or pa.types.is_decimal(b.type)
        ):
            raise
    try:
        return kernel(_widen_decimal(a, "256"), _widen_decimal(b, "256"))
    except pa.ArrowInvalid as exc:
        if "precision" not in str(exc).lower():
            raise
    return kernel(_widen_decimal(a, "float"), _widen_decimal(b, "float"))


def _add(a: Datum, b: Datum) -> Datum:
    if _is_str(a.type) and _is_str(b.type):
        return _str_concat(a, b)  # Daft's ``+`` on strings concatenates
    return _decimal_safe(pc.add, a, b)


def _subtract(a: Datum, b: Datum) -> Datum:
    return _decimal_safe(pc.subtract, a, b)


def _multiply(a: Datum, b: Datum) -> Datum:
    return _decimal_safe(pc.multiply, a, b)


def _to_float(x: Datum) -> Datum:
    if pa.types.is_integer(x.type) or pa.types.is_null(x.type):
        return pc.cast(x, pa.float64())
    return x


def _true_divide(a: Datum, b: Datum) -> Datum:
    _numeric(a)
    _numeric(b)
    if pa.types.is_decimal(a.type) or pa.types.is_decimal(b.type):
        return pc.divide(pc.cast(a, pa.float64()), pc.cast(b, pa.float64()))
    return pc.divide(_to_float(a), _to_float(b))


def _both_integer(a: Datum, b: Datum) -> bool:
    return pa.types.is_integer(a.type) and pa.types.is_integer(b.type)


def _zero_to_null(b: Datum) -> Datum:
    """Integer divisors of 0 become null, so ``x // 0`` and ``x % 0`` give null.

    Arrow raises "divide by zero" for integers, which would fail a whole query
    mid-run; null is what Daft and polars return (floats give inf/NaN instead).
    """
    if isinstance(b, pa.Scalar):
        return pa.scalar(None, type=b.type) if b.is_valid and b.as_py() == 0 else b
    return pc.if_else(pc.equal(b, 0), pa.scalar(None, type=b.type), b)


def _floor_divide(a: Datum, b: Datum) -> Datum:
    _numeric(a)
    _numeric(b)
    if _both_integer(a, b):
        # Arrow truncates toward zero; Python floors. Correct where signs differ.
        b = _zero_to_null(b)
        q = pc.divide(a, b)
        r = pc.subtract(a, pc.multiply(q, b))
        fix = pc.and_(pc.not_equal(r, 0), pc.not_equal(pc.less(r, 0), pc.less(b, 0)))
        return pc.subtract(q, pc.cast(fix, q.type))
    return pc.floor(_true_divide(a, b))


def _modulo(a: Datum, b: Datum) -> Datum:
    _numeric(a)
    _numeric(b)
    return pc.modulo(a, _zero_to_null(b) if _both_integer(a, b) else b)


# -- strings -----------------------------------------------------------------------


def _string_arg(x: Datum) -> None:
    _require(_is_str(x.type) or pa.types.is_null(x.type), f"expected a string, got {x.type}")


def _str_concat(a: Datum, b: Datum) -> Datum:
    _string_arg(a)
    _string_arg(b)
    # The kernel needs one string type: large_string wins so nothing overflows.
    large = pa.types.is_large_string(a.type) or pa.types.is_large_string(b.type)
    target = pa.large_string() if large else pa.string()
    a, b = pc.cast(a, target), pc.cast(b, target)
    return pc.binary_join_element_wise(a, b, pa.scalar("", type=target))


def _str_replace(x: Datum, pattern: str, replacement: str, regex: bool) -> Datum:
    _string_arg(x)
    if regex:
        return pc.replace_substring_regex(x, pattern=pattern, replacement=replacement)
    return pc.replace_substring(x, pattern=pattern, replacement=replacement)


def _str_substr(x: Datum, start: int, length: int | None) -> Datum:
    _string_arg(x)
    stop = None if length is None else start + length
    return pc.utf8_slice_codeunits(x, start=start, stop=stop)


def _str_split(x: Datum, pattern: str, regex: bool) -> Datum:
    _string_arg(x)
    if regex:
        return pc.split_pattern_regex(x, pattern=pattern)
    return pc.split_pattern(x, pattern=pattern)


def _string_fn(name: str, **fixed: Any) -> Callable[..., Datum]:
    kernel = getattr(pc, name)

    def impl(x: Datum, **options: Any) -> Datum:
        _string_arg(x)
        return kernel(x, **fixed, **options)

    return impl


def search_pattern(pattern: str) -> str:
    """``pattern`` without a leading or trailing ``.*``, which cannot change whether a
    regex *search* finds a match but make RE2 scan every string (30% slower measured).

    >>> search_pattern(".*special.*requests.*")
    'special.*requests'
    >>> search_pattern(".*?x"), search_pattern(".*")
    ('.*?x', '.*')
    """
    if pattern.startswith(".*") and pattern[2:3] not in ("?", "*", "+", "{") and pattern != ".*":
        pattern = pattern[2:]
    if pattern.endswith(".*") and len(pattern) > 2:
        backslashes = len(pattern[:-2]) - len(pattern[:-2].rstrip("\\"))
        if backslashes % 2 == 0:
            pattern = pattern[:-2]
    return pattern or ".*"


def _str_match(x: Datum, pattern: str) -> Datum:
    _string_arg(x)
    return pc.match_substring_regex(x, pattern=search_pattern(pattern))


def _str_length(x: Datum) -> Datum:
    _string_arg(x)
    return pc.cast(pc.utf8_length(x), pa.int64())


def _length(x: Datum) -> Datum:
    """Daft 0.7's ``length``: characters of a string, bytes of a binary, list elements."""
    t = x.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return pc.cast(pc.binary_length(x), pa.int64())
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _list_lengths(x)
    _require(_is_str(t) or pa.types.is_null(t), f"expected a string, binary or list, got {t}")
    return _str_length(x)


# -- dates and times ------------------------------------------------------------------


def _temporal(x: Datum) -> None:
    _require(
        pa.types.is_temporal(x.type) and not pa.types.is_duration(x.type),
        f"expected a date or timestamp, got {x.type}",
    )


def _dt_part(name: str) -> Callable[[Datum], Datum]:
    kernel = getattr(pc, name)

    def impl(x: Datum) -> Datum:
        _temporal(x)
        return pc.cast(kernel(x), pa.int64())

    return impl


def _dt_date(x: Datum) -> Datum:
    _temporal(x)
    if pa.types.is_timestamp(x.type) and x.type.tz is not None:
        x = pc.local_timestamp(x)
    return pc.cast(x, pa.date32())


_INTERVAL = re.compile(
    r"^\s*(\d+)?\s*(nanosecond|microsecond|millisecond|second|minute|hour|"
    r"day|week|month|quarter|year)s?\s*$"
)


def parse_interval(interval: str) -> tuple[int, str]:
    """``"3 hours"`` -> ``(3, "hour")``; raises ValueError naming the valid units."""
    match = _INTERVAL.match(interval.lower()) if isinstance(interval, str) else None
    if not match:
        raise ValueError(
            f"bad interval {interval!r}; expected e.g. '1 day' or '15 minutes' with a unit in "
            "[nanosecond, microsecond, millisecond, second, minute, hour, day, week, month, "
            "quarter, year]"
        )
    return int(match.group(1) or 1), match.group(2)


def _dt_truncate(x: Datum, interval: str) -> Datum:
    _temporal(x)
    multiple, unit = parse_interval(interval)
    return pc.floor_temporal(x, multiple=multiple, unit=unit)


# -- lists -------------------------------------------------------------------------------


def _list_arg(x: Datum) -> None:
    _require(
        pa.types.is_list(x.type)
        or pa.types.is_large_list(x.type)
        or pa.types.is_fixed_size_list(x.type),
        f"expected a list, got {x.type}",
    )


def _list_lengths(x: Datum) -> Datum:
    _list_arg(x)
    return pc.cast(pc.list_value_length(x), pa.int64())


def _list_get_array(arr: pa.Array, index: int, default: pa.Scalar) -> pa.Array:
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
    if pa.types.is_fixed_size_list(arr.type):
        # ``values`` ignores a slice's offset: a partition of a fixed-size list is a slice.
        offsets = (arr.offset + np.arange(len(arr))) * arr.type.list_size
    else:
        offsets = np.asarray(arr.offsets)[:-1]
    pos = index if index >= 0 else lengths + index
    pos = np.broadcast_to(pos, lengths.shape)
    ok = (pos >= 0) & (pos < lengths) & np.asarray(arr.is_valid())
    flat = arr.values
    taken = (
        flat.take(pa.array(np.where(ok, offsets + pos, 0), pa.int64()))
        if len(flat)
        else pa.nulls(len(arr), flat.type)
    )
    return pc.if_else(pa.array(ok), taken, default.cast(flat.type))


def _list_get(x: Datum, index: int, default: Any = None) -> Datum:
    _list_arg(x)
    value_type = x.type.value_type
    default_scalar = pa.scalar(default, type=value_type)
    if isinstance(x, pa.Scalar):
        values = x.values
        ok = x.is_valid and -len(values) <= index < len(values)
        return values[index] if ok else default_scalar
    if isinstance(x, pa.ChunkedArray):
        chunks = [_list_get_array(c, index, default_scalar) for c in x.chunks]
        return pa.chunked_array(chunks, type=value_type)
    return _list_get_array(x, index, default_scalar)


def _list_join(x: Datum, delimiter: str) -> Datum:
    _list_arg(x)
    _require(_is_str(x.type.value_type), f"list.join needs a list of strings, got {x.type}")
    return pc.binary_join(x, delimiter)


# -- everything else -------------------------------------------------------------------------


def _coalesce(*args: Datum) -> Datum:
    """First non-null argument; an untyped null (``fill_null(None)``) takes the column's type."""
    typed = next((a.type for a in args if not pa.types.is_null(a.type)), None)
    if typed is not None:
        args = tuple(pc.cast(a, typed) if pa.types.is_null(a.type) else a for a in args)
    return pc.coalesce(*args)


def _is_in(x: Datum, values: tuple[Any, ...]) -> Datum:
    try:
        value_set = pa.array(list(values), type=x.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise TypeError(f"is_in values {list(values)!r} do not fit type {x.type}: {exc}") from None
    return pc.is_in(x, value_set=value_set)


def _if_else(cond: Datum, a: Datum, b: Datum) -> Datum:
    _require(
        pa.types.is_boolean(cond.type) or pa.types.is_null(cond.type),
        f"if_else needs a boolean condition, got {cond.type} (when() is made of if_else)",
    )
    return pc.if_else(cond, a, b)


def _round(x: Datum, ndigits: int) -> Datum:
    _numeric(x)
    if pa.types.is_integer(x.type) and ndigits >= 0:
        return x
    return pc.round(x, ndigits=ndigits, round_mode="half_to_even")


def _hash(x: Datum, seed: int) -> Datum:
    if isinstance(x, pa.Scalar):
        return hash_arrays([pa.array([x.as_py()], type=x.type)], seed=seed)[0]
    return hash_arrays([x], seed=seed)


def _comparison(kernel: Callable[..., Datum]) -> Callable[..., Datum]:
    """A comparison; timestamps of different units compare at the finer unit.

    Arrow has no kernel for ``timestamp[ms]`` vs ``timestamp[us]``, and a Python
    datetime literal is always microseconds.
    """

    def impl(a: Datum, b: Datum) -> Datum:
        if (
            pa.types.is_timestamp(a.type)
            and pa.types.is_timestamp(b.type)
            and a.type.unit != b.type.unit
        ):
            unit = finer_time_unit(a.type.unit, b.type.unit)
            a = pc.cast(a, pa.timestamp(unit, a.type.tz))
            b = pc.cast(b, pa.timestamp(unit, b.type.tz))
        return _decimal_safe(kernel, a, b)  # decimal(15, 2) vs a mean's decimal(38, 6)

    return impl


def _logical(kernel: Callable[..., Datum]) -> Callable[..., Datum]:
    def impl(*args: Datum) -> Datum:
        for a in args:
            _require(
                pa.types.is_boolean(a.type) or pa.types.is_null(a.type),
                f"expected a boolean, got {a.type}",
            )
        return kernel(*args)

    return impl


def _float_check(name: str) -> Callable[[Datum], Datum]:
    """``is_nan``/``is_inf`` for numbers: integers (and nulls) are never NaN or infinite."""
    kernel = getattr(pc, name)

    def impl(x: Datum) -> Datum:
        _numeric(x)
        if pa.types.is_floating(x.type):
            return kernel(x)
        return pc.if_else(pc.is_valid(x), False, pa.scalar(None, pa.bool_()))

    return impl


def _not_nan(x: Datum) -> Datum:
    return pc.invert(_float_check("is_nan")(x))


def _fill_nan(x: Datum, value: Datum) -> Datum:
    _numeric(x)
    if not pa.types.is_floating(x.type):
        return x
    return pc.if_else(pc.fill_null(pc.is_nan(x), False), pc.cast(value, x.type), x)


def _explode(x: Datum, ignore_empty_and_null: bool) -> Datum:
    raise TypeError(
        "explode() changes the number of rows, so it can only be a whole column of "
        "select() or with_columns(), e.g. df.select('id', col('l').explode())"
    )


# -- calendar functions (spillframe.functions: date_add, date_diff, last_day...) ---------------


def _epoch_days(x: Datum) -> Datum:
    """Days since 1970-01-01 (int32) of a date, or of a timestamp's own calendar date."""
    _temporal(x)
    if not pa.types.is_date32(x.type):
        x = _dt_date(x) if not pa.types.is_date(x.type) else pc.cast(x, pa.date32())
    return pc.cast(x, pa.int32())


def _integers(x: Datum, what: str) -> None:
    _require(
        pa.types.is_integer(x.type) or pa.types.is_null(x.type),
        f"{what} needs integers, got {x.type}",
    )


def _date_add(x: Datum, days: Datum) -> Datum:
    _integers(days, "date_add days")
    total = pc.add(pc.cast(_epoch_days(x), pa.int64()), pc.cast(days, pa.int64()))
    return pc.cast(pc.cast(total, pa.int32()), pa.date32())


def _date_sub(x: Datum, days: Datum) -> Datum:
    _integers(days, "date_sub days")
    return _date_add(x, pc.negate(pc.cast(days, pa.int64())))


def _date_diff(end: Datum, start: Datum) -> Datum:
    return pc.subtract(_epoch_days(end), _epoch_days(start))


def _numpy_ints(*args: Datum) -> tuple[list[np.ndarray], np.ndarray, bool]:
    """Arguments as int64 numpy arrays (nulls as 0), the mask of rows with a null, and
    whether every argument is a scalar (then the arrays have one row)."""
    lengths = {len(a) for a in args if not isinstance(a, pa.Scalar)}
    n = max(lengths) if lengths else 1
    values, null = [], np.zeros(n, dtype=bool)
    for a in args:
        array = pa.array([a.as_py()] * n, a.type) if isinstance(a, pa.Scalar) else a
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        null |= np.asarray(pc.is_null(array).to_numpy(zero_copy_only=False), dtype=bool)
        filled = pc.fill_null(pc.cast(array, pa.int64()), 0)
        values.append(np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.int64))
    return values, null, not lengths


def _dates_out(days: np.ndarray, null: np.ndarray, scalar: bool) -> Datum:
    result = pa.array(days.astype(np.int32), pa.int32(), mask=null).cast(pa.date32())
    return result[0] if scalar else result


def _last_day(x: Datum) -> Datum:
    (days,), null, scalar = _numpy_ints(_epoch_days(x))
    months = days.astype("datetime64[D]").astype("datetime64[M]")
    last = (months + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
    return _dates_out(last.astype(np.int64), null, scalar)


def _make_date(year: Datum, month: Datum, day: Datum) -> Datum:
    for value, what in ((year, "year"), (month, "month"), (day, "day")):
        _integers(value, f"make_date {what}")
    (y, m, d), null, scalar = _numpy_ints(year, month, day)
    ok = (m >= 1) & (m <= 12) & (d >= 1) & (y > -10000) & (y < 10000)
    months = ((y - 1970) * 12 + np.where(ok, m - 1, 0)).astype("datetime64[M]")
    first = months.astype("datetime64[D]").astype(np.int64)
    length = (months + 1).astype("datetime64[D]").astype(np.int64) - first
    ok &= d <= length  # Feb 30 and friends are null, as Daft
    return _dates_out(first + np.where(ok, d - 1, 0), null | ~ok, scalar)


def _from_unixtime(x: Datum, format: str) -> Datum:
    _numeric(x)
    seconds = pc.floor(x) if pa.types.is_floating(x.type) else x
    return pc.strftime(pc.cast(pc.cast(seconds, pa.int64()), pa.timestamp("s")), format=format)


def _to_utc_timestamp(x: Datum, timezone: str) -> Datum:
    _require(
        pa.types.is_timestamp(x.type) and x.type.tz is None,
        f"to_utc_timestamp needs a timestamp without a time zone, got {x.type}",
    )
    local = pc.assume_timezone(x, timezone=timezone, ambiguous="raise", nonexistent="raise")
    return pc.cast(local, pa.timestamp(x.type.unit))


def _to_string(x: Datum) -> Datum:
    return x if _is_str(x.type) else pc.cast(x, pa.string())


FUNCTIONS: dict[str, Callable[..., Datum]] = {
    "add": _add,
    "subtract": _subtract,
    "multiply": _multiply,
    "true_divide": _true_divide,
    "floor_divide": _floor_divide,
    "modulo": _modulo,
    "negate": pc.negate,
    "abs": pc.abs,
    "round": _round,
    "hash": _hash,
    "equal": _comparison(pc.equal),
    "not_equal": _comparison(pc.not_equal),
    "less": _comparison(pc.less),
    "less_equal": _comparison(pc.less_equal),
    "greater": _comparison(pc.greater),
    "greater_equal": _comparison(pc.greater_equal),
    "and": _logical(pc.and_kleene),
    "or": _logical(pc.or_kleene),
    "invert": _logical(pc.invert),
    "is_null": pc.is_null,
    "is_valid": pc.is_valid,
    "coalesce": _coalesce,
    "is_in": _is_in,
    "if_else": _if_else,
    "str.contains": _string_fn("match_substring"),
    "str.match": _str_match,
    "str.like": _string_fn("match_like"),
    "str.startswith": _string_fn("starts_with"),
    "str.endswith": _string_fn("ends_with"),
    "str.lower": _string_fn("utf8_lower"),
    "str.upper": _string_fn("utf8_upper"),
    "str.strip": _string_fn("utf8_trim_whitespace"),
    "str.length": _str_length,
    "length": _length,
    "str.split": _str_split,
    "str.concat": _str_concat,
    "str.replace": _str_replace,
    "str.substr": _str_substr,
    "dt.year": _dt_part("year"),
    "dt.month": _dt_part("month"),
    "dt.day": _dt_part("day"),
    "dt.hour": _dt_part("hour"),
    "dt.minute": _dt_part("minute"),
    "dt.second": _dt_part("second"),
    "dt.day_of_week": _dt_part("day_of_week"),
    "dt.date": _dt_date,
    "dt.truncate": _dt_truncate,
    "list.lengths": _list_lengths,
    "list.get": _list_get,
    "list.join": _list_join,
    "is_nan": _float_check("is_nan"),
    "is_inf": _float_check("is_inf"),
    "not_nan": _not_nan,
    "fill_nan": _fill_nan,
    "explode": _explode,
    "date_add": _date_add,
    "date_sub": _date_sub,
    "date_diff": _date_diff,
    "last_day": _last_day,
    "make_date": _make_date,
    "from_unixtime": _from_unixtime,
    "to_utc_timestamp": _to_utc_timestamp,
    "to_string": _to_string,
}


def call(fn: str, args: list[Datum], options: dict[str, Any]) -> Datum:
    """Evaluate function ``fn`` on pyarrow data."""
    return FUNCTIONS[fn](*args, **options)


@functools.lru_cache(maxsize=4096)
def _result_type_cached(
    fn: str, arg_types: tuple[Any, ...], options: tuple[tuple[str, Any], ...]
) -> pa.DataType:
    args = [
        pa.scalar(None, type=t[1]) if t[0] == "scalar" else pa.array([], type=t[1])
        for t in arg_types
    ]
    return call(fn, args, dict(options)).type


def result_type(
    fn: str, arg_types: list[tuple[str, pa.DataType]], options: tuple[tuple[str, Any], ...]
) -> pa.DataType:
    """Type of ``fn`` on arguments of the given (kind, type); raises TypeError if none.

    ``kind`` is ``"scalar"`` for literals and ``"array"`` for columns.
    """
    try:
        return _result_type_cached(fn, tuple(arg_types), options)
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError, pa.ArrowInvalid) as exc:
        raise TypeError(str(exc).split("\n")[0]) from None
