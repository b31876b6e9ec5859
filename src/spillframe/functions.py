"""Module functions with Daft's names (``daft.functions``): each mirrors an expression
method, or builds a scalar function of :mod:`spillframe.expr.functions`, so
``from spillframe.functions import date_add`` works as ``from daft.functions ...``.

Examples
--------
>>> import datetime
>>> import spillframe as sf
>>> from spillframe.functions import date_add, date_diff, format, last_day
>>> df = sf.from_pydict({"d": [datetime.date(2024, 2, 10)], "n": [20], "who": ["Ann"]})
>>> df.select(
...     date_add(sf.col("d"), sf.col("n")).alias("later"),
...     last_day(sf.col("d")).alias("end"),
...     date_diff(last_day(sf.col("d")), sf.col("d")).alias("left"),
...     format("{} on {}", "who", sf.col("d")).alias("text"),
... ).to_pylist()
[{'later': datetime.date(2024, 3, 1), 'end': datetime.date(2024, 2, 29), 'left': 19, 'text': 'Ann on 2024-02-10'}]
"""

from __future__ import annotations

import datetime
from typing import Any

from spillframe.expr.conditional import When
from spillframe.expr.expression import AggExpr, Expression, Function, Literal, col, lit

__all__ = [
    "abs",
    "any_value",
    "concat",
    "contains",
    "count",
    "count_distinct",
    "date",
    "date_add",
    "date_diff",
    "date_sub",
    "date_trunc",
    "day",
    "day_of_week",
    "endswith",
    "explode",
    "fill_nan",
    "fill_null",
    "format",
    "from_unixtime",
    "hash",
    "hour",
    "ilike",
    "interval",
    "is_in",
    "is_inf",
    "is_nan",
    "is_null",
    "last_day",
    "length",
    "like",
    "list_agg",
    "lower",
    "make_date",
    "max",
    "mean",
    "min",
    "minute",
    "month",
    "not_nan",
    "not_null",
    "regexp",
    "regexp_replace",
    "regexp_split",
    "replace",
    "round",
    "second",
    "split",
    "startswith",
    "stddev",
    "string_agg",
    "strip",
    "substr",
    "sum",
    "to_utc_timestamp",
    "upper",
    "var",
    "when",
    "year",
]


def _expr(value: Any) -> Expression:
    """An expression argument: expressions as they are, other values as literals."""
    return value if isinstance(value, Expression) else lit(value)


def _column(value: Any) -> Expression:
    """A column argument: a name is a column (as Daft reads strings here)."""
    return col(value) if isinstance(value, str) else _expr(value)


# -- mirrors of expression methods ------------------------------------------------------------


def abs(expr: Expression) -> Expression:  # noqa: A001 (Daft's name)
    """Absolute value; ``expr.abs()``."""
    return _expr(expr).abs()


def round(expr: Expression, decimals: int = 0) -> Expression:  # noqa: A001
    """Round half to even; ``expr.round(decimals)``."""
    return _expr(expr).round(decimals)


def hash(expr: Expression, seed: int = 0) -> Expression:  # noqa: A001
    """A stable 64-bit hash; ``expr.hash(seed)``."""
    return _expr(expr).hash(seed)


def is_null(expr: Expression) -> Expression:
    """``expr.is_null()``."""
    return _expr(expr).is_null()


def not_null(expr: Expression) -> Expression:
    """``expr.not_null()``."""
    return _expr(expr).not_null()


def fill_null(expr: Expression, fill_value: Any) -> Expression:
    """``expr.fill_null(fill_value)``."""
    return _expr(expr).fill_null(fill_value)


def is_in(expr: Expression, items: Any) -> Expression:
    """``expr.is_in(items)``."""
    return _expr(expr).is_in(items)


def is_nan(expr: Expression) -> Expression:
    """``expr.is_nan()``."""
    return _expr(expr).is_nan()


def not_nan(expr: Expression) -> Expression:
    """``expr.not_nan()``."""
    return _expr(expr).not_nan()


def is_inf(expr: Expression) -> Expression:
    """``expr.is_inf()``."""
    return _expr(expr).is_inf()


def fill_nan(expr: Expression, fill_value: Any) -> Expression:
    """``expr.fill_nan(fill_value)``."""
    return _expr(expr).fill_nan(fill_value)


def explode(expr: Expression, ignore_empty_and_null: bool = False) -> Expression:
    """``expr.explode(...)``: a whole column of ``select``/``with_columns``."""
    return _expr(expr).explode(ignore_empty_and_null)


# -- strings: Daft 0.7's functions, each the expression method of the same name ------------


def contains(expr: Expression, substr: str) -> Expression:
    """True where the string contains ``substr`` (plain text); ``expr.contains(substr)``.

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"s": ["forest green", "red"]})
    >>> df.select(sf.functions.contains(df["s"], "green")).to_pydict()
    {'s': [True, False]}
    """
    return _expr(expr).contains(substr)


def startswith(expr: Expression, prefix: str) -> Expression:
    """``expr.startswith(prefix)``.

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"s": ["forest green", "red"]})
    >>> df.select(sf.functions.startswith(df["s"], "forest")).to_pydict()
    {'s': [True, False]}
    """
    return _expr(expr).startswith(prefix)


def endswith(expr: Expression, suffix: str) -> Expression:
    """``expr.endswith(suffix)``.

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"s": ["forest green", "red"]})
    >>> df.select(sf.functions.endswith(df["s"], "red")).to_pydict()
    {'s': [False, True]}
    """
    return _expr(expr).endswith(suffix)


def regexp(expr: Expression, pattern: str) -> Expression:
    """True where the regular expression ``pattern`` matches anywhere (a search);
    ``expr.regexp(pattern)``.

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"s": ["foo", "bar", "baz"]})
    >>> df.select(sf.functions.regexp(df["s"], "ba.")).to_pydict()
    {'s': [False, True, True]}
    """
    return _expr(expr).regexp(pattern)


def like(expr: Expression, pattern: str) -> Expression:
    """True where the whole string matches the SQL LIKE ``pattern`` (``%``, ``_``),
    case-sensitive; ``expr.like(pattern)``.

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"s": ["special requests", "Special Requests"]})
    >>> df.select(sf.functions.like(df["s"], "%special%requests%")).to_pydict()
    {'s': [True, False]}
    """
    return _expr(expr).like(pattern)


def ilike(expr: Expression, pattern: str) -> Expression:
    """``expr.ilike(pattern)``: :func:`like`, ignoring case.

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"s": ["special requests", "Special Requests"]})
    >>> df.select(sf.functions.ilike(df["s"], "%special%requests%")).to_pydict()
    {'s': [True, True]}
    """
    return _expr(expr).ilike(pattern)


def lower(expr: Expression) -> Expression:
    """``expr.lower()``.

    Examples
    --------
    >>> import spillframe as sf
    >>> sf.from_pydict({"s": ["AbC"]}).select(sf.functions.lower(sf.col("s"))).to_pydict()
    {'s': ['abc']}
    """
    return _expr(expr).lower()


def upper(expr: Expression) -> Expression:
    """``expr.upper()``.

    Examples
    --------
    >>> import spillframe as sf
    >>> sf.from_pydict({"s": ["AbC"]}).select(sf.functions.upper(sf.col("s"))).to_pydict()
    {'s': ['ABC']}
    """
    return _expr(expr).upper()


def strip(expr: Expression) -> Expression:
    """``expr.strip()``: without leading and trailing whitespace.

    Examples
    --------
    >>> import spillframe as sf
    >>> sf.from_pydict({"s": [" a "]}).select(sf.functions.strip(sf.col("s"))).to_pydict()
    {'s': ['a']}
    """
    return _expr(expr).strip()


def length(expr: Expression) -> Expression:
    """``expr.length()``: characters of a string, bytes of a binary, list elements.

    Examples
    --------
    >>> import spillframe as sf
    >>> sf.from_pydict({"s": ["four", None]}).select(sf.functions.length(sf.col("s"))).to_pydict()
    {'s': [4, None]}
    """
    return _expr(expr).length()


def split(expr: Expression, split_on: str) -> Expression:
    """``expr.split(split_on)``: a list of strings.

    Examples
    --------
    >>> import spillframe as sf
    >>> sf.from_pydict({"s": ["a.b"]}).select(sf.functions.split(sf.col("s"), ".")).to_pydict()
    {'s': [['a', 'b']]}
    """
    return _expr(expr).split(split_on)


def regexp_split(expr: Expression, pattern: str) -> Expression:
    """``expr.regexp_split(pattern)``: a list of strings.

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"s": ["a, b,c"]})
    >>> df.select(sf.functions.regexp_split(df["s"], ",\\\\s*")).to_pydict()
    {'s': [['a', 'b', 'c']]}
    """
    return _expr(expr).regexp_split(pattern)


def concat(left: Expression | str, right: Expression | str) -> Expression:
    """``left`` followed by ``right`` (strings or string expressions; a ``str`` is
    text, not a column name); null where either is null.

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"s": ["a", None]})
    >>> df.select(sf.functions.concat(df["s"], "!")).to_pydict()
    {'s': ['a!', None]}
    """
    return _expr(left).concat(right)


def replace(expr: Expression, search: str, replacement: str) -> Expression:
    """``expr.replace(search, replacement)`` (plain text).

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"s": ["foo", "bar"]})
    >>> df.select(sf.functions.replace(df["s"], "o", "0")).to_pydict()
    {'s': ['f00', 'bar']}
    """
    return _expr(expr).replace(search, replacement)


def regexp_replace(expr: Expression, pattern: str, replacement: str) -> Expression:
    """``expr.regexp_replace(pattern, replacement)``.

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"s": ["a1b22"]})
    >>> df.select(sf.functions.regexp_replace(df["s"], "[0-9]+", "#")).to_pydict()
    {'s': ['a#b#']}
    """
    return _expr(expr).regexp_replace(pattern, replacement)


def substr(expr: Expression, start: int, length: int | None = None) -> Expression:
    """``length`` characters from ``start`` (0-based); ``expr.substr(start, length)``.

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"s": ["daft", "query"]})
    >>> df.select(sf.functions.substr(df["s"], 2, 4)).to_pydict()
    {'s': ['ft', 'ery']}
    """
    return _expr(expr).substr(start, length)


# -- dates and times: Daft 0.7's functions, each the expression method of the same name ----


def year(expr: Expression) -> Expression:
    """``expr.year()``.

    Examples
    --------
    >>> import datetime, spillframe as sf
    >>> df = sf.from_pydict({"d": [datetime.date(1995, 3, 15)]})
    >>> df.select(sf.functions.year(df["d"]), sf.functions.month(df["d"]).alias("m")).to_pydict()
    {'d': [1995], 'm': [3]}
    """
    return _expr(expr).year()


def month(expr: Expression) -> Expression:
    """``expr.month()``; see :func:`year`."""
    return _expr(expr).month()


def day(expr: Expression) -> Expression:
    """``expr.day()``.

    Examples
    --------
    >>> import datetime, spillframe as sf
    >>> df = sf.from_pydict({"d": [datetime.date(1995, 3, 15)]})
    >>> df.select(sf.functions.day(df["d"])).to_pydict()
    {'d': [15]}
    """
    return _expr(expr).day()


def hour(expr: Expression) -> Expression:
    """``expr.hour()``.

    Examples
    --------
    >>> import datetime, spillframe as sf
    >>> df = sf.from_pydict({"t": [datetime.datetime(2024, 1, 2, 7, 8, 9)]})
    >>> df.select(
    ...     sf.functions.hour(df["t"]),
    ...     sf.functions.minute(df["t"]).alias("m"),
    ...     sf.functions.second(df["t"]).alias("s"),
    ... ).to_pydict()
    {'t': [7], 'm': [8], 's': [9]}
    """
    return _expr(expr).hour()


def minute(expr: Expression) -> Expression:
    """``expr.minute()``; see :func:`hour`."""
    return _expr(expr).minute()


def second(expr: Expression) -> Expression:
    """``expr.second()``; see :func:`hour`."""
    return _expr(expr).second()


def day_of_week(expr: Expression) -> Expression:
    """``expr.day_of_week()`` (Monday = 0).

    Examples
    --------
    >>> import datetime, spillframe as sf
    >>> df = sf.from_pydict({"d": [datetime.date(2024, 7, 7)]})
    >>> df.select(sf.functions.day_of_week(df["d"])).to_pydict()
    {'d': [6]}
    """
    return _expr(expr).day_of_week()


def date(expr: Expression) -> Expression:
    """``expr.date()``: a timestamp's calendar date.

    Examples
    --------
    >>> import datetime, spillframe as sf
    >>> df = sf.from_pydict({"t": [datetime.datetime(2024, 1, 2, 7, 8)]})
    >>> df.select(sf.functions.date(df["t"])).to_pydict()
    {'t': [datetime.date(2024, 1, 2)]}
    """
    return _expr(expr).date()


def date_trunc(
    interval: str, expr: Expression, relative_to: Expression | None = None
) -> Expression:
    """``expr`` rounded down to a multiple of ``interval`` (``"1 day"``, ``"15 minutes"``);
    ``expr.date_trunc(interval)``. ``relative_to`` (Daft's custom origin) is not
    supported here: intervals count from the Unix epoch.

    Examples
    --------
    >>> import datetime, spillframe as sf
    >>> from spillframe.functions import date_trunc
    >>> df = sf.from_pydict({"t": [datetime.datetime(2021, 1, 1, 0, 1, 59)]})
    >>> df.select(date_trunc("1 minute", sf.col("t"))).to_pylist()
    [{'t': datetime.datetime(2021, 1, 1, 0, 1)}]
    """
    return _expr(expr).date_trunc(interval, relative_to)


# -- conditions ----------------------------------------------------------------------------


def when(condition: Expression | bool, then: Any) -> When:
    """SQL's CASE WHEN, as Daft 0.7: ``then`` where ``condition`` holds; chain
    ``.when(cond, then=...)`` for further cases (the first that holds wins) and end with
    ``.otherwise(value)``. Without ``otherwise`` the rest is null; a null condition gives
    null (it is ``condition.if_else(then, ...)``, nested). A ``str`` ``then`` is text,
    not a column name.

    Examples
    --------
    >>> import spillframe as sf
    >>> from spillframe.functions import when
    >>> df = sf.from_pydict({"score": [85, 92, 65, None]})
    >>> df.select(
    ...     when(df["score"] >= 90, then="A").when(df["score"] >= 80, then="B").otherwise("F")
    ... ).to_pydict()
    {'score': ['B', 'A', 'F', None]}
    """
    return When.start(condition, then)


def sum(expr: Expression) -> AggExpr:  # noqa: A001
    """``expr.sum()``."""
    return _column(expr).sum()


def mean(expr: Expression) -> AggExpr:
    """``expr.mean()``."""
    return _column(expr).mean()


def min(expr: Expression) -> AggExpr:  # noqa: A001
    """``expr.min()``."""
    return _column(expr).min()


def max(expr: Expression) -> AggExpr:  # noqa: A001
    """``expr.max()``."""
    return _column(expr).max()


def count(expr: Expression, mode: str = "valid") -> AggExpr:
    """``expr.count(mode)``."""
    return _column(expr).count(mode)


def count_distinct(expr: Expression) -> AggExpr:
    """``expr.count_distinct()``."""
    return _column(expr).count_distinct()


def any_value(expr: Expression) -> AggExpr:
    """``expr.any_value()``."""
    return _column(expr).any_value()


def list_agg(expr: Expression) -> AggExpr:
    """``expr.list_agg()``."""
    return _column(expr).list_agg()


def string_agg(expr: Expression, delimiter: str | None = None) -> AggExpr:
    """``expr.string_agg(delimiter)``."""
    return _column(expr).string_agg(delimiter)


def stddev(expr: Expression, ddof: int = 1) -> AggExpr:
    """``expr.stddev(ddof)``."""
    return _column(expr).stddev(ddof)


def var(expr: Expression, ddof: int = 1) -> AggExpr:
    """``expr.var(ddof)``."""
    return _column(expr).var(ddof)


# -- functions of their own -------------------------------------------------------------------


def format(f_string: str, *args: Expression | str) -> Expression:  # noqa: A001
    """``f_string`` with each ``{}`` replaced by the next argument as a string (a string
    argument names a column); null where an argument is null.

    Examples
    --------
    >>> import spillframe as sf
    >>> from spillframe.functions import format
    >>> df = sf.from_pydict({"first": ["Alice", "Bob"], "n": [1, 2]})
    >>> df.select(format("Hello {} #{}", sf.col("first"), "n").alias("s")).to_pydict()
    {'s': ['Hello Alice #1', 'Hello Bob #2']}
    """
    if not isinstance(f_string, str):
        raise TypeError(f"format needs a format string, got {f_string!r}")
    if f_string.count("{}") != len(args):
        raise ValueError(
            f"format string {f_string!r} has {f_string.count('{}')} placeholders but "
            f"{len(args)} arguments were given"
        )
    parts = f_string.split("{}")
    pieces: list[Expression] = []
    for text, arg in zip(parts, [*args, None]):
        if text:
            pieces.append(lit(text))
        if arg is not None:
            pieces.append(Function("to_string", (_column(arg),)))
    if not pieces:
        return lit("")
    result = pieces[0]
    for piece in pieces[1:]:
        result = Function("str.concat", (result, piece))
    return result


def date_add(expr: Expression, days: Expression | int) -> Expression:
    """The date ``days`` days after ``expr`` (a date, or a timestamp's date).

    Examples
    --------
    >>> import datetime, spillframe as sf
    >>> from spillframe.functions import date_add, date_sub
    >>> df = sf.from_pydict({"d": [datetime.date(2021, 1, 31)]})
    >>> df.select(date_add(sf.col("d"), 1).alias("a"), date_sub(sf.col("d"), 31).alias("b")).to_pylist()
    [{'a': datetime.date(2021, 2, 1), 'b': datetime.date(2020, 12, 31)}]
    """
    return Function("date_add", (_expr(expr), _expr(days)))


def date_sub(expr: Expression, days: Expression | int) -> Expression:
    """The date ``days`` days before ``expr``; see :func:`date_add`."""
    return Function("date_sub", (_expr(expr), _expr(days)))


def date_diff(end: Expression, start: Expression) -> Expression:
    """Days from ``start`` to ``end`` (int32; dates, or timestamps' dates).

    Examples
    --------
    >>> import datetime, spillframe as sf
    >>> from spillframe.functions import date_diff
    >>> df = sf.from_pydict({"a": [datetime.date(2021, 1, 10)], "b": [datetime.date(2021, 1, 1)]})
    >>> df.select(date_diff(sf.col("a"), sf.col("b")).alias("days")).to_pydict()
    {'days': [9]}
    """
    return Function("date_diff", (_expr(end), _expr(start)))


def last_day(expr: Expression) -> Expression:
    """The last day of the month of a date or timestamp (a date).

    Examples
    --------
    >>> import datetime, spillframe as sf
    >>> from spillframe.functions import last_day
    >>> df = sf.from_pydict({"d": [datetime.date(2023, 2, 3), datetime.date(2024, 2, 3), None]})
    >>> df.select(last_day(sf.col("d"))).to_pydict()
    {'d': [datetime.date(2023, 2, 28), datetime.date(2024, 2, 29), None]}
    """
    return Function("last_day", (_expr(expr),))


def make_date(year: Expression | int, month: Expression | int, day: Expression | int) -> Expression:
    """A date from integer year, month and day; null for an invalid date (Feb 30).

    Examples
    --------
    >>> import spillframe as sf
    >>> from spillframe.functions import make_date
    >>> df = sf.from_pydict({"y": [2024, 2023], "m": [2, 2], "d": [29, 29]})
    >>> df.select(make_date(sf.col("y"), sf.col("m"), sf.col("d")).alias("date")).to_pydict()
    {'date': [datetime.date(2024, 2, 29), None]}
    """
    return Function("make_date", (_expr(year), _expr(month), _expr(day)))


def from_unixtime(expr: Expression, format: str | None = None) -> Expression:  # noqa: A002
    """Seconds since the Unix epoch (UTC) as text, ``strftime`` ``format`` (default
    ``"%Y-%m-%d %H:%M:%S"``).

    Examples
    --------
    >>> import spillframe as sf
    >>> from spillframe.functions import from_unixtime
    >>> sf.from_pydict({"s": [0, 1609459200]}).select(from_unixtime(sf.col("s"))).to_pydict()
    {'s': ['1970-01-01 00:00:00', '2021-01-01 00:00:00']}
    """
    fmt = "%Y-%m-%d %H:%M:%S" if format is None else format
    if not isinstance(fmt, str):
        raise TypeError(f"from_unixtime format must be a string, got {fmt!r}")
    return Function("from_unixtime", (_expr(expr),), (("format", fmt),))


def to_utc_timestamp(expr: Expression, timezone: str) -> Expression:
    """A time-zone-less timestamp read as wall-clock time in ``timezone``, as the UTC
    instant (time-zone-less). A wall-clock time that does not exist or is ambiguous
    there (daylight saving) fails the query, as in Daft.

    Examples
    --------
    >>> import datetime, spillframe as sf
    >>> from spillframe.functions import to_utc_timestamp
    >>> df = sf.from_pydict({"ts": [datetime.datetime(2017, 7, 14, 3, 40)]})
    >>> df.select(to_utc_timestamp(sf.col("ts"), "Europe/London")).to_pylist()
    [{'ts': datetime.datetime(2017, 7, 14, 2, 40)}]
    """
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"unknown time zone {timezone!r}; use an IANA name such as 'UTC'"
        ) from None
    return Function("to_utc_timestamp", (_expr(expr),), (("timezone", timezone),))


def interval(
    years: int | None = None,
    months: int | None = None,
    days: int | None = None,
    hours: int | None = None,
    minutes: int | None = None,
    seconds: int | None = None,
    millis: int | None = None,
    nanos: int | None = None,
) -> Literal:
    """A fixed length of time to add to or subtract from dates and timestamps (an Arrow
    ``duration`` literal: microseconds, or nanoseconds when ``nanos`` is given).

    Calendar units (``years``, ``months``) have no fixed length, and Arrow cannot add
    them; unlike Daft they raise ValueError here.

    Examples
    --------
    >>> import datetime, spillframe as sf
    >>> df = sf.from_pydict({"t": [datetime.datetime(2021, 1, 1, 23, 30)]})
    >>> df.select(sf.col("t") + sf.interval(hours=1, minutes=15)).to_pylist()
    [{'t': datetime.datetime(2021, 1, 2, 0, 45)}]
    """
    if years or months:
        raise ValueError(
            "interval(years=, months=) is not supported: calendar units have no fixed "
            "length; use days= (or spillframe.functions.date_add for days on dates)"
        )
    parts = {"days": days, "hours": hours, "minutes": minutes, "seconds": seconds}
    parts.update(millis=millis, nanos=nanos)
    for name, value in parts.items():
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise TypeError(f"interval {name}= must be an int, got {value!r}")
    micros = (
        ((days or 0) * 24 + (hours or 0)) * 3600 + (minutes or 0) * 60 + (seconds or 0)
    ) * 1_000_000 + (millis or 0) * 1000
    if nanos:
        import pyarrow as pa

        return lit(pa.scalar(micros * 1000 + nanos, pa.duration("ns")))
    return lit(datetime.timedelta(microseconds=micros))
