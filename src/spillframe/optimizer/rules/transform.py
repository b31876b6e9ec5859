"""Tree rewriting helpers shared by the rules."""

from __future__ import annotations

from collections.abc import Callable

from spillframe.expr.expression import Alias, Column, Expression, Function, Literal
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


def conjuncts(expr: Expression) -> list[Expression]:
    """``a & b & c`` -> ``[a, b, c]``."""
    if isinstance(expr, Function) and expr.fn == "and":
        return conjuncts(expr.args[0]) + conjuncts(expr.args[1])
    return [expr]


def conjoin(exprs: list[Expression]) -> Expression:
    """``[a, b, c]`` -> ``a & b & c``."""
    result = exprs[0]
    for e in exprs[1:]:
        result = result & e
    return result


def is_deterministic(expr: Expression) -> bool:
    """Only columns, literals and built-in functions (no Python UDFs or apply)."""
    return all(isinstance(e, (Column, Literal, Function, Alias)) for e in expr.walk())


def substitute_columns(expr: Expression, mapping: dict[str, str]) -> Expression:
    """Rename the columns ``expr`` reads."""
    if isinstance(expr, Column):
        return Column(mapping.get(expr.name, expr.name))
    children = expr.children()
    if not children:
        return expr
    return expr.with_children(tuple(substitute_columns(c, mapping) for c in children))
