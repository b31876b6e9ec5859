"""Semi-join reduction: aggregate only the groups a join can use.

In ``L join R on L.a = R.b`` where ``R`` groups its input ``A`` by ``b`` (through
filters and projections that keep ``b``), a group of ``R`` whose key is not among
``L.a`` can never find a partner. Filtering ``A`` to the rows whose key is in ``L.a``
*before* the aggregation removes whole groups and leaves the others exactly as they
were, so the join's result does not change (for inner, left, semi and anti joins,
which drop unmatched right rows). TPC-H Q21 aggregates all of lineitem per order,
and then keeps the few orders of one nation's late suppliers.

The filter is a semi join marked ``reduction=True``: lowering makes it a broadcast of
``L``'s keys when ``L`` is expected small, and drops it otherwise (it is only ever an
optimization; see ``spillframe.physical.lowering.join``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from spillframe.expr.expression import Alias, Column, col
from spillframe.logical import nodes as L
from spillframe.optimizer.rules.transform import transform_down


def reduce_grouped_sides(plan: L.LogicalPlan) -> L.LogicalPlan:
    """Insert a reducing semi join under aggregations that feed a join on their key.

    An aggregation that also occurs elsewhere in the plan is left alone: it is computed
    once for all its uses (see ``physical.shared``), and the other uses need all groups.
    """
    counts: Counter[Any] = Counter()

    def repeated(node: L.LogicalPlan) -> bool:
        if not counts:  # keyed only once a candidate is found
            counts.update(n.key for n in plan.walk())
        return node.key is not None and counts[node.key] > 1

    return transform_down(plan, lambda node: _reduce(node, repeated))


def _reduce(node: L.LogicalPlan, repeated: Callable[[L.LogicalPlan], bool]) -> L.LogicalPlan:
    if not isinstance(node, L.Join) or node.how not in ("inner", "left", "semi", "anti"):
        return node
    if node.reduction:
        return node
    for left_key, right_key in zip(node.left_on, node.right_on):
        right = _with_reduced_aggregate(node.right, right_key, node.left, left_key, repeated)
        if right is not None:
            return node.replace(right=right)
    return node


def _with_reduced_aggregate(
    node: L.LogicalPlan,
    key: str,
    keys_from: L.LogicalPlan,
    keys_column: str,
    repeated: Callable[[L.LogicalPlan], bool],
) -> L.LogicalPlan | None:
    """``node`` with its aggregation's input semi-joined to ``keys_from``, when ``key``
    is a group key passed up unchanged; None when the pattern does not hold."""
    if isinstance(node, L.Filter):
        child = _with_reduced_aggregate(node.child, key, keys_from, keys_column, repeated)
        return None if child is None else node.with_children((child,))
    if isinstance(node, L.Project):
        source = _source_column(node, key)
        if source is None:
            return None
        child = _with_reduced_aggregate(node.child, source, keys_from, keys_column, repeated)
        return None if child is None else node.with_children((child,))
    if not isinstance(node, L.Aggregate) or repeated(node):
        return None
    group_key = next((k for k in node.keys if isinstance(k, Column) and k.name == key), None)
    if group_key is None:
        return None
    already = node.child
    if isinstance(already, L.Join) and already.reduction:
        return None
    keys = L.Project(keys_from, exprs=(col(keys_column),))
    reduced = L.Join(node.child, keys, (key,), (keys_column,), how="semi", reduction=True)
    return node.with_children((reduced,))


def _source_column(node: L.Project, name: str) -> str | None:
    """The input column a projection passes through unchanged as ``name``."""
    for expr in node.exprs:
        if expr.output_name() != name:
            continue
        inner = expr.child if isinstance(expr, Alias) else expr
        return inner.name if isinstance(inner, Column) else None
    return None
