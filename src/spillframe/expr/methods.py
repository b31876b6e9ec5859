"""Daft 0.7's string and temporal functions as :class:`~spillframe.expr.Expression`
methods (``col("s").contains("a")``, ``col("d").year()``).

Daft 0.7 dropped the ``.str`` and ``.dt`` namespaces for these methods; spillframe
keeps both. Each method here delegates to its ``.str``/``.dt`` twin (or, for
``length``, a function that also counts lists and bytes), so validation, typing and
evaluation have one implementation.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spillframe.expr.expression import Expression
    from spillframe.expr.namespaces import DtNamespace, StrNamespace


class StringMethods:
    """String methods with Daft 0.7's names; mixed into ``Expression``."""

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def str(self) -> StrNamespace: ...

        def _call(self, fn: builtins.str, *args: Expression, **options: Any) -> Expression: ...

    def contains(self, substr: builtins.str) -> Expression:
        """True where the string contains ``substr`` (a plain substring, not a pattern);
        ``.str.contains``.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"s": ["a.b", "ab", None]})
        >>> df.select(sf.col("s").contains(".")).to_pydict()
        {'s': [True, False, None]}
        """
        return self.str.contains(substr)

    def startswith(self, prefix: builtins.str) -> Expression:
        """True where the string starts with ``prefix``; ``.str.startswith``.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"s": ["PROMO X", "STD"]}).select(sf.col("s").startswith("PROMO")).to_pydict()
        {'s': [True, False]}
        """
        return self.str.startswith(prefix)

    def endswith(self, suffix: builtins.str) -> Expression:
        """True where the string ends with ``suffix``; ``.str.endswith``.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"s": ["SMALL BRASS", "TIN"]}).select(sf.col("s").endswith("BRASS")).to_pydict()
        {'s': [True, False]}
        """
        return self.str.endswith(suffix)

    def regexp(self, pattern: builtins.str) -> Expression:
        """True where the regular expression ``pattern`` (RE2 syntax) matches anywhere in
        the string, as Daft's ``regexp`` (a search: anchor with ``^...$`` for a whole-string
        match); ``.str.match``.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"s": ["xbarx", "bar", "foo"]})
        >>> df.select(sf.col("s").regexp("ba."), sf.col("s").regexp("^bar$").alias("whole")).to_pydict()
        {'s': [True, True, False], 'whole': [False, True, False]}
        """
        return self.str.match(pattern)

    def like(self, pattern: builtins.str) -> Expression:
        """True where the whole string matches the SQL LIKE ``pattern``: ``%`` stands
        for any characters, ``_`` for one, ``\\`` escapes them; case-sensitive;
        ``.str.like``.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"s": ["daft", "Daft", "draft"]})
        >>> df.select(sf.col("s").like("da%"), sf.col("s").like("d_aft").alias("one")).to_pydict()
        {'s': [True, False, False], 'one': [False, False, True]}
        """
        return self.str.like(pattern)

    def ilike(self, pattern: builtins.str) -> Expression:
        """:meth:`like`, ignoring case; ``.str.ilike``.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"s": ["daft", "Daft", "draft"]}).select(sf.col("s").ilike("da%")).to_pydict()
        {'s': [True, True, False]}
        """
        return self.str.ilike(pattern)

    def lower(self) -> Expression:
        """Lower-case; ``.str.lower``.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"s": ["ÄbC"]}).select(sf.col("s").lower()).to_pydict()
        {'s': ['äbc']}
        """
        return self.str.lower()

    def upper(self) -> Expression:
        """Upper-case; ``.str.upper``.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"s": ["äbc"]}).select(sf.col("s").upper()).to_pydict()
        {'s': ['ÄBC']}
        """
        return self.str.upper()

    def strip(self) -> Expression:
        """Remove leading and trailing whitespace; ``.str.strip``.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"s": ["  a b  "]}).select(sf.col("s").strip()).to_pydict()
        {'s': ['a b']}
        """
        return self.str.strip()

    def length(self) -> Expression:
        """Length (int64): characters of a string (``.str.length``), bytes of a binary
        value, elements of a list (``.list.lengths``).

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"s": ["héllo", None], "l": [[1, 2], []]})
        >>> df.select(sf.col("s").length(), sf.col("l").length()).to_pydict()
        {'s': [5, None], 'l': [2, 0]}
        """
        return self._call("length")

    def split(self, split_on: builtins.str) -> Expression:
        """Split into a list of strings on the plain string ``split_on``;
        ``.str.split``.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"s": ["a.b.c"]}).select(sf.col("s").split(".")).to_pydict()
        {'s': [['a', 'b', 'c']]}
        """
        return self.str.split(split_on)

    def regexp_split(self, pattern: builtins.str) -> Expression:
        """Split into a list of strings on each match of the regular expression
        ``pattern``; ``.str.split(pattern, regex=True)``.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"s": ["a1b22c"]}).select(sf.col("s").regexp_split(r"\\d+")).to_pydict()
        {'s': [['a', 'b', 'c']]}
        """
        return self.str.split(pattern, regex=True)

    def concat(self, other: Any) -> Expression:
        """Append ``other`` (a string or a string expression); null where either is
        null; ``.str.concat``.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"a": ["x", None], "b": ["1", "2"]})
        >>> df.select(sf.col("a").concat(sf.col("b")), sf.col("b").concat("!")).to_pydict()
        {'a': ['x1', None], 'b': ['1!', '2!']}
        """
        return self.str.concat(other)

    def replace(self, search: builtins.str, replacement: builtins.str) -> Expression:
        """Replace every occurrence of the plain string ``search`` by ``replacement``;
        ``.str.replace``.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"s": ["a.b.c"]}).select(sf.col("s").replace(".", "-")).to_pydict()
        {'s': ['a-b-c']}
        """
        return self.str.replace(search, replacement)

    def regexp_replace(self, pattern: builtins.str, replacement: builtins.str) -> Expression:
        """Replace every match of the regular expression ``pattern`` by ``replacement``
        (``\\1`` refers to a group); ``.str.replace(..., regex=True)``.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"s": ["ab12"]})
        >>> df.select(sf.col("s").regexp_replace(r"([a-z]+)(\\d+)", r"\\2-\\1")).to_pydict()
        {'s': ['12-ab']}
        """
        return self.str.replace(pattern, replacement, regex=True)

    def substr(self, start: int, length: int | None = None) -> Expression:
        """``length`` characters from position ``start`` (0-based, as Daft), to the end
        when ``length`` is None; ``.str.substr``.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"s": ["13-555", "daft"]})
        >>> df.select(sf.col("s").substr(0, 2), sf.col("s").substr(2).alias("rest")).to_pydict()
        {'s': ['13', 'da'], 'rest': ['-555', 'ft']}
        """
        return self.str.substr(start, length)


class TemporalMethods:
    """Date and time methods with Daft 0.7's names; mixed into ``Expression``."""

    __slots__ = ()

    if TYPE_CHECKING:

        @property
        def dt(self) -> DtNamespace: ...

    def year(self) -> Expression:
        """Year of a date or timestamp (int64; a time-zone-aware timestamp's local
        year); ``.dt.year``.

        Examples
        --------
        >>> import datetime, spillframe as sf
        >>> sf.from_pydict({"d": [datetime.date(1995, 3, 15)]}).select(sf.col("d").year()).to_pydict()
        {'d': [1995]}
        """
        return self.dt.year()

    def month(self) -> Expression:
        """Month 1-12 (int64); ``.dt.month``.

        Examples
        --------
        >>> import datetime, spillframe as sf
        >>> sf.from_pydict({"d": [datetime.date(1995, 3, 15)]}).select(sf.col("d").month()).to_pydict()
        {'d': [3]}
        """
        return self.dt.month()

    def day(self) -> Expression:
        """Day of the month (int64); ``.dt.day``.

        Examples
        --------
        >>> import datetime, spillframe as sf
        >>> sf.from_pydict({"d": [datetime.date(1995, 3, 15)]}).select(sf.col("d").day()).to_pydict()
        {'d': [15]}
        """
        return self.dt.day()

    def hour(self) -> Expression:
        """Hour (int64); ``.dt.hour``.

        Examples
        --------
        >>> import datetime, spillframe as sf
        >>> df = sf.from_pydict({"t": [datetime.datetime(2024, 1, 2, 7, 8, 9)]})
        >>> df.select(sf.col("t").hour()).to_pydict()
        {'t': [7]}
        """
        return self.dt.hour()

    def minute(self) -> Expression:
        """Minute (int64); ``.dt.minute``.

        Examples
        --------
        >>> import datetime, spillframe as sf
        >>> df = sf.from_pydict({"t": [datetime.datetime(2024, 1, 2, 7, 8, 9)]})
        >>> df.select(sf.col("t").minute()).to_pydict()
        {'t': [8]}
        """
        return self.dt.minute()

    def second(self) -> Expression:
        """Second (int64); ``.dt.second``.

        Examples
        --------
        >>> import datetime, spillframe as sf
        >>> df = sf.from_pydict({"t": [datetime.datetime(2024, 1, 2, 7, 8, 9)]})
        >>> df.select(sf.col("t").second()).to_pydict()
        {'t': [9]}
        """
        return self.dt.second()

    def day_of_week(self) -> Expression:
        """Day of the week, Monday = 0 to Sunday = 6 (int64); ``.dt.day_of_week``.

        Examples
        --------
        >>> import datetime, spillframe as sf
        >>> df = sf.from_pydict({"d": [datetime.date(2024, 7, 3)]})
        >>> df.select(sf.col("d").day_of_week()).to_pydict()
        {'d': [2]}
        """
        return self.dt.day_of_week()

    def date(self) -> Expression:
        """The calendar date of a timestamp (in its own time zone); ``.dt.date``.

        Examples
        --------
        >>> import datetime, spillframe as sf
        >>> df = sf.from_pydict({"t": [datetime.datetime(2024, 1, 2, 7, 8, 9)]})
        >>> df.select(sf.col("t").date()).to_pydict()
        {'t': [datetime.date(2024, 1, 2)]}
        """
        return self.dt.date()

    def date_trunc(self, interval: builtins.str, relative_to: Any = None) -> Expression:
        """Round down to a multiple of ``interval`` (``"1 day"``, ``"15 minutes"``),
        counted from the Unix epoch; ``.dt.truncate``. ``relative_to`` (Daft's custom
        origin) is not supported.

        Examples
        --------
        >>> import datetime, spillframe as sf
        >>> df = sf.from_pydict({"t": [datetime.datetime(2021, 1, 1, 0, 1, 59)]})
        >>> df.select(sf.col("t").date_trunc("1 minute")).to_pylist()
        [{'t': datetime.datetime(2021, 1, 1, 0, 1)}]
        """
        if relative_to is not None:
            raise ValueError(
                "date_trunc(relative_to=...) is not supported: intervals count from "
                "1970-01-01; shift the values before and after truncating instead"
            )
        return self.dt.truncate(interval)
