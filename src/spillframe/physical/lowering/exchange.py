"""Exchanges between stages: split every pending partition into buckets (by hash, at
random, by key range) that the next stage's parts read; and the repartition that is
nothing but an exchange."""

from __future__ import annotations

import dataclasses
from typing import Any

import pyarrow as pa

from spillframe.expr.evaluate import resolve_field
from spillframe.expr.expression import Column, Expression, col
from spillframe.kernels.narrow import Step
from spillframe.logical import nodes as L
from spillframe.physical.lowering.core import Lowering, Part, Pending, lowers
from spillframe.physical.memory import SPLIT_FACTOR, pipeline_factor
from spillframe.physical.plan import TaskRef
from spillframe.physical.steps import (
    ProjectStep,
    RangeSplit,
    SeededRandomSplit,
    sample_keys,
    split_by_hash,
)
from spillframe.resources import ResourceRequest


def exchange(
    low: Lowering,
    pending: Pending,
    n: int,
    name: str,
    kernel: Any,
    extra: tuple[Any, ...],
    seeded: bool = False,
    partitioning: tuple[str, ...] | None = None,
) -> Pending:
    """Split every pending partition into ``n`` buckets; part j reads bucket j of each.

    With ``n == 1`` nothing is split: the partitions are computed and the one output
    partition reads all of them (a task with one output returns a table, not a list).
    ``partitioning`` names the hash keys when ``kernel`` splits by hash.
    """
    if n == 1:
        return merged_into_one(low, pending, name)
    tasks = [
        low.task(
            kernel,
            (p.source, p.steps, *extra, *((i,) if seeded else ())),
            name,
            pending,
            num_outputs=n,
            parts=(p,),
            factor=max(SPLIT_FACTOR, pipeline_factor(p.steps)),
        )
        for i, p in enumerate(pending.parts)
    ]
    stage = low.builder.add(
        name,
        tasks,
        pending.estimated_bytes,
        pending.estimated_rows,
        detail=f"{pending.num_partitions} -> {n} partitions",
    )
    parts = tuple(Part([TaskRef(stage.id, i, j) for i in range(len(tasks))]) for j in range(n))
    return dataclasses.replace(
        pending,
        parts=parts,
        words=(),
        resources=ResourceRequest(),
        labels=(),
        partitioning=partitioning,
    )


def merged_into_one(low: Lowering, pending: Pending, name: str) -> Pending:
    """Compute every pending partition in a stage named ``name``; one part reads them all."""
    if pending.is_materialized():
        return dataclasses.replace(
            pending, parts=(Part([p.source for p in pending.parts]),), words=(), partitioning=None
        )
    detail = f"{pending.num_partitions} -> 1 partitions"
    stage_id = low.stage_for(pending, name)
    low.builder.stages[stage_id].detail = low.builder.stages[stage_id].detail or detail
    refs = [TaskRef(stage_id, i) for i in range(low.builder.stages[stage_id].num_partitions)]
    return dataclasses.replace(
        pending,
        parts=(Part(refs),),
        words=(),
        resources=ResourceRequest(),
        labels=(),
        partitioning=None,
    )


def hash_exchange(
    low: Lowering, pending: Pending, keys: list[str], n: int, name: str = "hash-split"
) -> Pending:
    if pending.num_partitions == 1 and n == 1:
        return pending
    return exchange(
        low, pending, n, name, split_by_hash, (tuple(keys), n), partitioning=tuple(keys)
    )


def range_exchange(
    low: Lowering,
    child: Pending,
    keys: tuple[str, ...],
    desc: tuple[bool, ...],
    nulls: tuple[bool, ...],
    n: int,
) -> Pending:
    """Sample -> range split into ``n`` ordered partitions (each split task derives the
    boundaries from all samples).

    When the input partitions can be read again (files or in-memory tables, pending
    steps without Python functions), the samplers and the splits each read them: no
    split can start before every partition was sampled, so a materialized input would
    be held (and, out of core, spilled and read back) whole in between. Reading a
    Parquet scan twice costs less than that (the samplers read only the key columns).
    """
    rereadable = not child.labels and all(
        not isinstance(p.source, (TaskRef, list)) for p in child.parts
    )
    if not rereadable:
        child = low.computed(child)
    per_partition = low.config.sort_samples_per_partition
    sample_stage = low.builder.add(
        "sort-sample",
        [
            low.task(
                sample_keys,
                (*_key_source(p, keys), keys, per_partition, i),
                "sort-sample",
                child,
                parts=(p,),
            )
            for i, p in enumerate(child.parts)
        ],
    )
    samples = [TaskRef(sample_stage.id, i) for i in range(child.num_partitions)]
    # Every split task computes the (same) boundaries from all samples itself: that is
    # cheaper than a boundaries task every split waits for (one scheduling round trip).
    # range_split returns len(boundaries) + 1 buckets; compute_boundaries gives n - 1 rows
    # at most, fewer for few distinct keys, so missing buckets read as empty.
    split_stage = low.builder.add(
        "sort-range",
        [
            low.task(
                RangeSplit(n),
                (p.source, p.steps, keys, desc, nulls, samples),
                "sort-range",
                child,
                num_outputs=n,
                parts=(p,),
                factor=max(SPLIT_FACTOR, pipeline_factor(p.steps)),
            )
            for p in child.parts
        ],
        child.estimated_bytes,
        child.estimated_rows,
        detail=f"{child.num_partitions} -> {n} partitions",
    )
    parts = tuple(
        Part([TaskRef(split_stage.id, i, j) for i in range(child.num_partitions)]) for j in range(n)
    )
    return dataclasses.replace(
        child, parts=parts, words=(), partitioning=None, resources=ResourceRequest(), labels=()
    )


def _key_source(part: Part, keys: tuple[str, ...]) -> tuple[Any, tuple[Step, ...]]:
    """What a sampler reads: a scan narrowed to the key columns when nothing else is
    pending, else the partition with its steps."""
    narrowed = getattr(part.source, "select_columns", None)
    if not part.steps and narrowed is not None:
        return narrowed(keys), ()
    return part.source, part.steps


def with_temp_columns(
    pending: Pending, exprs: tuple[Expression, ...], prefix: str
) -> tuple[Pending, list[str], Step | None]:
    """Make every expression a column: plain columns are used as they are; others are
    computed into temporary columns, with a step that drops them again."""
    if all(isinstance(e, Column) for e in exprs):
        return pending, [e.name for e in exprs], None  # type: ignore[attr-defined]
    schema = pending.schema
    names = [
        e.name if isinstance(e, Column) else f"__{prefix}_{i}"  # type: ignore[attr-defined]
        for i, e in enumerate(exprs)
    ]
    extra = [e.alias(n) for e, n in zip(exprs, names) if not isinstance(e, Column)]
    project = tuple(col(f.name) for f in schema) + tuple(extra)
    widened = pa.schema([*schema, *(resolve_field(e, schema) for e in extra)])
    drop = ProjectStep(tuple(col(f.name) for f in schema), schema)
    return pending.then(ProjectStep(project, widened), "project", widened), names, drop


@lowers(L.Repartition)
def lower_repartition(low: Lowering, node: L.Repartition) -> Pending:
    child = low.visit(node.child)
    n = node.n or low.exchange_partitions(child.estimated_bytes, child.num_partitions)
    if not node.keys:
        seed = node.seed if node.seed is not None else 0
        return exchange(low, child, n, "random-split", SeededRandomSplit(seed), (n,), seeded=True)
    child, names, drop = with_temp_columns(child, node.keys, "repartition")
    result = exchange(
        low, child, n, "hash-split", split_by_hash, (tuple(names), n), partitioning=tuple(names)
    )
    return result.then(drop, "project") if drop is not None else result
