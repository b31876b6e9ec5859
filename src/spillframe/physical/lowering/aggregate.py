"""Lowering of groupby and distinct: partial aggregation fused into the split tasks ->
hash exchange -> final aggregation, or one phase where the input is already
partitioned on the keys."""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from spillframe.expr.evaluate import resolve_field
from spillframe.expr.expression import col
from spillframe.kernels.aggregate import AggSpec
from spillframe.logical import nodes as L
from spillframe.physical.lowering.core import (
    Lowering,
    Part,
    Pending,
    lowers,
)
from spillframe.physical.lowering.exchange import exchange
from spillframe.physical.lowering.ranges import disjoint_part_ranges, scan_key_columns
from spillframe.physical.steps import (
    AggregateStep,
    PackStep,
    ProjectStep,
    UnpackStep,
    split_by_hash,
)


@lowers(L.Aggregate)
def lower_aggregate(low: Lowering, node: L.Aggregate) -> Pending:
    child = low.visit(node.child)
    keys = [k.output_name() for k in node.keys]
    pre = [k.alias(name) for k, name in zip(node.keys, keys)]
    specs = []
    for i, agg in enumerate(node.aggs):
        root = L.unwrap_agg(agg)
        pre.append(root.child.alias(f"__agg_in_{i}"))
        specs.append(AggSpec(root.op, f"__agg_in_{i}", agg.output_name(), root.options))
    pre_schema = pa.schema([resolve_field(e, node.child.schema) for e in pre])
    child = child.then(ProjectStep(tuple(pre), pre_schema), "project", pre_schema)
    return aggregate_pending(low, child, keys, tuple(specs), node.schema)


def aggregate_pending(
    low: Lowering, child: Pending, keys: list[str], specs: tuple[AggSpec, ...], schema: pa.Schema
) -> Pending:
    """One phase on one partition, or per partition when the input is already hash
    partitioned on some of the keys; otherwise partial -> hash exchange -> final."""
    estimate = child.estimated_bytes
    if (
        child.num_partitions == 1
        or (keys and child.partitioning is not None and set(child.partitioning) <= set(keys))
        or (keys and grouped_by_file_ranges(child, keys))
    ):
        return child.then(
            AggregateStep(tuple(keys), specs, "single", schema), "agg", schema, estimated_rows=None
        )
    partial = child.then(AggregateStep(tuple(keys), specs, "partial"), "agg-partial")
    if not keys:  # a global aggregation: one state row per partition
        partial = dataclasses.replace(partial, estimated_rows=None).at_most(child.num_partitions)
    n = low.exchange_partitions(estimate, child.num_partitions) if keys else 1
    exchanged = (
        exchange(
            low,
            partial,
            n,
            "agg-partial",
            split_by_hash,
            (tuple(keys), n),
            partitioning=tuple(keys),
        )
        if keys
        else low.computed(partial, "agg-partial")
    )
    if not keys:  # a global aggregation: one final task over every partial
        exchanged = dataclasses.replace(
            exchanged, parts=(Part([p.source for p in exchanged.parts]),)
        )
    final = exchanged.then(AggregateStep(tuple(keys), specs, "final", schema), "agg-final", schema)
    final = dataclasses.replace(final, estimated_rows=None)
    return final.at_most(1) if not keys else final


def grouped_by_file_ranges(pending: Pending, keys: list[str]) -> bool:
    """Whether rows with equal ``keys`` are in one part already because each part scans
    Parquet row groups whose values of one key column, by the files' statistics, fall
    in a range no other part's overlaps (files written in key order: TPC-H lineitem
    by l_orderkey; see :mod:`.ranges`). Then each part aggregates alone, with no
    exchange; an out-of-core groupby of SF1 lineitem by l_orderkey spent a third of
    its time in the exchange and final phase of groups that were already complete.

    The key column must reach the aggregation unchanged: projections may rename it,
    and a broadcast join keeps it when the part is its left (big) side."""
    if pending.num_partitions < 2:
        return False
    return any(
        disjoint_part_ranges(pending, column) is not None
        for column in scan_key_columns(pending, keys)
    )


@lowers(L.Distinct)
def lower_distinct(low: Lowering, node: L.Distinct) -> Pending:
    """Group by ``on``; the other columns are packed into one struct so that the row
    kept for a key is one input row (``any_value`` per column would mix rows)."""
    child = low.visit(node.child)
    names = node.schema.names
    on = list(node.on) or names
    others = [node.schema.field(n) for n in names if n not in on]
    if not others:
        keys_schema = pa.schema([node.schema.field(n) for n in on])
        result = aggregate_pending(low, child, on, (), keys_schema)
        if on == names:
            return result
        return result.then(
            ProjectStep(tuple(col(n) for n in names), node.schema), "project", node.schema
        )
    row = "__distinct_row"
    packed_schema = pa.schema(
        [*(node.schema.field(n) for n in on), pa.field(row, pa.struct(others), nullable=False)]
    )
    child = child.then(PackStep(tuple(on), row, packed_schema), "project", packed_schema)
    grouped_schema = packed_schema.set(len(on), packed_schema.field(row).with_nullable(True))
    result = aggregate_pending(low, child, on, (AggSpec("any_value", row, row),), grouped_schema)
    return result.then(UnpackStep(row, node.schema), "project", node.schema)
