"""The DataFrame: a small immutable wrapper around a logical plan."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TextIO

import pandas as pd
import pyarrow as pa

from spillframe.api import execution
from spillframe.api.aggregations import GlobalAggregations, GroupedDataFrame, agg_exprs
from spillframe.api.reshape import Reshaping
from spillframe.api.rows import RowSelection
from spillframe.api.set_ops import SetOperations
from spillframe.errors import SchemaError, missing_column_message
from spillframe.expr.expression import Alias, Column, Expression, Function, col
from spillframe.kernels.exchange import concat_tables
from spillframe.logical import nodes as L
from spillframe.runners.base import get_runner

if TYPE_CHECKING:
    from spillframe.runners.stats import QueryStats

ColumnLike = str | Expression


def _to_expr(value: ColumnLike) -> Expression:
    if isinstance(value, str):
        return col(value)
    if isinstance(value, Expression):
        return value
    raise TypeError(f"expected a column name or an expression, got {value!r}")


def _flatten(args: tuple[Any, ...]) -> list[Any]:
    """Accept ``f("a", "b")`` and ``f(["a", "b"])`` alike."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        return list(args[0])
    return list(args)


class DataFrame(GlobalAggregations, SetOperations, Reshaping, RowSelection):
    """A lazy, partitioned table. Every method returns a new DataFrame; nothing runs
    until an eager call (``collect``, ``show``, ``to_pandas``, ``write_*``...).

    Examples
    --------
    >>> import spillframe as sf
    >>> df = sf.from_pydict({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    >>> df.where(sf.col("x") > 1).select("y").to_pydict()
    {'y': ['b', 'c']}
    """

    __slots__ = ("_plan", "_cache", "_stats")

    def __init__(self, plan: L.LogicalPlan) -> None:
        self._plan = plan
        self._cache: list[pa.Table] | None = None
        self._stats: QueryStats | None = None

    # -- plan access ------------------------------------------------------------------
    @property
    def _builder(self) -> L.LogicalPlan:
        """The plan new queries start from: the cache once collected."""
        if self._cache is not None:
            return L.InMemorySource(tuple(self._cache), self._plan.schema)
        return self._plan

    def _new(self, plan: L.LogicalPlan) -> DataFrame:
        return DataFrame(plan)

    @property
    def column_names(self) -> list[str]:
        """Names of the columns, in order."""
        return list(self._plan.schema.names)

    def schema(self) -> pa.Schema:
        """The schema the query will produce (known before anything runs).

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1]}).schema()
        a: int64
        """
        return self._plan.schema

    def __getitem__(self, name: str) -> Expression:
        if not isinstance(name, str):
            raise TypeError(f"df[...] takes a column name, got {name!r}")
        self._check_columns([name])
        return col(name)

    def _check_columns(self, names: list[str]) -> None:
        for name in names:
            if name not in self._plan.schema.names:
                raise SchemaError(missing_column_message(name, self.column_names))

    def __repr__(self) -> str:
        """A grid of the first rows when collected, of the columns when lazy; never
        runs a query (see :mod:`spillframe.api.display`).

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, 2]})  # doctest: +NORMALIZE_WHITESPACE
        +-------+
        | a     |
        | int64 |
        +=======+
        +-------+
        (No data to display: DataFrame not materialized; .show() runs the query for a
        preview, .collect() runs all of it)
        """
        from spillframe.api.display import text

        return text(self)

    def _repr_html_(self) -> str:
        """The notebook view: an HTML table of the first 8 cached rows when collected,
        of the columns and types when lazy; never runs a query."""
        from spillframe.api.display import html_table

        return html_table(self)

    def _repr_markdown_(self) -> str:
        """The same view as a Markdown table; never runs a query."""
        from spillframe.api.display import markdown_table

        return markdown_table(self)

    # -- projection ----------------------------------------------------------------------
    def select(
        self, *columns: ColumnLike | Mapping[str, ColumnLike], **projections: Expression
    ) -> DataFrame:
        """Keep or compute these columns, in this order.

        Keyword arguments (and a ``{name: expression}`` dict) name their expressions:
        ``select("a", total=col("x") + col("y"))``.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, 2], "b": [3, 4]}).select("b", sf.col("a") * 2).to_pydict()
        {'b': [3, 4], 'a': [2, 4]}
        >>> sf.from_pydict({"a": [1, 2]}).select("a", twice=sf.col("a") * 2).to_pydict()
        {'a': [1, 2], 'twice': [2, 4]}
        """
        exprs: list[Expression] = []
        for c in _flatten(columns):
            if isinstance(c, Mapping):
                exprs.extend(_to_expr(e).alias(name) for name, e in c.items())
            else:
                exprs.append(_to_expr(c))
        exprs.extend(_to_expr(e).alias(name) for name, e in projections.items())
        if not exprs:
            raise ValueError("select() needs at least one column")
        return self._project(exprs)

    def with_columns(self, columns: Mapping[str, Expression]) -> DataFrame:
        """Add or replace several columns at once (``{name: expression}``).

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"a": [1, 2]})
        >>> df.with_columns({"b": sf.col("a") + 1, "a": sf.col("a") * 10}).to_pydict()
        {'a': [10, 20], 'b': [2, 3]}
        """
        if not isinstance(columns, Mapping):
            raise TypeError("with_columns takes a dict of {name: expression}")
        new = {
            name: _to_expr(e).alias(name) if not isinstance(e, str) else col(e).alias(name)
            for name, e in columns.items()
        }
        exprs = [new.pop(n) if n in new else col(n) for n in self.column_names]
        exprs.extend(new.values())
        return self._project(exprs)

    def with_column(self, name: str, expr: Expression) -> DataFrame:
        """Add (or replace) column ``name`` computed by ``expr``.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"x": [1, 2]}).with_column("y", sf.col("x") + 1).to_pydict()
        {'x': [1, 2], 'y': [2, 3]}
        """
        if not isinstance(name, str):
            raise TypeError(f"with_column name must be a string, got {name!r}")
        return self.with_columns({name: expr})

    def with_column_renamed(self, existing: str, new: str) -> DataFrame:
        """Rename one column.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1]}).with_column_renamed("a", "b").column_names
        ['b']
        """
        self._check_columns([existing])
        exprs = [col(n).alias(new) if n == existing else col(n) for n in self.column_names]
        return self._new(L.Project(self._builder, exprs=tuple(exprs)))

    def exclude(self, *names: str) -> DataFrame:
        """Drop these columns.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1], "b": [2]}).exclude("a").column_names
        ['b']
        """
        names_list = _flatten(names)
        self._check_columns(names_list)
        keep = [col(n) for n in self.column_names if n not in names_list]
        if not keep:
            raise ValueError("exclude() would drop every column")
        return self._new(L.Project(self._builder, exprs=tuple(keep)))

    def _project(self, exprs: list[Expression]) -> DataFrame:
        """A projection; columns that are ``.explode()`` calls become a projection of
        their lists followed by an ``Explode`` node (it changes the row count)."""
        exploded = [e for e in exprs if _explode_call(e) is not None]
        if not exploded:
            return self._new(L.Project(self._builder, exprs=tuple(exprs)))
        lists = []
        for e in exprs:
            call = _explode_call(e)
            lists.append(e if call is None else call.args[0].alias(e.output_name()))
        plan: L.LogicalPlan = L.Project(self._builder, exprs=tuple(lists))
        names = tuple(e.output_name() for e in exploded)
        dropping = [
            e.output_name()
            for e in exploded
            if (call := _explode_call(e)) is not None and call.kwargs["ignore_empty_and_null"]
        ]
        if dropping:
            keep = col(dropping[0]).list.lengths() > 0
            for name in dropping[1:]:
                keep = keep & (col(name).list.lengths() > 0)
            plan = L.Filter(plan, predicate=keep)
        return self._new(L.Explode(plan, columns=names))

    # -- rows ----------------------------------------------------------------------------------
    def where(self, predicate: Expression | str) -> DataFrame:
        """Keep rows where ``predicate`` is true (null counts as false).

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"a": [1, None, 3]})
        >>> df.where(sf.col("a") > 1).to_pydict()
        {'a': [3]}
        """
        return self._new(L.Filter(self._builder, predicate=_to_expr(predicate)))

    filter = where

    def limit(self, num: int) -> DataFrame:
        """The first ``num`` rows.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, 2, 3]}, num_partitions=2).limit(2).to_pydict()
        {'a': [1, 2]}
        """
        if not isinstance(num, int) or num < 0:
            raise ValueError(f"limit needs an int >= 0, got {num!r}")
        return self._new(L.Limit(self._builder, n=num))

    def drop_null(self, *names: str) -> DataFrame:
        """Drop rows with a null in any of ``names`` (every column when none given).

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, None], "b": [None, 2]}).drop_null("a").to_pydict()
        {'a': [1], 'b': [None]}
        """
        names_list = _flatten(names) or self.column_names
        self._check_columns(names_list)
        predicate = col(names_list[0]).not_null()
        for name in names_list[1:]:
            predicate = predicate & col(name).not_null()
        return self.where(predicate)

    def explode(
        self,
        *columns: ColumnLike,
        index_column: str | None = None,
        ignore_empty_and_null: bool = False,
    ) -> DataFrame:
        """One row per element of these list columns (exploded together); an empty or
        null list gives one row of nulls, or none with ``ignore_empty_and_null=True``.
        Daft's ``index_column`` (each element's position) is not supported.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"id": [1, 2, 3], "l": [["x", "y"], [], None]})
        >>> df.explode("l").to_pydict()
        {'id': [1, 1, 2, 3], 'l': ['x', 'y', None, None]}
        >>> df.explode("l", ignore_empty_and_null=True).to_pydict()
        {'id': [1, 1], 'l': ['x', 'y']}
        """
        if index_column is not None:
            raise ValueError(
                "explode(index_column=...) is not supported; number the elements before "
                "exploding instead"
            )
        names = []
        for c in _flatten(columns):
            expr = _to_expr(c)
            if not isinstance(expr, Column):
                raise TypeError(f"explode takes column names, got {expr!r}")
            names.append(expr.name)
        if not names:
            raise ValueError("explode() needs at least one column")
        plan = self._builder
        if ignore_empty_and_null:
            self._check_columns(names)
            keep = col(names[0]).list.lengths() > 0
            for name in names[1:]:
                keep = keep & (col(name).list.lengths() > 0)
            plan = L.Filter(plan, predicate=keep)
        return self._new(L.Explode(plan, columns=tuple(names)))

    def concat(self, other: DataFrame) -> DataFrame:
        """The rows of this DataFrame followed by those of ``other`` (same schema).

        Examples
        --------
        >>> import spillframe as sf
        >>> a, b = sf.from_pydict({"x": [1]}), sf.from_pydict({"x": [2]})
        >>> a.concat(b).to_pydict()
        {'x': [1, 2]}
        """
        if not isinstance(other, DataFrame):
            raise TypeError(f"concat takes a DataFrame, got {type(other).__name__}")
        return self._new(L.Concat(self._builder, other._builder))

    # -- partitions ----------------------------------------------------------------------------
    def into_partitions(self, num: int) -> DataFrame:
        """Split or merge into exactly ``num`` partitions, without a shuffle.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": list(range(10))}).into_partitions(4).num_partitions()
        4
        """
        if not isinstance(num, int) or num < 1:
            raise ValueError(f"into_partitions needs an int >= 1, got {num!r}")
        return self._new(L.IntoPartitions(self._builder, n=num))

    def repartition(self, num: int | None, *keys: ColumnLike, seed: int | None = None) -> DataFrame:
        """Hash-shuffle into ``num`` partitions by ``keys`` (random when no keys).

        ``num=None`` picks the count from the estimated size.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"k": [1, 2, 3, 1]}).repartition(2, "k")
        >>> df.num_partitions(), df.count_rows()
        (2, 4)
        """
        if num is not None and (not isinstance(num, int) or num < 1):
            raise ValueError(f"repartition needs an int >= 1 or None, got {num!r}")
        exprs = tuple(_to_expr(k) for k in _flatten(keys))
        return self._new(L.Repartition(self._builder, n=num, keys=exprs, seed=seed))

    def num_partitions(self) -> int:
        """Partitions the query will produce, exactly as it will run (plans, runs nothing).

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, 2, 3]}, num_partitions=3).num_partitions()
        3
        """
        config = execution.runner_config(get_runner())
        return execution.physical_plan(self._builder, config=config).num_partitions()

    # -- wide operators ------------------------------------------------------------------------
    def sort(
        self,
        by: ColumnLike | list[ColumnLike],
        desc: bool | list[bool] = False,
        nulls_first: bool | list[bool] | None = None,
    ) -> DataFrame:
        """Order rows by one or more keys; ``desc`` and ``nulls_first`` per key.

        Nulls sort last in ascending and first in descending order unless
        ``nulls_first`` says otherwise.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"x": [2, None, 1]})
        >>> df.sort("x").to_pydict()
        {'x': [1, 2, None]}
        """
        keys = [_to_expr(k) for k in (by if isinstance(by, list) else [by])]
        if not keys:
            raise ValueError("sort needs at least one key")
        descending = _per_key(desc, len(keys), "desc")
        nulls = _per_key(
            descending if nulls_first is None else nulls_first, len(keys), "nulls_first"
        )
        return self._new(
            L.Sort(
                self._builder,
                keys=tuple(keys),
                descending=tuple(descending),
                nulls_first=tuple(nulls),
            )
        )

    def groupby(self, *keys: ColumnLike) -> GroupedDataFrame:
        """Group rows by keys (column names or expressions); follow with ``.agg(...)``.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"k": [1, 1, 2], "v": [1, 2, 3]})
        >>> df.groupby("k").agg(sf.col("v").max()).sort("k").to_pydict()
        {'k': [1, 2], 'v': [2, 3]}
        """
        exprs = tuple(_to_expr(k) for k in _flatten(keys))
        if not exprs:
            raise ValueError("groupby needs at least one key")
        return GroupedDataFrame(self, exprs)

    def agg(self, *aggs: Any) -> DataFrame:
        """Aggregate over all rows into one row.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"x": [1, 2, 3]}).agg(sf.col("x").sum().alias("total")).to_pydict()
        {'total': [6]}
        """
        return self._new(L.Aggregate(self._builder, keys=(), aggs=agg_exprs(aggs)))

    def distinct(self, *on: str) -> DataFrame:
        """Drop duplicate rows, comparing the columns ``on`` (all when none).

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, 1, 2]}).distinct().sort("a").to_pydict()
        {'a': [1, 2]}
        """
        names = _key_names(_flatten(on), "distinct") if on else []
        return self._new(L.Distinct(self._builder, on=tuple(names)))

    unique = distinct

    def drop_duplicates(self, *subset: str) -> DataFrame:
        """Drop duplicate rows, comparing the columns ``subset`` (all when none); the
        same as :meth:`distinct`.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"x": [1, 2, 2], "y": [4, 5, 5]})
        >>> df.drop_duplicates().sort("x").to_pydict()
        {'x': [1, 2], 'y': [4, 5]}
        """
        return self.distinct(*subset)

    def join(
        self,
        other: DataFrame,
        on: ColumnLike | list[ColumnLike] | None = None,
        left_on: ColumnLike | list[ColumnLike] | None = None,
        right_on: ColumnLike | list[ColumnLike] | None = None,
        how: str = "inner",
        strategy: str | None = None,
        prefix: str | None = None,
        suffix: str | None = None,
    ) -> DataFrame:
        """Join with ``other`` on keys: column names or expressions.

        ``how`` is one of inner, left, right, outer, semi, anti, cross; ``strategy``
        None (chosen from sizes), "hash", "broadcast" or "sort_merge" (planned as a hash
        join; inner joins only, as in Daft). Keys may be expressions
        (``left_on=col("a") * 10``); they are not output columns. Right columns whose
        names clash with left ones are renamed ``prefix + name + suffix`` (Daft's rule;
        ``right.<name>`` when neither is given). See :mod:`spillframe.api.joins`.

        Examples
        --------
        >>> import spillframe as sf
        >>> a = sf.from_pydict({"k": [1, 2], "x": ["a", "b"]})
        >>> b = sf.from_pydict({"k": [2, 3], "x": ["c", "d"]})
        >>> a.join(b, on="k").to_pydict()
        {'k': [2], 'x': ['b'], 'right.x': ['c']}
        >>> a.join(b, left_on=sf.col("k") + 1, right_on="k", suffix="_b").to_pydict()
        {'k': [1, 2], 'x': ['a', 'b'], 'k_b': [2, 3], 'x_b': ['c', 'd']}
        """
        from spillframe.api.joins import join_plan

        return self._new(
            join_plan(self, other, on, left_on, right_on, how, strategy, prefix, suffix)
        )

    # -- running ---------------------------------------------------------------------------------
    def iter_partitions(self) -> Iterator[pa.Table]:
        """Run the query and yield its partitions (pyarrow Tables) in order, as they finish.

        Examples
        --------
        >>> import spillframe as sf
        >>> [t.num_rows for t in sf.from_pydict({"a": [1, 2, 3]}, num_partitions=2).iter_partitions()]
        [1, 2]
        """
        if self._cache is not None:
            yield from self._cache
            return
        yield from execution.execute(self._plan, self._keep_stats)

    def _keep_stats(self, stats: QueryStats) -> None:
        self._stats = stats

    def stats(self) -> QueryStats:
        """What the last query this DataFrame ran did, stage by stage.

        Every eager call (``collect``, ``show``, ``to_pandas``, ``count_rows``,
        ``write_*``, ``explain(analyze=True)``...) replaces it; reading a collected
        DataFrame's cached partitions runs no query and keeps it. Per stage: operator,
        tasks, wall time, rows and bytes out, peak reserved memory, spilled bytes and
        objects (and worker restarts on Dask), next to the planner's estimates; see
        :class:`spillframe.runners.stats.QueryStats`. ``to_pandas()`` gives a table.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"a": [1, 2, 3]}, num_partitions=2)
        >>> df.where(sf.col("a") > 1).count_rows()
        2
        >>> df.stats()
        Traceback (most recent call last):
        ...
        ValueError: no query has run on this DataFrame yet: ...
        >>> df = df.collect()
        >>> df.stats().stage(0).tasks, df.stats().rows_out
        (2, 3)
        """
        if self._stats is None:
            raise ValueError(
                "no query has run on this DataFrame yet: stats() describes the last eager "
                "call on this same DataFrame (collect(), show(), to_pandas(), "
                "explain(analyze=True)...)"
            )
        return self._stats

    def collect(self) -> DataFrame:
        """Run the query and keep its partitions; later queries start from them.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"a": [1, 2]}).where(sf.col("a") > 1).collect()
        >>> df  # doctest: +NORMALIZE_WHITESPACE
        +-------+
        | a     |
        | int64 |
        +=======+
        | 2     |
        +-------+
        (showing all 1 rows)
        """
        if self._cache is None:
            self._cache = list(self.iter_partitions())
        return self

    def to_arrow(self) -> pa.Table:
        """Run the query and return one pyarrow Table.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1]}).to_arrow().num_rows
        1
        """
        return concat_tables(list(self.iter_partitions()), self._plan.schema)

    def to_pandas(self) -> pd.DataFrame:
        """Run the query and return a pandas DataFrame.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, 2]}).to_pandas()["a"].sum()
        np.int64(3)
        """
        return self.to_arrow().to_pandas()

    def to_pydict(self) -> dict[str, list[Any]]:
        """Run the query and return ``{column: [values]}``.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1]}).to_pydict()
        {'a': [1]}
        """
        return self.to_arrow().to_pydict()

    def to_pylist(self) -> list[dict[str, Any]]:
        """Run the query and return a list of row dicts.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, 2]}).to_pylist()
        [{'a': 1}, {'a': 2}]
        """
        return self.to_arrow().to_pylist()

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        """Run the query and yield rows as dicts, one partition in memory at a time.

        Examples
        --------
        >>> import spillframe as sf
        >>> next(sf.from_pydict({"a": [1, 2]}).iter_rows())
        {'a': 1}
        """
        for part in self.iter_partitions():
            yield from part.to_pylist()

    def count_rows(self) -> int:
        """Run the query and return its number of rows.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, 2, 3]}).where(sf.col("a") > 1).count_rows()
        2
        """
        if self._cache is not None:
            return sum(t.num_rows for t in self._cache)
        first = self.column_names[0]
        counted = DataFrame(
            L.Aggregate(self._plan, keys=(), aggs=(col(first).count("all").alias("count"),))
        )
        count = counted.to_pydict()["count"][0]
        self._stats = counted._stats
        return count

    def __len__(self) -> int:
        return self.count_rows()

    def show(self, n: int = 8, file: TextIO | None = None) -> None:
        """Print the first ``n`` rows; only as much of the query runs as needed.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, 2, 3]}).show(1)  # doctest: +NORMALIZE_WHITESPACE
        +-------+
        | a     |
        | int64 |
        +=======+
        | 1     |
        +-------+
        (showing 1 rows)
        >>> sf.from_pydict({"a": [1]}).where(sf.col("a") > 5).show()  # doctest: +NORMALIZE_WHITESPACE
        +-------+
        | a     |
        | int64 |
        +=======+
        +-------+
        (No data to display: Materialized dataframe has no rows)
        """
        limited = self.limit(n)
        table = limited.to_arrow()
        if self._cache is None:  # a preview of the cache is no query of this DataFrame's
            self._stats = limited._stats
        print(_format_table(table), file=file or sys.stdout)

    def explain(
        self, show_all: bool = False, file: TextIO | None = None, analyze: bool = False
    ) -> None:
        """Print the plan: optimized and physical (and the unoptimized with ``show_all``).

        The physical plan lists every stage with its partition count, estimated bytes
        and rows, and the memory one of its tasks reserves. With ``analyze=True`` the
        query runs first (like DuckDB's ``EXPLAIN ANALYZE``; its rows are dropped) and
        each stage gets an ``actual:`` line beside the estimates: tasks, wall time,
        rows and bytes out, peak reserved memory, spilled bytes and objects (and
        worker restarts on Dask); :meth:`stats` holds the same numbers afterwards.
        The text is plain (no colours, no box drawing, one stage per line): it reads
        the same in a terminal and in a notebook cell.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"a": [1, 2]}).where(sf.col("a") > 1).explain()  # doctest: +ELLIPSIS
        == Optimized logical plan ==
        Filter: col(a) > lit(1)
          * InMemorySource: 1 partitions, 2 rows
        <BLANKLINE>
        == Physical plan ==
        Stage 0: from-memory-filter, 1 partitions, est. ... [output]
        >>> sf.from_pydict({"a": [1, 2]}).where(sf.col("a") > 1).explain(analyze=True)
        ... # doctest: +ELLIPSIS
        == Optimized logical plan ==
        ...
        == Physical plan, analyzed ==
        Ran query q... on py: ... s, 1 rows, spilled 0 B in 0 objects
        Stage 0: from-memory-filter, 1 partitions, est. ... [output]
            actual: 1/1 tasks, ... s, 1 rows, ... out, peak reserved ..., spilled 0 B (0 objects)
        """
        if analyze:
            text, self._stats = execution.analyze_text(self._builder, show_all)
        else:
            text = execution.explain_text(self._builder, show_all)
        print(text, file=file or sys.stdout)

    def write_parquet(
        self,
        root_dir: str,
        compression: str = "snappy",
        write_mode: str = "append",
        partition_cols: list[ColumnLike] | None = None,
    ) -> DataFrame:
        """Write the rows as Parquet files under ``root_dir``; returns the written paths.

        Files are written under a temporary name and moved into place when every
        partition succeeded, so a failed query leaves nothing behind.

        Examples
        --------
        >>> import spillframe as sf
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> sf.from_pydict({"a": [1, 2]}).write_parquet(root).count_rows()
        1
        >>> sf.read_parquet(root).to_pydict()
        {'a': [1, 2]}
        """
        return self._write(
            "parquet", root_dir, write_mode, partition_cols, {"compression": compression}
        )

    def write_csv(
        self,
        root_dir: str,
        write_mode: str = "append",
        partition_cols: list[ColumnLike] | None = None,
    ) -> DataFrame:
        """Write the rows as CSV files under ``root_dir``; returns the written paths.

        With ``partition_cols``, files go to hive-style directories (``a=1/...``).

        Examples
        --------
        >>> import os, tempfile
        >>> import spillframe as sf
        >>> root = tempfile.mkdtemp()
        >>> _ = sf.from_pydict({"a": [1, 2], "b": ["x", "y"]}).write_csv(root, partition_cols=["a"])
        >>> sorted(os.listdir(root))
        ['a=1', 'a=2']
        """
        return self._write("csv", root_dir, write_mode, partition_cols, {})

    def _write(
        self,
        file_format: str,
        root_dir: str,
        write_mode: str,
        partition_cols: list[ColumnLike] | None,
        options: dict[str, Any],
    ) -> DataFrame:
        """Write through the one execution path (a ``Write`` plan node, see
        :func:`spillframe.api.execution.write`); a DataFrame of the written paths."""
        paths = execution.write(
            self._builder,
            file_format,
            root_dir,
            write_mode,
            partition_cols,
            options,
            on_stats=self._keep_stats,
        )
        table = pa.table({"path": pa.array(paths, pa.string())})
        return DataFrame(L.InMemorySource((table,), table.schema))


def _explode_call(expr: Expression) -> Function | None:
    """The ``explode`` call ``expr`` is (possibly aliased), else None."""
    root = expr.child if isinstance(expr, Alias) else expr
    return root if isinstance(root, Function) and root.fn == "explode" else None


def _per_key(value: bool | list[bool], n: int, name: str) -> list[bool]:
    values = value if isinstance(value, list) else [value] * n
    if len(values) != n or not all(isinstance(v, bool) for v in values):
        raise ValueError(f"{name} must be a bool or a list of {n} bools, got {value!r}")
    return values


def _key_names(keys: ColumnLike | list[ColumnLike], what: str) -> list[str]:
    names = []
    for k in keys if isinstance(keys, list) else [keys]:
        expr = _to_expr(k)
        if not isinstance(expr, Column):
            raise TypeError(
                f"{what} takes column names, got {expr!r}; add the column with with_column() first"
            )
        names.append(expr.name)
    return names


#: What ``show()`` and ``repr`` say for a query without rows (Daft's words).
NO_ROWS = "(No data to display: Materialized dataframe has no rows)"


def _format_table(table: pa.Table, width: int = 24) -> str:
    """A plain-text grid of a small table."""
    names = table.column_names
    rows = [[_cell(v, width) for v in row.values()] for row in table.to_pylist()]
    header = [f"{n}\n{t}" for n, t in zip(names, (str(f.type) for f in table.schema))]
    widths = [max(len(line) for line in h.split("\n")) for h in header]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [rule]
    for part in range(2):
        lines.append(
            "| " + " | ".join(h.split("\n")[part].ljust(w) for h, w in zip(header, widths)) + " |"
        )
    lines.append(rule.replace("-", "="))
    lines.extend("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows)
    lines.append(rule)
    lines.append(f"(showing {len(rows)} rows)" if rows else NO_ROWS)
    return "\n".join(lines)


def _cell(value: Any, width: int) -> str:
    text = "None" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def concat(dfs: Iterable[DataFrame]) -> DataFrame:
    """The rows of every DataFrame of ``dfs``, in order (all with the same schema).

    Examples
    --------
    >>> import spillframe as sf
    >>> parts = [sf.from_pydict({"a": [i, i + 1]}) for i in (1, 5, 9)]
    >>> sf.concat(parts).to_pydict()
    {'a': [1, 2, 5, 6, 9, 10]}
    """
    frames = list(dfs) if not isinstance(dfs, DataFrame) else [dfs]
    if not frames:
        raise ValueError("concat needs at least one DataFrame, got an empty list")
    for frame in frames:
        if not isinstance(frame, DataFrame):
            raise TypeError(f"concat takes DataFrames, got {type(frame).__name__}")
    result = frames[0]
    for frame in frames[1:]:
        result = result.concat(frame)
    return result
