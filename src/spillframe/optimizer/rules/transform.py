"""Plan rewriting shared by the rules (predicate helpers live in :mod:`spillframe.expr.predicates`)."""

from __future__ import annotations

from collections.abc import Callable

from spillframe.logical.nodes import LogicalPlan


def transform_down(plan: LogicalPlan, fn: Callable[[LogicalPlan], LogicalPlan]) -> LogicalPlan:
    """Apply ``fn`` to a node until it stops changing it, then to its children.

    Returns ``plan`` itself when nothing changed anywhere.
    """
    node = plan
    for _ in range(100):
        new = fn(node)
        if new is node:
            break
        node = new
    children = node.children()
    new_children = tuple(transform_down(c, fn) for c in children)
    if any(a is not b for a, b in zip(children, new_children)):
        node = node.with_children(new_children)
    return node
