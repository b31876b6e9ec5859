"""Lowering of sort and top-k: sample -> boundaries -> range exchange -> local sort; a
top-k keeps k rows per partition, then k of those."""

from __future__ import annotations

import dataclasses

from spillframe.logical import nodes as L
from spillframe.physical.lowering.core import Lowering, Part, Pending, lowers
from spillframe.physical.lowering.exchange import merged_into_one, range_exchange, with_temp_columns
from spillframe.physical.steps import SortStep, TopKStep


@lowers(L.Sort)
def lower_sort(low: Lowering, node: L.Sort) -> Pending:
    child = low.visit(node.child)
    child, names, drop = with_temp_columns(child, node.keys, "sort")
    keys, desc, nulls = tuple(names), node.descending, node.nulls_first
    n = low.exchange_partitions(child.estimated_bytes, child.num_partitions)
    if n == 1:
        if child.num_partitions > 1:
            child = merged_into_one(low, child, child.task_name)
        result = child.then(SortStep(keys, desc, nulls), "sort")
    else:
        result = range_exchange(low, child, keys, desc, nulls, n).then(
            SortStep(keys, desc, nulls), "sort-local"
        )
    return result.then(drop, "project") if drop is not None else result


@lowers(L.TopK)
def lower_top_k(low: Lowering, node: L.TopK) -> Pending:
    child = low.visit(node.child)
    child, names, drop = with_temp_columns(child, node.keys, "sort")
    step = TopKStep(tuple(names), node.descending, node.nulls_first, node.k)
    local = child.then(step, "top-k").at_most(node.k * child.num_partitions)
    if local.num_partitions > 1:
        local = low.computed(local)
        local = dataclasses.replace(
            local,
            parts=(Part([p.source for p in local.parts], (step,)),),
            words=("top-k",),
            partitioning=None,
        ).at_most(node.k)
    return local.then(drop, "project") if drop is not None else local
