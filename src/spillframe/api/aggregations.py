"""Aggregation entry points: ``DataFrame.sum``/``mean``/... over all rows (one output
row) and :class:`GroupedDataFrame` (one row per group), with Daft's names.

Every shortcut builds the same ``Aggregate`` plan node as ``agg(...)`` would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from spillframe.expr.expression import Column, Expression, col
from spillframe.logical import nodes as L

if TYPE_CHECKING:
    from spillframe.api.dataframe import DataFrame


def _as_expr(value: Any) -> Expression:
    if isinstance(value, str):
        return col(value)
    if isinstance(value, Expression):
        return value
    raise TypeError(f"expected a column name or an expression, got {value!r}")


def _targets(df: DataFrame, cols: tuple[Any, ...], exclude: set[str]) -> list[Expression]:
    """The columns a shortcut aggregates: those given (names, expressions or one list),
    else every column not in ``exclude`` (the group keys), as Daft does."""
    items = list(cols[0]) if len(cols) == 1 and isinstance(cols[0], (list, tuple)) else list(cols)
    if not items:
        items = [n for n in df.column_names if n not in exclude]
        if not items:
            raise ValueError("there is no column to aggregate besides the group keys")
    exprs = [_as_expr(c) for c in items]
    for e in exprs:
        if isinstance(e, Column):
            df._check_columns([e.name])
    return exprs


class GlobalAggregations:
    """``DataFrame`` methods that aggregate every row into one (Daft's global
    aggregations); each is ``df.agg(col(c).<op>() for c in cols)``, over every column
    when none is given."""

    __slots__ = ()

    def _global(self, fn: Callable[[Expression], Expression], cols: tuple[Any, ...]) -> DataFrame:
        df: DataFrame = self  # type: ignore[assignment]
        aggs = tuple(fn(e) for e in _targets(df, cols, set()))
        return df._new(L.Aggregate(df._builder, keys=(), aggs=aggs))

    def sum(self, *cols: Any) -> DataFrame:
        """Sum of each column (every column when none is given), as one row.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, 2, 3], "b": [0.5, None, 1.0]}).sum().to_pydict()
        {'a': [6], 'b': [1.5]}
        """
        return self._global(Expression.sum, cols)

    def mean(self, *cols: Any) -> DataFrame:
        """Mean of each column (every column when none is given), as one row.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, 2, 3]}).mean("a").to_pydict()
        {'a': [2.0]}
        """
        return self._global(Expression.mean, cols)

    def min(self, *cols: Any) -> DataFrame:
        """Smallest value of each column (every column when none is given), as one row.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [3, 1, 2], "s": ["b", "a", None]}).min().to_pydict()
        {'a': [1], 's': ['a']}
        """
        return self._global(Expression.min, cols)

    def max(self, *cols: Any) -> DataFrame:
        """Largest value of each column (every column when none is given), as one row.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [3, 1, 2]}).max("a").to_pydict()
        {'a': [3]}
        """
        return self._global(Expression.max, cols)

    def any_value(self, *cols: Any) -> DataFrame:
        """Any one non-null value of each column (every column when none is given).

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [None, 7, 7]}).any_value("a").to_pydict()
        {'a': [7]}
        """
        return self._global(Expression.any_value, cols)

    def count_distinct(self, *cols: Any) -> DataFrame:
        """Number of distinct non-null values of each column (every column when none).

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, 1, 2, None]}).count_distinct("a").to_pydict()
        {'a': [2]}
        """
        return self._global(Expression.count_distinct, cols)

    def agg_list(self, *cols: Any) -> DataFrame:
        """All values of each column (every column when none) as one list.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, None, 2]}).agg_list("a").to_pydict()
        {'a': [[1, None, 2]]}
        """
        return self._global(Expression.agg_list, cols)

    def stddev(self, *cols: Any, ddof: int = 1) -> DataFrame:
        """Standard deviation of each column (every column when none), divisor
        ``n - ddof``, as one row.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [0, 1, 2]}).stddev("a").to_pydict()
        {'a': [1.0]}
        """
        return self._global(lambda e: e.stddev(ddof), cols)

    def var(self, *cols: Any, ddof: int = 1) -> DataFrame:
        """Variance of each column (every column when none), divisor ``n - ddof``.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [0, 1, 2]}).var("a", ddof=0).to_pydict()
        {'a': [0.6666666666666666]}
        """
        return self._global(lambda e: e.var(ddof), cols)

    def agg_concat(self, *cols: Any, delimiter: str | None = None) -> DataFrame:
        """The non-null strings of each column (every column when none) joined by
        ``delimiter``, as one row.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"s": ["a", None, "b"]}).agg_concat("s", delimiter="-").to_pydict()
        {'s': ['a-b']}
        """
        return self._global(lambda e: e.string_agg(delimiter), cols)

    string_agg = agg_concat

    def count(self, *cols: Any) -> DataFrame:
        """Count rows, or the non-null values of the given columns, as one row.

        ``count()`` and ``count("*")`` count rows into a column named ``count`` (SQL's
        ``COUNT(*)``); ``count("a", "b")`` counts the non-null values of each column.
        Counts are ``int64`` here, as every count of spillframe (Daft's are
        ``UInt64``).

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"a": [1, None, None], "b": [None, 2, 2]})
        >>> df.count().to_pydict(), df.count("*").to_pydict()
        ({'count': [3]}, {'count': [3]})
        >>> df.count("a", "b").to_pydict()
        {'a': [1], 'b': [2]}
        """
        df: DataFrame = self  # type: ignore[assignment]
        if not cols or (len(cols) == 1 and (cols[0] == "*" or type(cols[0]) is int)):
            rows = col(df.column_names[0]).count("all").alias("count")
            return df._new(L.Aggregate(df._builder, keys=(), aggs=(rows,)))
        if any(isinstance(c, str) and c == "*" for c in cols):
            raise ValueError(
                "count() takes either '*' (count rows) or column names (count their "
                f"non-null values), not both: got {list(cols)!r}"
            )
        return self._global(Expression.count, cols)


class GroupedDataFrame:
    """The result of ``groupby``: call ``agg`` (or a shortcut such as ``sum``)."""

    __slots__ = ("_df", "_keys")

    def __init__(self, df: DataFrame, keys: tuple[Expression, ...]) -> None:
        self._df = df
        self._keys = keys

    def agg(self, *aggs: Any) -> DataFrame:
        """One row per group with these aggregations.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"k": ["a", "b", "a"], "v": [1, 2, 3]})
        >>> df.groupby("k").agg(sf.col("v").sum()).sort("k").to_pydict()
        {'k': ['a', 'b'], 'v': [4, 2]}
        """
        return self._df._new(L.Aggregate(self._df._builder, keys=self._keys, aggs=agg_exprs(aggs)))

    def _all(self, fn: Callable[[Expression], Expression], cols: tuple[Any, ...]) -> DataFrame:
        key_names = {k.output_name() for k in self._keys}
        return self.agg(*[fn(e) for e in _targets(self._df, cols, key_names)])

    def sum(self, *cols: Any) -> DataFrame:
        """Sum of the given columns (all non-key columns when none), per group.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"k": [1, 1], "v": [2, 3]}).groupby("k").sum().to_pydict()
        {'k': [1], 'v': [5]}
        """
        return self._all(Expression.sum, cols)

    def mean(self, *cols: Any) -> DataFrame:
        """Mean of the given columns (all non-key columns when none), per group; see ``sum``."""
        return self._all(Expression.mean, cols)

    def min(self, *cols: Any) -> DataFrame:
        """Smallest value of the given columns (all non-key columns when none), per group; see ``sum``."""
        return self._all(Expression.min, cols)

    def max(self, *cols: Any) -> DataFrame:
        """Largest value of the given columns (all non-key columns when none), per group; see ``sum``."""
        return self._all(Expression.max, cols)

    def count(self, *cols: Any) -> DataFrame:
        """Non-null count of the given columns (all non-key columns when none), per group; see ``sum``."""
        return self._all(Expression.count, cols)

    def any_value(self, *cols: Any) -> DataFrame:
        """Any one non-null value of the given columns (all non-key columns when none),
        per group.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"k": [1, 1, 2], "v": [None, 5, 6]})
        >>> df.groupby("k").any_value("v").sort("k").to_pydict()
        {'k': [1, 2], 'v': [5, 6]}
        """
        return self._all(Expression.any_value, cols)

    def count_distinct(self, *cols: Any) -> DataFrame:
        """Distinct non-null values of the given columns (all non-key columns when none),
        per group; see ``sum``."""
        return self._all(Expression.count_distinct, cols)

    def list_agg(self, *cols: Any) -> DataFrame:
        """The values of the given columns (all non-key columns when none) of each group
        as a list (Daft's ``list_agg``; ``agg_list`` is the same).

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"k": [1, 1, 2], "v": [4, 5, 6]})
        >>> df.groupby("k").list_agg("v").sort("k").to_pydict()
        {'k': [1, 2], 'v': [[4, 5], [6]]}
        """
        return self._all(Expression.agg_list, cols)

    agg_list = list_agg

    def stddev(self, *cols: Any, ddof: int = 1) -> DataFrame:
        """Standard deviation (divisor ``n - ddof``) of the given columns (all non-key
        columns when none), per group.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"k": [1, 1, 1, 2], "v": [1.0, 2.0, 3.0, 4.0]})
        >>> df.groupby("k").stddev("v").sort("k").to_pydict()
        {'k': [1, 2], 'v': [1.0, None]}
        """
        return self._all(lambda e: e.stddev(ddof), cols)

    def var(self, *cols: Any, ddof: int = 1) -> DataFrame:
        """Variance (divisor ``n - ddof``) of the given columns (all non-key columns
        when none), per group; see ``stddev``."""
        return self._all(lambda e: e.var(ddof), cols)

    def string_agg(self, *cols: Any, delimiter: str | None = None) -> DataFrame:
        """The non-null strings of the given columns (all non-key columns when none)
        joined by ``delimiter``, per group.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"k": [1, 1, 2], "s": ["a", "b", "c"]})
        >>> df.groupby("k").string_agg("s", delimiter="+").sort("k").to_pydict()
        {'k': [1, 2], 's': ['a+b', 'c']}
        """
        return self._all(lambda e: e.string_agg(delimiter), cols)

    agg_concat = string_agg


#: The ``op`` names of Daft's ``(column, "op")`` aggregation pairs, and the expression
#: method each one calls.
_PAIR_AGGREGATIONS = {
    "sum": "sum",
    "mean": "mean",
    "avg": "mean",
    "min": "min",
    "max": "max",
    "count": "count",
    "count_distinct": "count_distinct",
    "approx_count_distinct": "approx_count_distinct",
    "any_value": "any_value",
    "list": "agg_list",
    "agg_list": "agg_list",
    "stddev": "stddev",
    "std": "stddev",
    "var": "var",
    "list_agg": "list_agg",
    "string_agg": "string_agg",
}


def _is_pair(item: Any) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str)


def pair_aggregation(column: Any, op: str) -> Expression:
    """The aggregation expression of Daft's ``(column, "op")`` pair."""
    if op not in _PAIR_AGGREGATIONS:
        raise ValueError(
            f"unknown aggregation {op!r} for column {column!r}; "
            f"choose one of {', '.join(sorted(_PAIR_AGGREGATIONS))}"
        )
    return getattr(_as_expr(column), _PAIR_AGGREGATIONS[op])()


def agg_exprs(aggs: tuple[Any, ...]) -> tuple[Expression, ...]:
    """Accept expressions and Daft's older ``(column, "op")`` pairs, one by one or in a
    list (a lone pair is a pair, not two arguments)."""
    result = []
    if len(aggs) == 1 and _is_pair(aggs[0]):
        items = [aggs[0]]
    elif len(aggs) == 1 and isinstance(aggs[0], (list, tuple)):
        items = list(aggs[0])
    else:
        items = list(aggs)
    for item in items:
        if _is_pair(item):
            result.append(pair_aggregation(item[0], item[1]))
        elif isinstance(item, Expression):
            result.append(item)
        else:
            raise TypeError(
                f"agg takes aggregation expressions such as col('x').sum(), got {item!r}"
            )
    if not result:
        raise ValueError("agg needs at least one aggregation")
    return tuple(result)
