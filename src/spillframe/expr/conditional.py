"""``when(cond, then=...).when(...).otherwise(...)``: Daft 0.7's CASE WHEN, built from
``if_else`` calls (the first condition that holds picks the value)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spillframe.expr.expression import Expression, Function, _to_expr, lit


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class When(Function):
    """A chain of ``when`` clauses: nested ``if_else`` calls ending in null until
    :meth:`otherwise` gives the last value. It is an expression already (null where
    no condition holds), as Daft's ``WhenExpr``."""

    cases: tuple[tuple[Expression, Expression], ...] = ()

    @classmethod
    def start(cls, condition: Any, then: Any) -> When:
        """The chain of one clause; see :func:`spillframe.functions.when`."""
        return cls._of(((_condition(condition), _to_expr(then)),))

    @classmethod
    def _of(cls, cases: tuple[tuple[Expression, Expression], ...]) -> When:
        chain = _if_else_chain(cases, lit(None))
        return cls(chain.fn, chain.args, chain.options, cases)

    def when(self, condition: Any, then: Any) -> When:
        """Add a clause, tried when the earlier conditions do not hold.

        Examples
        --------
        >>> import spillframe as sf
        >>> from spillframe.functions import when
        >>> df = sf.from_pydict({"x": [1, 5, 9]})
        >>> df.select(when(sf.col("x") > 6, then="high").when(sf.col("x") > 3, then="mid")).to_pydict()
        {'x': [None, 'mid', 'high']}
        """
        return When._of((*self.cases, (_condition(condition), _to_expr(then))))

    def otherwise(self, value: Any) -> Expression:
        """End the chain: ``value`` where no condition holds.

        Examples
        --------
        >>> import spillframe as sf
        >>> from spillframe.functions import when
        >>> df = sf.from_pydict({"x": [1, 5]})
        >>> df.select(when(sf.col("x") > 3, then=sf.col("x") * 10).otherwise(0)).to_pydict()
        {'x': [0, 50]}
        """
        return _if_else_chain(self.cases, _to_expr(value))


def _if_else_chain(cases: tuple[tuple[Expression, Expression], ...], last: Expression) -> Function:
    # A null condition gives null, not the next clause: Daft nests if_else the same way.
    condition, then = cases[-1]
    result = Function("if_else", (condition, then, last))
    for condition, then in reversed(cases[:-1]):
        result = Function("if_else", (condition, then, result))
    return result


def _condition(value: Any) -> Expression:
    if isinstance(value, Expression):
        return value
    if isinstance(value, bool):
        return lit(value)
    raise TypeError(
        f"when needs a boolean expression (or a bool) as its condition, got {value!r}; "
        "compare a column, e.g. when(col('x') > 0, then=...)"
    )
