"""Shared subplans: a part of a query that appears more than once is computed once.

TPC-H Q15 aggregates revenue per supplier and uses it twice (its maximum, and a join);
Q11, Q17, Q22 and others repeat a subquery the same way. Two subtrees are the same
when they are structurally equal: same operators, same expressions (see
``LogicalPlan.key``), same sources. Only subtrees with a
wide operator (aggregation, join, sort...) are shared: recomputing a scan with a few
narrow steps costs about what holding its output for a second consumer saves, and
keeping it would hold whole inputs in memory. Subtrees with Python functions (UDFs,
``apply``) are never shared, since their results may differ between calls.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from spillframe.logical import nodes as L


def _is_wide(node: L.LogicalPlan) -> bool:
    return any(not n.is_narrow for n in node.walk())


def shared_subplans(plan: L.LogicalPlan) -> set[tuple[Any, ...]]:
    """Keys of the largest subtrees of ``plan`` that occur more than once and contain a
    wide operator; a subtree inside a repeated larger one is not listed by itself."""
    counts: Counter[tuple[Any, ...]] = Counter()
    parents: dict[tuple[Any, ...], list[tuple[Any, ...] | None]] = {}
    wide: dict[tuple[Any, ...], bool] = {}

    def walk(node: L.LogicalPlan, parent: tuple[Any, ...] | None) -> None:
        key = node.key
        if key is not None:
            counts[key] += 1
            parents.setdefault(key, []).append(parent)
            if key not in wide:
                wide[key] = _is_wide(node)
        for child in node.children():
            walk(child, key)

    walk(plan, None)
    roots = {
        key
        for key, n in counts.items()
        if n > 1
        and wide[key]
        and any(parent is None or counts[parent] < n for parent in parents[key])
    }
    return roots
