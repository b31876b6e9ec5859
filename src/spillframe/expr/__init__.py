"""Expressions: columns, literals, functions and aggregations."""

from spillframe.expr.expression import Expression, col, lit

__all__ = ["Expression", "col", "lit"]
