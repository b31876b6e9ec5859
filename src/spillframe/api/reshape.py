"""Wide <-> long reshaping (Daft's ``pivot``, ``unpivot`` and ``melt``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from spillframe.errors import SchemaError
from spillframe.expr.evaluate import resolve_type
from spillframe.expr.expression import Column, Expression, col, lit
from spillframe.logical.reshape import Unpivot

if TYPE_CHECKING:
    from spillframe.api.dataframe import DataFrame


def _names(value: Any, what: str) -> list[str]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    names = []
    for item in items:
        if isinstance(item, Column):
            item = item.name
        if not isinstance(item, str):
            raise TypeError(f"{what} takes column names, got {item!r}")
        names.append(item)
    return names


def _as_expr(value: Any) -> Expression:
    if isinstance(value, str):
        return col(value)
    if isinstance(value, Expression):
        return value
    raise TypeError(f"expected a column name or an expression, got {value!r}")


def common_type(types: list[pa.DataType], what: str) -> pa.DataType:
    """The type every one of ``types`` casts to without loss (int64 and float64 make
    float64); SchemaError when there is none."""
    if not types:
        return pa.null()
    try:
        unified = pa.unify_schemas(
            [pa.schema([("v", t)]) for t in types], promote_options="permissive"
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        raise SchemaError(
            f"{what} have types {[str(t) for t in types]} with no common type; cast them "
            "to one type first"
        ) from None
    return unified.field("v").type


class Reshaping:
    """``DataFrame`` methods that turn columns into rows and rows into columns."""

    __slots__ = ()

    def unpivot(
        self,
        ids: Any,
        values: Any = (),
        variable_name: str = "variable",
        value_name: str = "value",
    ) -> DataFrame:
        """Wide to long: one row per input row and ``values`` column, holding the
        ``ids``, the column's name (``variable_name``) and its value (``value_name``).

        ``values`` defaults to every column not in ``ids``; the values take a common
        type (int64 and float64 make float64).

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"year": [2020, 2021], "Jan": [10, 30], "Feb": [20, 40]})
        >>> df.unpivot("year", ["Jan", "Feb"], variable_name="month").to_pydict()
        {'year': [2020, 2020, 2021, 2021], 'month': ['Jan', 'Feb', 'Jan', 'Feb'], 'value': [10, 20, 30, 40]}
        """
        df: DataFrame = self  # type: ignore[assignment]
        id_names = _names(ids, "unpivot ids")
        value_names = _names(values, "unpivot values") or [
            n for n in df.column_names if n not in id_names
        ]
        df._check_columns(id_names + value_names)
        if not value_names:
            raise ValueError("unpivot needs at least one value column besides the ids")
        for name in (variable_name, value_name):
            if not isinstance(name, str) or not name:
                raise ValueError(f"unpivot column names must be non-empty strings, got {name!r}")
        schema = df.schema()
        kind = common_type(
            [schema.field(n).type for n in value_names], f"unpivot values {value_names}"
        )
        node = Unpivot(
            df._builder,
            ids=tuple(id_names),
            values=tuple(value_names),
            variable_name=variable_name,
            value_name=value_name,
            value_type=kind,
        )
        return df._new(node)

    def melt(
        self,
        ids: Any,
        values: Any = (),
        variable_name: str = "variable",
        value_name: str = "value",
    ) -> DataFrame:
        """The same as :meth:`unpivot`.

        Examples
        --------
        >>> import spillframe as sf
        >>> sf.from_pydict({"id": [1], "a": [2], "b": [3]}).melt("id").to_pydict()
        {'id': [1, 1], 'variable': ['a', 'b'], 'value': [2, 3]}
        """
        return self.unpivot(ids, values, variable_name, value_name)

    def pivot(
        self,
        group_by: Any,
        pivot_col: Any,
        value_col: Any,
        agg_fn: str,
        names: list[str] | None = None,
    ) -> DataFrame:
        """Long to wide: one row per ``group_by`` group, one column per value of
        ``pivot_col`` (named by the value as a string) holding ``agg_fn`` ("sum",
        "mean", "min", "max", "count", ...) of ``value_col`` over the group's rows with
        that value; null where the group has none (0 for counts).

        Without ``names``, the distinct non-null values of ``pivot_col`` are found by a
        query run first (as Daft does), and the columns come in their sorted order;
        pass ``names`` to skip that query and choose the order.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict(
        ...     {
        ...         "version": ["3.8", "3.8", "3.9", "3.9"],
        ...         "platform": ["macos", "macos", "macos", "windows"],
        ...         "downloads": [100, 200, 150, 250],
        ...     }
        ... )
        >>> df.pivot("version", "platform", "downloads", "sum").sort("version").to_pydict()
        {'version': ['3.8', '3.9'], 'macos': [300, 150], 'windows': [None, 250]}
        """
        from spillframe.api.aggregations import pair_aggregation

        df: DataFrame = self  # type: ignore[assignment]
        keys = [_as_expr(k) for k in (group_by if isinstance(group_by, list) else [group_by])]
        pivot, value = _as_expr(pivot_col), _as_expr(value_col)
        schema = df.schema()
        pivot_type = resolve_type(pivot, schema)
        value_type = resolve_type(value, schema)
        as_text = pivot if pa.types.is_string(pivot_type) else pivot.cast(pa.string())
        if names is None:
            found = df.select(as_text.alias("name")).distinct().to_pydict()["name"]
            names = sorted(n for n in found if n is not None)
        if not names or not all(isinstance(n, str) for n in names):
            raise ValueError(f"pivot needs a non-empty list of column names, got {names!r}")
        missing = lit(None).cast(value_type)
        aggs = [
            pair_aggregation((as_text == name).if_else(value, missing), agg_fn).alias(name)
            for name in names
        ]
        return df.groupby(*keys).agg(*aggs)
