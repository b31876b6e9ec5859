"""Set operations between DataFrames (Daft's names): unions, intersections and
differences, built from concat, aggregation and row repetition in the plan.

Rows compare by value, nulls equal to nulls (SQL's set semantics). ``intersect`` and
``except`` count each distinct row on both sides in one grouped aggregation of the
two sides concatenated, so they need no join and run out of core like any groupby.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from spillframe.errors import SchemaError
from spillframe.expr.expression import Expression, col, lit
from spillframe.logical import nodes as L
from spillframe.logical.reshape import RepeatRows

if TYPE_CHECKING:
    from spillframe.api.dataframe import DataFrame


def _check_other(other: object, op: str) -> None:
    from spillframe.api.dataframe import DataFrame

    if not isinstance(other, DataFrame):
        raise TypeError(f"{op} takes a DataFrame, got {type(other).__name__}")


def _aligned(left: DataFrame, right: DataFrame, op: str) -> DataFrame:
    """``right`` with ``left``'s column names, matched by position; the types must be
    equal (Daft casts both sides to a common type; here a cast is explicit)."""
    _check_other(right, op)
    ls, rs = left.schema(), right.schema()
    if len(ls) != len(rs):
        hint = f"; use {op}_by_name to match columns by name" if op.startswith("union") else ""
        raise SchemaError(
            f"{op} needs DataFrames with as many columns, got {ls.names} and {rs.names}{hint}"
        )
    for lf, rf in zip(ls, rs):
        if lf.type != rf.type:
            raise SchemaError(
                f"{op}: column {lf.name!r} is {lf.type} on the left but {rf.name!r} is "
                f"{rf.type} on the right; cast one side with .cast() first"
            )
    if ls.names == rs.names:
        return right
    return right.select(*[col(r).alias(n) for r, n in zip(rs.names, ls.names)])


def _by_name(left: DataFrame, right: DataFrame, op: str) -> tuple[DataFrame, DataFrame]:
    """Both sides with every column of either (left's order, then right's new ones);
    a column missing on one side is null there."""
    _check_other(right, op)
    ls, rs = left.schema(), right.schema()
    for name in set(ls.names) & set(rs.names):
        if ls.field(name).type != rs.field(name).type:
            raise SchemaError(
                f"{op}: column {name!r} is {ls.field(name).type} on the left and "
                f"{rs.field(name).type} on the right; cast one side with .cast() first"
            )
    fields = list(ls) + [f for f in rs if f.name not in ls.names]

    def widened(df: DataFrame, schema: pa.Schema) -> DataFrame:
        exprs: list[Expression] = [
            col(f.name) if f.name in schema.names else lit(None).cast(f.type).alias(f.name)
            for f in fields
        ]
        return df.select(*exprs)

    return widened(left, ls), widened(right, rs)


def _counted(left: DataFrame, right: DataFrame, op: str) -> tuple[DataFrame, str, str]:
    """One row per distinct row of either side, with its count on each side."""
    right = _aligned(left, right, op)
    schema = left.schema()
    L.check_scalar_keys(f"{op} on", [(f.name, f.type) for f in schema])
    names = schema.names
    on_left, on_right = _fresh("__left_count", names), _fresh("__right_count", names)
    tagged_left = left.select(*names, lit(1).alias(on_left), lit(0).alias(on_right))
    tagged_right = right.select(*names, lit(0).alias(on_left), lit(1).alias(on_right))
    both = tagged_left.concat(tagged_right)
    counts = both.groupby(*names).agg(col(on_left).sum(), col(on_right).sum())
    return counts, on_left, on_right


def _fresh(name: str, taken: list[str]) -> str:
    while name in taken:
        name = f"_{name}"
    return name


def _repeated(counts: DataFrame, times: Expression, names: list[str]) -> DataFrame:
    column = _fresh("__times", names)
    with_times = counts.select(*names, times.alias(column))
    return with_times._new(RepeatRows(with_times._builder, times=column))


class SetOperations:
    """``DataFrame`` methods combining two DataFrames as sets or multisets."""

    __slots__ = ()

    def union_all(self, other: DataFrame) -> DataFrame:
        """Every row of both DataFrames, duplicates kept; columns match by position
        (the result has this DataFrame's names) and must have the same types.

        Examples
        --------
        >>> import spillframe as sf
        >>> a = sf.from_pydict({"x": [1, 2]})
        >>> b = sf.from_pydict({"y": [2, 3]})
        >>> a.union_all(b).sort("x").to_pydict()
        {'x': [1, 2, 2, 3]}
        """
        df: DataFrame = self  # type: ignore[assignment]
        return df.concat(_aligned(df, other, "union_all"))

    def union(self, other: DataFrame) -> DataFrame:
        """The distinct rows of both DataFrames (SQL's ``UNION``); see ``union_all``.

        Examples
        --------
        >>> import spillframe as sf
        >>> a = sf.from_pydict({"x": [1, 2, 3], "y": [4, 5, 6]})
        >>> b = sf.from_pydict({"x": [3, 4], "y": [6, 7]})
        >>> a.union(b).sort("x").to_pydict()
        {'x': [1, 2, 3, 4], 'y': [4, 5, 6, 7]}
        """
        df: DataFrame = self  # type: ignore[assignment]
        return df.concat(_aligned(df, other, "union")).distinct()

    def union_all_by_name(self, other: DataFrame) -> DataFrame:
        """Every row of both DataFrames, columns matched by name; a column only one
        side has is null in the other side's rows.

        Examples
        --------
        >>> import spillframe as sf
        >>> a = sf.from_pydict({"x": [1], "y": [4]})
        >>> b = sf.from_pydict({"y": [6, 6], "z": ["a", "a"]})
        >>> a.union_all_by_name(b).sort("y").to_pydict()
        {'x': [1, None, None], 'y': [4, 6, 6], 'z': [None, 'a', 'a']}
        """
        left, right = _by_name(self, other, "union_all_by_name")  # type: ignore[arg-type]
        return left.concat(right)

    def union_by_name(self, other: DataFrame) -> DataFrame:
        """The distinct rows of both DataFrames, columns matched by name; see
        ``union_all_by_name``.

        Examples
        --------
        >>> import spillframe as sf
        >>> a = sf.from_pydict({"x": [1, 2], "y": [4, 5]})
        >>> b = sf.from_pydict({"y": [6, 6], "z": ["a", "a"]})
        >>> a.union_by_name(b).sort("y").to_pydict()
        {'x': [1, 2, None], 'y': [4, 5, 6], 'z': [None, None, 'a']}
        """
        left, right = _by_name(self, other, "union_by_name")  # type: ignore[arg-type]
        return left.concat(right).distinct()

    def intersect(self, other: DataFrame) -> DataFrame:
        """The distinct rows found in both DataFrames (SQL's ``INTERSECT``; nulls
        compare equal). Columns match by position, as in ``union``.

        Examples
        --------
        >>> import spillframe as sf
        >>> a = sf.from_pydict({"a": [1, 2, 3], "b": [4, 5, 6]})
        >>> b = sf.from_pydict({"a": [1, 2, 3], "b": [4, 8, 6]})
        >>> a.intersect(b).sort("a").to_pydict()
        {'a': [1, 3], 'b': [4, 6]}
        """
        counts, left, right = _counted(self, other, "intersect")  # type: ignore[arg-type]
        names = self.schema().names  # type: ignore[attr-defined]
        return counts.where((col(left) > 0) & (col(right) > 0)).select(*names)

    def intersect_all(self, other: DataFrame) -> DataFrame:
        """The rows found in both DataFrames, each as often as it is on the side where
        it is least often (SQL's ``INTERSECT ALL``).

        Examples
        --------
        >>> import spillframe as sf
        >>> a = sf.from_pydict({"a": [1, 2, 2]})
        >>> b = sf.from_pydict({"a": [1, 1, 2, 2]})
        >>> a.intersect_all(b).sort("a").to_pydict()
        {'a': [1, 2, 2]}
        """
        counts, left, right = _counted(self, other, "intersect_all")  # type: ignore[arg-type]
        fewer = (col(left) < col(right)).if_else(col(left), col(right))
        return _repeated(counts, fewer, self.schema().names)  # type: ignore[attr-defined]

    def except_distinct(self, other: DataFrame) -> DataFrame:
        """The distinct rows of this DataFrame that ``other`` does not have (SQL's
        ``EXCEPT``; nulls compare equal).

        Examples
        --------
        >>> import spillframe as sf
        >>> a = sf.from_pydict({"a": [1, 2, 3], "b": [4, 5, 6]})
        >>> b = sf.from_pydict({"a": [1, 2, 3], "b": [4, 8, 6]})
        >>> a.except_distinct(b).to_pydict()
        {'a': [2], 'b': [5]}
        """
        counts, left, right = _counted(self, other, "except_distinct")  # type: ignore[arg-type]
        names = self.schema().names  # type: ignore[attr-defined]
        return counts.where((col(left) > 0) & (col(right) == 0)).select(*names)

    def except_all(self, other: DataFrame) -> DataFrame:
        """The rows of this DataFrame with as many copies removed as ``other`` has
        (SQL's ``EXCEPT ALL``).

        Examples
        --------
        >>> import spillframe as sf
        >>> a = sf.from_pydict({"a": [1, 1, 2, 2], "b": [4, 4, 6, 6]})
        >>> b = sf.from_pydict({"a": [1, 2, 2], "b": [4, 6, 6]})
        >>> a.except_all(b).to_pydict()
        {'a': [1], 'b': [4]}
        """
        counts, left, right = _counted(self, other, "except_all")  # type: ignore[arg-type]
        return _repeated(counts, col(left) - col(right), self.schema().names)  # type: ignore[attr-defined]
