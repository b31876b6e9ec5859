"""Lowering of narrow operators and sources: steps appended to pending partitions, and
the few narrow operators that need a stage (a limit inside a plan, a write, a merge of
partitions)."""

from __future__ import annotations

import dataclasses
import os

from spillframe.io.write import write_partition
from spillframe.logical import nodes as L
from spillframe.physical.lowering.core import Lowering, Part, Pending, lowers, predicate_selectivity
from spillframe.physical.memory import pipeline_factor
from spillframe.physical.plan import TaskRef
from spillframe.physical.steps import (
    ExplodeStep,
    FilterStep,
    LimitStep,
    ProjectStep,
    SampleStep,
    SliceStep,
)


@lowers(L.InMemorySource)
def lower_in_memory(low: Lowering, node: L.InMemorySource) -> Pending:
    parts = tuple(Part(t) for t in node.partitions) or (Part(node.schema.empty_table()),)
    return Pending(
        parts,
        node.schema,
        sum(t.nbytes for t in node.partitions),
        sum(t.num_rows for t in node.partitions),
        ("from-memory",),
    )


@lowers(L.ScanSource)
def lower_scan(low: Lowering, node: L.ScanSource) -> Pending:
    planned = node.scan_format.plan(node, low.config)
    rows = [p.estimated_rows for p in planned]
    return Pending(
        tuple(Part(p.scan, (), p.estimated_bytes) for p in planned),
        node.schema,
        sum(p.estimated_bytes for p in planned),
        None if None in rows else sum(rows),  # type: ignore[arg-type]
        (f"scan-{node.format}",),
        selectivity=1.0 if node.predicate is None else predicate_selectivity(node.predicate),
    )


@lowers(L.Project)
def lower_project(low: Lowering, node: L.Project) -> Pending:
    child = low.visit(node.child)
    ratio = len(node.schema) / max(1, len(node.child.schema))
    estimate = None if child.estimated_bytes is None else int(child.estimated_bytes * ratio)
    word = "udf" if node.udf_labels() else "project"
    return child.then(
        ProjectStep(node.exprs, node.schema),
        word,
        node.schema,
        estimated_bytes=estimate,
        resources=child.resources.max(node.resources()),
        labels=(*child.labels, *node.udf_labels()),
    )


@lowers(L.Filter)
def lower_filter(low: Lowering, node: L.Filter) -> Pending:
    assert node.predicate is not None  # Filter refuses to be built without one
    child = low.visit(node.child)
    return child.then(
        FilterStep(node.predicate),
        "filter",
        estimated_rows=None,
        selectivity=child.selectivity * predicate_selectivity(node.predicate),
    )


@lowers(L.Explode)
def lower_explode(low: Lowering, node: L.Explode) -> Pending:
    child = low.visit(node.child)
    return child.then(ExplodeStep(node.columns), "explode", node.schema, estimated_rows=None)


@lowers(L.Sample)
def lower_sample(low: Lowering, node: L.Sample) -> Pending:
    child = low.visit(node.child)
    seed = node.seed if node.seed is not None else int.from_bytes(os.urandom(4), "little")
    parts = tuple(p.then(SampleStep(node.fraction, seed + i)) for i, p in enumerate(child.parts))
    estimate = None if child.estimated_bytes is None else int(child.estimated_bytes * node.fraction)
    words = (*child.words, "sample")
    return dataclasses.replace(
        child, parts=parts, estimated_bytes=estimate, estimated_rows=None, words=words
    )


@lowers(L.Limit)
def lower_limit(low: Lowering, node: L.Limit) -> Pending:
    """A limit inside a plan: local limits, then one task keeps the first ``n`` rows."""
    child = low.visit(node.child)
    child = child.then(LimitStep(node.n), "limit").at_most(node.n * child.num_partitions)
    if node is low.streaming_limit:
        return child
    child = low.computed(child)
    merged = Part([p.source for p in child.parts], (LimitStep(node.n),))
    return dataclasses.replace(child, parts=(merged,), words=("limit",), partitioning=None).at_most(
        node.n
    )


@lowers(L.Concat)
def lower_concat(low: Lowering, node: L.Concat) -> Pending:
    left, right = low.visit(node.left), low.visit(node.right)
    if left.words != right.words:  # fused tasks of both sides must share one name
        left, right = low.computed(left), low.computed(right)
    estimate = (
        None
        if left.estimated_bytes is None or right.estimated_bytes is None
        else left.estimated_bytes + right.estimated_bytes
    )
    return dataclasses.replace(
        left,
        parts=left.parts + right.parts,
        estimated_bytes=estimate,
        estimated_rows=None,
        resources=left.resources.max(right.resources),
        labels=(*left.labels, *right.labels),
        partitioning=None,
    )


@lowers(L.Write)
def lower_write(low: Lowering, node: L.Write) -> Pending:
    """One ``write-<format>`` task per partition, each writing its rows into the
    staging directory and returning the paths it wrote."""
    child = low.visit(node.child)
    name = f"write-{node.file_format}"
    tasks = [
        low.task(
            write_partition,
            (
                p.source,
                p.steps,
                node.staging,
                i,
                node.file_format,
                node.partition_cols,
                node.options,
            ),
            name,
            child,
            parts=(p,),
            factor=pipeline_factor(p.steps),
        )
        for i, p in enumerate(child.parts)
    ]
    stage = low.builder.add(name, tasks, child.estimated_bytes, child.estimated_rows)
    return Pending(tuple(Part(TaskRef(stage.id, i)) for i in range(len(tasks))), node.schema, None)


@lowers(L.IntoPartitions)
def lower_into_partitions(low: Lowering, node: L.IntoPartitions) -> Pending:
    child = low.visit(node.child)
    m, n = child.num_partitions, node.n
    if m == n:
        return child
    child = low.computed(child)
    refs = [p.source for p in child.parts]
    if n < m:
        parts = tuple(Part(refs[j * m // n : (j + 1) * m // n]) for j in range(n))
    else:
        owners = [j * m // n for j in range(n)]
        counts = [owners.count(i) for i in range(m)]
        parts = tuple(
            Part(refs[i], (SliceStep(owners[:j].count(i), counts[i]),))
            for j, i in enumerate(owners)
        )
    return dataclasses.replace(child, parts=parts, words=("into-partitions",), partitioning=None)
