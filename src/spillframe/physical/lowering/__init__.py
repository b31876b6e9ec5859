"""Lowering: an optimized logical plan becomes the partitioned physical plan.

:mod:`~spillframe.physical.lowering.core` holds the pending partitions and the dispatch
by node class; each other module registers the lowerings of one kind of operator.
"""

from __future__ import annotations

from spillframe.config import Config
from spillframe.logical import nodes as L

# Importing the modules registers their lowerings.
from spillframe.physical.lowering import (  # noqa: F401
    aggregate,
    exchange,
    join,
    narrow,
    reshape,
    sort,
)
from spillframe.physical.lowering.core import LOWERINGS, Lowering, Part, Pending, lowers
from spillframe.physical.plan import PhysicalPlan

__all__ = ["LOWERINGS", "Lowering", "Part", "Pending", "lower_plan", "lowers"]


def lower_plan(
    plan: L.LogicalPlan, name: str = "query", config: Config | None = None
) -> PhysicalPlan:
    """Lower an (already optimized) logical plan to the physical plan."""
    return Lowering(config).lower(plan, name)
