"""``DataFrame.join``'s arguments turned into a ``Join`` plan node, as Daft reads them.

- Keys may be expressions (``left_on=col("a") * 10``): they are computed into
  temporary columns under each side, joined on, and dropped from the result. A key
  that is an aliased column is that column.
- Right columns whose names clash with left ones are renamed as Daft does, by a
  projection under the right side: ``prefix + name + suffix`` (either may be given;
  neither gives ``right.<name>``), repeated until the name is free.
- ``strategy`` is None (chosen from sizes), "hash", "broadcast" or "sort_merge",
  which is planned as a hash join (the same rows; Daft also allows it for inner joins
  only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from spillframe.errors import ExpressionTypeError
from spillframe.expr.evaluate import resolve_type
from spillframe.expr.expression import Alias, Column, Expression, col
from spillframe.logical import nodes as L

if TYPE_CHECKING:
    from spillframe.api.dataframe import DataFrame

JOIN_STRATEGIES = (None, "hash", "broadcast", "sort_merge")


def _keys(value: Any) -> list[Expression]:
    items = value if isinstance(value, (list, tuple)) else [value]
    exprs = []
    for item in items:
        if isinstance(item, str):
            item = col(item)
        if not isinstance(item, Expression):
            raise TypeError(f"join keys are column names or expressions, got {item!r}")
        if item.has_agg():
            raise ExpressionTypeError(f"a join key cannot be an aggregation: {item!r}")
        inner = item.child if isinstance(item, Alias) else item
        exprs.append(inner if isinstance(inner, Column) else item)
    return exprs


def _check_arguments(
    how: str, strategy: str | None, on: Any, left_on: Any, right_on: Any
) -> tuple[list[Expression], list[Expression]]:
    if how not in L.JOIN_HOWS:
        raise ValueError(f"join how must be one of {list(L.JOIN_HOWS)}, got {how!r}")
    if strategy not in JOIN_STRATEGIES:
        raise ValueError(f"join strategy must be one of {list(JOIN_STRATEGIES)}, got {strategy!r}")
    if strategy == "sort_merge" and how != "inner":
        raise ValueError(f"a sort_merge join is an inner join, got how={how!r}")
    if strategy == "broadcast" and how == "outer":
        raise ValueError("an outer join cannot broadcast a side; use strategy='hash' or None")
    if how == "cross":
        if on is not None or left_on is not None or right_on is not None:
            raise ValueError("a cross join takes no join keys")
        if strategy is not None:
            raise ValueError(f"a cross join takes no strategy, got {strategy!r}")
        return [], []
    if on is not None:
        if left_on is not None or right_on is not None:
            raise ValueError("pass either on= or left_on=/right_on=, not both")
        return _keys(on), _keys(on)
    if left_on is None or right_on is None:
        raise ValueError("join needs on= or both left_on= and right_on=")
    lk, rk = _keys(left_on), _keys(right_on)
    if not lk:
        raise ValueError("join needs at least one key column")
    if len(lk) != len(rk):
        raise ValueError(
            f"join needs as many left_on as right_on keys, got {len(lk)} and {len(rk)}"
        )
    return lk, rk


def _fresh(name: str, taken: set[str]) -> str:
    while name in taken:
        name = f"_{name}"
    taken.add(name)
    return name


def _with_key_columns(
    plan: L.LogicalPlan, keys: list[Expression], side: str, taken: set[str]
) -> tuple[L.LogicalPlan, list[str], list[str]]:
    """``plan`` with a column per expression key; the key names and temporary names."""
    names, temporary, extra = [], [], []
    for i, key in enumerate(keys):
        if isinstance(key, Column):
            names.append(key.name)
            continue
        name = _fresh(f"__{side}_key_{i}", taken)
        names.append(name)
        temporary.append(name)
        extra.append(key.alias(name))
    if not extra:
        return plan, names, temporary
    exprs = tuple(col(n) for n in plan.schema.names) + tuple(extra)
    return L.Project(plan, exprs=exprs), names, temporary


def _check_key_types(
    left: L.LogicalPlan, right: L.LogicalPlan, lk: list[Expression], rk: list[Expression]
) -> None:
    from spillframe.kernels.join import common_key_type

    for lkey, rkey in zip(lk, rk):
        ltype, rtype = resolve_type(lkey, left.schema), resolve_type(rkey, right.schema)
        if not (pa.types.is_nested(ltype) or pa.types.is_nested(rtype)) and (
            common_key_type(ltype, rtype) is None
        ):
            raise ExpressionTypeError(
                f"cannot join left key {_text(lkey)} ({ltype}) with right key {_text(rkey)} "
                f"({rtype}); "
                "cast one side with .cast() so both have one type"
            )


def _text(key: Expression) -> str:
    return repr(key.name) if isinstance(key, Column) else repr(key)


def _renamed_right(
    left: pa.Schema,
    right: L.LogicalPlan,
    merged: set[str],
    prefix: str | None,
    suffix: str | None,
) -> tuple[L.LogicalPlan, dict[str, str]]:
    """The right side with Daft's names for columns that clash with left ones."""
    taken = set(left.names) | set(right.schema.names)
    renames = {}
    for name in right.schema.names:
        if name in left.names and name not in merged:
            new = name
            while new in taken:
                if prefix is None and suffix is None:
                    new = f"right.{new}"
                else:
                    new = f"{prefix or ''}{new}{suffix or ''}"
            taken.add(new)
            renames[name] = new
    if not renames:
        return right, renames
    exprs = tuple(col(n).alias(renames[n]) if n in renames else col(n) for n in right.schema.names)
    return L.Project(right, exprs=exprs), renames


def join_plan(
    left_df: DataFrame,
    other: Any,
    on: Any,
    left_on: Any,
    right_on: Any,
    how: str,
    strategy: str | None,
    prefix: str | None,
    suffix: str | None,
) -> L.LogicalPlan:
    """The plan of ``left_df.join(other, ...)`` (see the module docstring)."""
    from spillframe.api.dataframe import DataFrame

    if not isinstance(other, DataFrame):
        raise TypeError(f"join takes a DataFrame, got {type(other).__name__}")
    for what, value in (("prefix", prefix), ("suffix", suffix)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"join {what} must be a string or None, got {value!r}")
    lk, rk = _check_arguments(how, strategy, on, left_on, right_on)
    left, right = left_df._builder, other._builder
    _check_key_types(left, right, lk, rk)
    taken = set(left.schema.names) | set(right.schema.names)
    left, left_names, left_temp = _with_key_columns(left, lk, "left", taken)
    right, right_names, right_temp = _with_key_columns(right, rk, "right", taken)
    if how not in ("semi", "anti", "cross"):
        merged = {n for n, r in zip(left_names, right_names) if n == r}
        right, renames = _renamed_right(left.schema, right, merged, prefix, suffix)
        right_names = [renames.get(n, n) for n in right_names]
        right_temp = [renames.get(n, n) for n in right_temp]
    node: L.LogicalPlan = L.Join(
        left,
        right,
        tuple(left_names),
        tuple(right_names),
        how,
        "hash" if strategy == "sort_merge" else strategy,
        "right.",
        None,
    )
    dropped = set(left_temp) | set(right_temp)
    if dropped:
        keep = tuple(col(n) for n in node.schema.names if n not in dropped)
        node = L.Project(node, exprs=keep)
    return node
