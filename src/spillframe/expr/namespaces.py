"""The ``.str``, ``.dt`` and ``.list`` expression namespaces (Daft's names)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from spillframe.expr.expression import Expression, Function, _to_expr
from spillframe.expr.functions import parse_interval


class _Namespace:
    __slots__ = ("_expr",)

    def __init__(self, expr: Expression) -> None:
        self._expr = expr

    def _call(self, fn: str, *args: Expression, **options: Any) -> Expression:
        return Function(fn, (self._expr, *args), tuple(options.items()))


class StrNamespace(_Namespace):
    """String functions.

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"s": ["Apple", "banana"]})
    >>> df.select(sf.col("s").str.lower().str.startswith("a")).to_pydict()
    {'s': [True, False]}
    """

    __slots__ = ()

    def contains(self, pattern: str) -> Expression:
        """True where the string contains ``pattern`` (a plain substring)."""
        return self._call("str.contains", pattern=_text(pattern, "contains"))

    def match(self, pattern: str) -> Expression:
        """True where the regular expression ``pattern`` matches anywhere (Daft 0.7:
        ``regexp``)."""
        return self._call("str.match", pattern=_regex(pattern, "match/regexp"))

    def like(self, pattern: str) -> Expression:
        """True where the whole string matches the SQL LIKE ``pattern`` (``%``: any
        characters, ``_``: one character, ``\\`` escapes them), case-sensitive."""
        return self._call("str.like", pattern=_text(pattern, "like"), ignore_case=False)

    def ilike(self, pattern: str) -> Expression:
        """:meth:`like`, ignoring case."""
        return self._call("str.like", pattern=_text(pattern, "ilike"), ignore_case=True)

    def startswith(self, prefix: str) -> Expression:
        """True where the string starts with ``prefix``."""
        return self._call("str.startswith", pattern=_text(prefix, "startswith"))

    def endswith(self, suffix: str) -> Expression:
        """True where the string ends with ``suffix``."""
        return self._call("str.endswith", pattern=_text(suffix, "endswith"))

    def lower(self) -> Expression:
        """Lower-case."""
        return self._call("str.lower")

    def upper(self) -> Expression:
        """Upper-case."""
        return self._call("str.upper")

    def strip(self) -> Expression:
        """Remove leading and trailing whitespace."""
        return self._call("str.strip")

    def length(self) -> Expression:
        """Number of characters (int64)."""
        return self._call("str.length")

    def split(self, pattern: str, regex: bool = False) -> Expression:
        """Split into a list of strings on ``pattern`` (Daft 0.7: ``split`` and
        ``regexp_split``)."""
        pattern = _regex(pattern, "split/regexp_split") if regex else _text(pattern, "split")
        return self._call("str.split", pattern=pattern, regex=bool(regex))

    def concat(self, other: Any) -> Expression:
        """Append ``other`` (a string or string expression)."""
        return Function("str.concat", (self._expr, _to_expr(other)))

    def replace(self, pattern: str, replacement: str, regex: bool = False) -> Expression:
        """Replace every occurrence of ``pattern`` by ``replacement`` (Daft 0.7:
        ``replace`` and ``regexp_replace``)."""
        name = "replace/regexp_replace" if regex else "replace"
        pattern = _regex(pattern, name) if regex else _text(pattern, name)
        return self._call(
            "str.replace",
            pattern=pattern,
            replacement=_text(replacement, name),
            regex=bool(regex),
        )

    def substr(self, start: int, length: int | None = None) -> Expression:
        """``length`` characters from position ``start`` (0-based)."""
        if not isinstance(start, int) or isinstance(start, bool):
            raise TypeError(f"substr start must be an int >= 0, got {start!r}")
        if start < 0:
            raise ValueError(f"substr start must be an int >= 0, got {start!r}")
        if length is not None and (not isinstance(length, int) or isinstance(length, bool)):
            raise TypeError(f"substr length must be an int >= 0 or None, got {length!r}")
        if length is not None and length < 0:
            raise ValueError(f"substr length must be an int >= 0 or None, got {length!r}")
        return self._call("str.substr", start=start, length=length)


class DtNamespace(_Namespace):
    """Date and time functions.

    Examples
    --------
    >>> import datetime, spillframe as sf
    >>> df = sf.from_pydict({"d": [datetime.date(2024, 3, 5)]})
    >>> df.select(sf.col("d").dt.year(), sf.col("d").dt.month().alias("m")).to_pydict()
    {'d': [2024], 'm': [3]}
    """

    __slots__ = ()

    def year(self) -> Expression:
        """Year (int64)."""
        return self._call("dt.year")

    def month(self) -> Expression:
        """Month 1-12 (int64)."""
        return self._call("dt.month")

    def day(self) -> Expression:
        """Day of month (int64)."""
        return self._call("dt.day")

    def hour(self) -> Expression:
        """Hour (int64)."""
        return self._call("dt.hour")

    def minute(self) -> Expression:
        """Minute (int64)."""
        return self._call("dt.minute")

    def second(self) -> Expression:
        """Second (int64)."""
        return self._call("dt.second")

    def day_of_week(self) -> Expression:
        """Day of week, Monday = 0 (int64)."""
        return self._call("dt.day_of_week")

    def date(self) -> Expression:
        """The calendar date (in the timestamp's own time zone)."""
        return self._call("dt.date")

    def truncate(self, interval: str) -> Expression:
        """Round down to a multiple of ``interval`` such as ``"1 day"`` or ``"15 minutes"``
        (Daft 0.7: ``date_trunc``)."""
        try:
            parse_interval(interval)  # validate now, not mid-query
        except ValueError as exc:
            raise ValueError(f"truncate/date_trunc: {exc}") from None
        return self._call("dt.truncate", interval=interval)


class ListNamespace(_Namespace):
    """List functions.

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"l": [["a", "b"], []]})
    >>> df.select(sf.col("l").list.lengths(), sf.col("l").list.get(0).alias("first")).to_pydict()
    {'l': [2, 0], 'first': ['a', None]}
    """

    __slots__ = ()

    def lengths(self) -> Expression:
        """Number of elements (int64)."""
        return self._call("list.lengths")

    def get(self, index: int, default: Any = None) -> Expression:
        """Element ``index`` (negative counts from the end); ``default`` when out of range."""
        if not isinstance(index, int):
            raise TypeError(f"list.get index must be an int, got {index!r}")
        return self._call("list.get", index=index, default=default)

    def join(self, delimiter: str) -> Expression:
        """Join a list of strings with ``delimiter``."""
        return self._call("list.join", delimiter=_text(delimiter, "join"))


def _text(value: Any, method: str) -> str:
    if isinstance(value, Expression):
        raise TypeError(
            f"{method} needs a string argument, got the expression {value!r}; a value per "
            "row is not supported, pass a Python str"
        )
    if not isinstance(value, str):
        raise TypeError(f"{method} needs a string argument, got {value!r}")
    return value


def _regex(pattern: Any, method: str) -> str:
    """Check a regular expression now (RE2 syntax), so a typo fails before the query runs."""
    _text(pattern, method)
    try:
        pc.match_substring_regex(pa.array([""]), pattern=pattern)
    except pa.ArrowInvalid as exc:
        raise ValueError(
            f"{method}: bad regular expression {pattern!r}: {exc} (the syntax is RE2's)"
        ) from None
    return pattern
