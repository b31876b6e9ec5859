"""Move limits towards the sources and turn sort + limit into a top-k."""

from __future__ import annotations

from spillframe.logical import nodes as L
from spillframe.logical.reshape import Offset
from spillframe.optimizer.rules.transform import transform_down


def pushdown_limit(plan: L.LogicalPlan) -> L.LogicalPlan:
    """``Limit(Sort)`` -> ``TopK``; limits pass projections and reach scans; under an
    ``Offset(k)``, a limit of ``n + k`` rows goes below it."""
    return transform_down(plan, _push)


def _push(node: L.LogicalPlan) -> L.LogicalPlan:
    if not isinstance(node, L.Limit):
        return node
    child = node.child
    if isinstance(child, L.Limit):
        return L.Limit(child.child, n=min(node.n, child.n))
    if isinstance(child, L.Sort):
        return L.TopK(
            child.child,
            keys=child.keys,
            descending=child.descending,
            nulls_first=child.nulls_first,
            k=node.n,
        )
    if isinstance(child, L.Project):
        return child.with_children((L.Limit(child.child, n=node.n),))
    if isinstance(child, Offset):
        # offset(k).limit(n) reads only the first n + k rows.
        below = child.child
        if isinstance(below, L.Limit) and below.n <= node.n + child.n:
            return node
        return node.with_children((child.with_children((L.Limit(below, n=node.n + child.n),)),))
    if isinstance(child, L.ScanSource) and (child.limit is None or child.limit > node.n):
        # Each scan task reads at most n rows; the limit above still cuts the total.
        return node.with_children((child.replace(limit=node.n),))
    return node
