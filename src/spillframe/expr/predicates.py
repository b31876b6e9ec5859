"""Predicates as lists of conditions: split, join, rename, and which ones can move.

The optimizer moves conditions through the plan, the lowering estimates their
selectivity and the scans push them into readers; all of them read predicates with
these helpers, so they live with the expressions rather than with any one user.
"""

from __future__ import annotations

from spillframe.expr.expression import Alias, Column, Expression, Function, Literal


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
