"""Runs the ordered rules until none changes the plan."""

from __future__ import annotations

from collections.abc import Callable

from spillframe.errors import SpillframeError
from spillframe.logical.nodes import LogicalPlan
from spillframe.optimizer.rules.pushdown_limit import pushdown_limit
from spillframe.optimizer.rules.pushdown_predicates import pushdown_predicates
from spillframe.optimizer.rules.pushdown_projections import pushdown_projections
from spillframe.optimizer.rules.reduce_grouped_sides import reduce_grouped_sides

Rule = Callable[[LogicalPlan], LogicalPlan]

RULES: tuple[Rule, ...] = (
    pushdown_predicates,
    pushdown_projections,
    pushdown_limit,
    reduce_grouped_sides,
)

MAX_PASSES = 50


class OptimizerError(SpillframeError, RuntimeError):
    """The rules did not reach a fixed point."""


def optimize(
    plan: LogicalPlan, rules: tuple[Rule, ...] = RULES, max_passes: int = MAX_PASSES
) -> LogicalPlan:
    """Apply ``rules`` in order, repeatedly, until a whole pass changes nothing.

    A rule signals "no change" by returning the very object it was given.
    """
    for _ in range(max_passes):
        changed_by = None
        for rule in rules:
            new = rule(plan)
            if new is not plan:
                changed_by = rule.__name__
                plan = new
        if changed_by is None:
            return plan
    raise OptimizerError(
        f"the optimizer did not reach a fixed point after {max_passes} passes; "
        f"rule {changed_by!r} kept changing the plan"
    )
