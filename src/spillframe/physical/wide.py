"""Lowering of wide operators to exchanges between stages.

Groupby = partial aggregation fused into the split tasks -> hash exchange -> final
aggregation. Join = hash exchange of both sides to the same N -> per-partition join,
or a broadcast of the small side. Sort = sample -> boundaries -> range exchange ->
local sort. Nothing here concatenates a whole dataset into one task unless the
plan has one partition.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from spillframe.expr.evaluate import resolve_field
from spillframe.expr.expression import Column, Expression, col
from spillframe.kernels.aggregate import AggSpec, aggregate, final_aggregate, partial_aggregate
from spillframe.kernels.budget import MemoryGrant, current_grant
from spillframe.kernels.exchange import (
    compute_boundaries,
    concat_tables,
    hash_split,
    random_split,
    range_split,
    sample_for_boundaries,
)
from spillframe.kernels.external import external_sort, grace_hash_join, spilling_aggregate
from spillframe.kernels.join import hash_join
from spillframe.kernels.narrow import Step, run_pipeline, stream_partitions
from spillframe.kernels.sort import sort_table, top_k
from spillframe.logical import nodes as L
from spillframe.physical.lower import Lowering, Part, Pending
from spillframe.physical.memory import (
    AGGREGATE_FACTOR,
    JOIN_FACTOR,
    SORT_FACTOR,
    SPLIT_FACTOR,
    pipeline_factor,
)
from spillframe.physical.plan import TaskRef
from spillframe.physical.steps import ProjectStep
from spillframe.resources import ResourceRequest

# -- steps and kernels (top-level and picklable) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class AggregateStep:
    """Group by ``keys`` and aggregate: ``phase`` is "single", "partial" or "final"."""

    keys: tuple[str, ...]
    specs: tuple[AggSpec, ...]
    phase: str
    schema: pa.Schema | None = None
    memory_factor: ClassVar[float] = AGGREGATE_FACTOR

    def __call__(self, table: pa.Table) -> pa.Table:
        fn = {"single": aggregate, "partial": partial_aggregate, "final": final_aggregate}
        return self._typed(fn[self.phase](table, list(self.keys), list(self.specs)))

    def run_partitions(self, tables: Iterable[pa.Table], grant: MemoryGrant) -> pa.Table:
        """Aggregate a stream of input partitions within ``grant``: a single or final
        phase spills hash-partitioned input to disk when the groups outgrow it."""
        if self.phase == "partial":
            return self(concat_tables(list(tables)))
        result = spilling_aggregate(tables, list(self.keys), list(self.specs), self.phase, grant)
        return self._typed(result)

    def _typed(self, result: pa.Table) -> pa.Table:
        if self.schema is not None and not result.schema.equals(self.schema):
            result = result.rename_columns(self.schema.names).cast(self.schema)
        return result


@dataclass(frozen=True, slots=True)
class SortStep:
    """Sort one partition."""

    keys: tuple[str, ...]
    descending: tuple[bool, ...]
    nulls_first: tuple[bool, ...]
    memory_factor: ClassVar[float] = SORT_FACTOR

    def __call__(self, table: pa.Table) -> pa.Table:
        return sort_table(table, list(self.keys), list(self.descending), list(self.nulls_first))

    def run_partitions(self, tables: Iterable[pa.Table], grant: MemoryGrant) -> pa.Table:
        """Sort a stream of input partitions within ``grant`` (sorted runs spilled to
        disk and merged when the input outgrows it)."""
        return external_sort(
            tables, list(self.keys), list(self.descending), list(self.nulls_first), grant
        )


@dataclass(frozen=True, slots=True)
class TopKStep:
    """The first ``k`` rows of one partition in sort order."""

    keys: tuple[str, ...]
    descending: tuple[bool, ...]
    nulls_first: tuple[bool, ...]
    k: int

    def __call__(self, table: pa.Table) -> pa.Table:
        return top_k(table, list(self.keys), list(self.descending), list(self.nulls_first), self.k)


@dataclass(frozen=True, slots=True)
class JoinSpec:
    """How two partitions are joined."""

    left_on: tuple[str, ...]
    right_on: tuple[str, ...]
    how: str
    prefix: str
    suffix: str | None
    schema: pa.Schema


def split_by_hash(
    source: Any, steps: tuple[Step, ...], keys: tuple[str, ...], n: int
) -> list[pa.Table]:
    """Run a partition's pending steps, then split it into ``n`` buckets by key hash."""
    return hash_split(run_pipeline(source, steps), list(keys), n)


def split_at_random(source: Any, steps: tuple[Step, ...], n: int, seed: int) -> list[pa.Table]:
    """Run a partition's pending steps, then split it into ``n`` random buckets."""
    return random_split(run_pipeline(source, steps), n, seed)


def split_by_range(
    source: Any,
    steps: tuple[Step, ...],
    keys: tuple[str, ...],
    descending: tuple[bool, ...],
    nulls_first: tuple[bool, ...],
    boundaries: pa.Table,
) -> list[pa.Table]:
    """Run a partition's pending steps, then split it into ``len(boundaries) + 1``
    buckets of ordered key ranges."""
    return range_split(
        run_pipeline(source, steps), list(keys), list(descending), list(nulls_first), boundaries
    )


def sample_keys(
    source: Any, steps: tuple[Step, ...], keys: tuple[str, ...], n: int, seed: int
) -> pa.Table:
    """A random sample of a partition's sort keys (after its pending steps)."""
    return sample_for_boundaries(run_pipeline(source, steps), list(keys), n, seed)


def boundaries_of(
    samples: list[pa.Table],
    keys: tuple[str, ...],
    descending: tuple[bool, ...],
    nulls_first: tuple[bool, ...],
    n: int,
) -> pa.Table:
    """Range boundaries for ``n`` output partitions from every partition's sample."""
    return compute_boundaries(samples, list(keys), list(descending), list(nulls_first), n)


def join_partitions(
    left: Any,
    left_steps: tuple[Step, ...],
    right: Any,
    right_steps: tuple[Step, ...],
    spec: JoinSpec,
) -> pa.Table:
    """Join one left partition with one right partition (either may be a list to concat).

    Within a memory grant (set by the runner) the sides are read partition by partition
    and joined by :func:`grace_hash_join`, which goes out of core when they outgrow it.
    """
    grant = current_grant()
    if grant is not None and spec.how != "cross":
        result = grace_hash_join(
            stream_partitions(left, left_steps),
            stream_partitions(right, right_steps),
            list(spec.left_on),
            list(spec.right_on),
            spec.how,
            spec.prefix,
            spec.suffix,
            grant,
        )
    else:
        result = hash_join(
            run_pipeline(left, left_steps),
            run_pipeline(right, right_steps),
            list(spec.left_on),
            list(spec.right_on),
            spec.how,
            spec.prefix,
            spec.suffix,
        )
    if not result.schema.equals(spec.schema):
        result = result.cast(spec.schema)
    return result


# -- exchanges --------------------------------------------------------------------------------


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
    stage_id = low.materialize(pending, name)
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


# -- aggregate and distinct ------------------------------------------------------------------------


def lower_Aggregate(low: Lowering, node: L.Aggregate) -> Pending:
    child = low.visit(node.child)
    keys = [k.output_name() for k in node.keys]
    pre = [k.alias(name) for k, name in zip(node.keys, keys)]
    specs = []
    for i, agg in enumerate(node.aggs):
        root = L.unwrap_agg(agg)
        pre.append(root.child.alias(f"__agg_in_{i}"))
        specs.append(AggSpec(root.op, f"__agg_in_{i}", agg.output_name()))
    pre_schema = pa.schema([resolve_field(e, node.child.schema) for e in pre])
    child = child.then(ProjectStep(tuple(pre), pre_schema), "project", pre_schema)
    return aggregate_pending(low, child, keys, tuple(specs), node.schema)


def aggregate_pending(
    low: Lowering, child: Pending, keys: list[str], specs: tuple[AggSpec, ...], schema: pa.Schema
) -> Pending:
    """One phase on one partition, or per partition when the input is already hash
    partitioned on some of the keys; otherwise partial -> hash exchange -> final."""
    estimate = child.estimated_bytes
    if child.num_partitions == 1 or (
        keys and child.partitioning is not None and set(child.partitioning) <= set(keys)
    ):
        return child.then(
            AggregateStep(tuple(keys), specs, "single", schema), "agg", schema, estimated_rows=None
        )
    partial = child.then(AggregateStep(tuple(keys), specs, "partial"), "agg-partial")
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
        else low.materialized(partial, "agg-partial")
    )
    if not keys:  # a global aggregation: one final task over every partial
        exchanged = dataclasses.replace(
            exchanged, parts=(Part([p.source for p in exchanged.parts]),)
        )
    final = exchanged.then(AggregateStep(tuple(keys), specs, "final", schema), "agg-final", schema)
    return dataclasses.replace(final, estimated_rows=None)


@dataclass(frozen=True, slots=True)
class PackStep:
    """Keep ``keys`` and pack every other column into one non-null struct column ``name``."""

    keys: tuple[str, ...]
    name: str
    schema: pa.Schema

    def __call__(self, table: pa.Table) -> pa.Table:
        kind = self.schema.field(self.name).type
        values = [table.column(f.name).combine_chunks() for f in kind]
        packed = (
            pa.StructArray.from_arrays(values, fields=list(kind))
            if values
            else pa.array([{}] * table.num_rows, kind)
        )
        return pa.Table.from_arrays(
            [*(table.column(k) for k in self.keys), packed], schema=self.schema
        )


@dataclass(frozen=True, slots=True)
class UnpackStep:
    """Replace struct column ``name`` by its fields, in the order of ``schema``."""

    name: str
    schema: pa.Schema

    def __call__(self, table: pa.Table) -> pa.Table:
        packed = table.column(self.name)
        fields = {f.name: i for i, f in enumerate(packed.type)}
        columns = [
            packed.combine_chunks().field(fields[f.name])
            if f.name in fields
            else table.column(f.name)
            for f in self.schema
        ]
        return pa.Table.from_arrays(columns, schema=self.schema)


def lower_Distinct(low: Lowering, node: L.Distinct) -> Pending:
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


def lower_Repartition(low: Lowering, node: L.Repartition) -> Pending:
    child = low.visit(node.child)
    n = node.n or low.exchange_partitions(child.estimated_bytes, child.num_partitions)
    if not node.keys:
        seed = node.seed if node.seed is not None else 0
        return exchange(low, child, n, "random-split", _SeededRandom(seed), (n,), seeded=True)
    child, names, drop = with_temp_columns(child, node.keys, "repartition")
    result = exchange(
        low, child, n, "hash-split", split_by_hash, (tuple(names), n), partitioning=tuple(names)
    )
    return result.then(drop, "project") if drop is not None else result


@dataclass(frozen=True, slots=True)
class _SeededRandom:
    """``split_at_random`` with a user seed added to the partition index."""

    seed: int

    def __call__(self, source: Any, steps: tuple[Step, ...], n: int, index: int) -> list:
        return split_at_random(source, steps, n, self.seed + index)


# -- sort and top-k --------------------------------------------------------------------------------


def lower_Sort(low: Lowering, node: L.Sort) -> Pending:
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
        child = low.materialized(child)
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
                _RangeSplit(n),
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


@dataclass(frozen=True, slots=True)
class _RangeSplit:
    """``split_by_range`` padded to exactly ``n`` buckets."""

    n: int

    def __call__(
        self,
        source: Any,
        steps: tuple[Step, ...],
        keys: tuple[str, ...],
        desc: tuple[bool, ...],
        nulls: tuple[bool, ...],
        samples: list[pa.Table],
    ) -> list[pa.Table]:
        boundaries = boundaries_of(samples, keys, desc, nulls, self.n)
        buckets = split_by_range(source, steps, keys, desc, nulls, boundaries)
        empty = buckets[0].schema.empty_table()
        return buckets + [empty] * (self.n - len(buckets))


def lower_TopK(low: Lowering, node: L.TopK) -> Pending:
    child = low.visit(node.child)
    child, names, drop = with_temp_columns(child, node.keys, "sort")
    step = TopKStep(tuple(names), node.descending, node.nulls_first, node.k)
    local = child.then(step, "top-k")
    if local.num_partitions > 1:
        local = low.materialized(local)
        local = dataclasses.replace(
            local,
            parts=(Part([p.source for p in local.parts], (step,)),),
            words=("top-k",),
            partitioning=None,
        )
    return local.then(drop, "project") if drop is not None else local


# -- join --------------------------------------------------------------------------------------------


def lower_Join(low: Lowering, node: L.Join) -> Pending:
    if node.strategy == "reduce":
        return _reducing_semi_join(low, node)
    left, right = low.visit(node.left), low.visit(node.right)
    spec = JoinSpec(node.left_on, node.right_on, node.how, node.prefix, node.suffix, node.schema)
    side = broadcast_side(low, node, left, right)
    if side is not None:
        return broadcast_join(low, left, right, spec, side)
    n = max(
        low.exchange_partitions(
            _add(left.estimated_bytes, right.estimated_bytes),
            max(left.num_partitions, right.num_partitions),
        ),
        1,
    )
    if not (left.num_partitions == 1 and right.num_partitions == 1 and n == 1):
        left, right = co_partitioned(low, left, right, list(node.left_on), list(node.right_on), n)
    tasks = [
        low.task(
            join_partitions,
            (lp.source, lp.steps, rp.source, rp.steps, spec),
            "hash-join",
            _merged(left, right),
            parts=(lp, rp),
            factor=JOIN_FACTOR,
        )
        for lp, rp in zip(left.parts, right.parts)
    ]
    estimate, share = _join_estimate(node.how, left, right)
    stage = low.builder.add("hash-join", tasks, estimate)
    keeps_left = node.how in ("inner", "left", "semi", "anti")
    return _stage_output(
        stage.id,
        len(tasks),
        node.schema,
        estimate,
        left.partitioning if keeps_left else None,
        share,
    )


def _matching_keys(side: Pending, on: list[str], other_on: list[str]) -> list[str] | None:
    """The other side's keys to split by so that it lines up with ``side``'s hash
    partitioning, when ``side`` is hash partitioned on some of its join keys ``on``."""
    if side.partitioning is None or not all(k in on for k in side.partitioning):
        return None
    return [other_on[on.index(k)] for k in side.partitioning]


def co_partitioned(
    low: Lowering, left: Pending, right: Pending, left_on: list[str], right_on: list[str], n: int
) -> tuple[Pending, Pending]:
    """Both sides hash partitioned alike on matching join keys, exchanging as little as
    possible: a side already partitioned on (some of) its keys is kept, and only the
    other side is split to match it. The kept side needs at least half the ``n`` parts
    the join's estimate asks for: estimates after an aggregation or a filter are upper
    bounds, and twice the planned rows per task still fit the memory budget's slack."""
    for keep_left in (True, False):
        kept, other = (left, right) if keep_left else (right, left)
        kept_on, other_on = (left_on, right_on) if keep_left else (right_on, left_on)
        keys = _matching_keys(kept, kept_on, other_on)
        if keys is None or 2 * kept.num_partitions < n:
            continue
        if not (other.partitioning == tuple(keys) and other.num_partitions == kept.num_partitions):
            other = hash_exchange(low, other, keys, kept.num_partitions)
        return (kept, other) if keep_left else (other, kept)
    return hash_exchange(low, left, left_on, n), hash_exchange(low, right, right_on, n)


#: A reducing semi join runs only when filters are expected to have left at most this
#: share of its keys: computing the keys twice costs more than a weaker reduction saves
#: (TPC-H Q2, keys filtered to ~80%: 20 ms slower; Q21, ~4%: 0.85 s -> 0.55 s).
REDUCE_SELECTIVITY = 0.25


def _reducing_semi_join(low: Lowering, node: L.Join) -> Pending:
    """An optional semi join (see ``optimizer.rules.reduce_grouped_sides``): the right
    side's keys are broadcast to filter the left side when they are expected small;
    otherwise the left side passes unfiltered, which gives the same query result."""
    rows, keys = low.visit(node.left), low.visit(node.right)
    worth_it = (  # well filtered keys, few enough to broadcast, a fraction of the rows
        keys.selectivity <= REDUCE_SELECTIVITY
        and broadcastable(low, keys)
        and (rows.estimated_bytes is None or 4 * (keys.expected_bytes or 0) <= rows.estimated_bytes)
    )
    if not worth_it:
        return rows  # the keys' stages stay unreachable: nothing runs them
    spec = JoinSpec(node.left_on, node.right_on, "semi", node.prefix, node.suffix, node.schema)
    return broadcast_join(low, rows, keys, spec, "right")


def broadcast_side(low: Lowering, node: L.Join, left: Pending, right: Pending) -> str | None:
    """ "right" or "left" when that side should be broadcast, else None (hash join)."""
    if node.how == "cross":
        return "right"
    if node.strategy == "hash" or node.how == "outer":
        return None
    can_right = node.how in ("inner", "left", "semi", "anti")
    can_left = node.how in ("inner", "right")
    if node.strategy == "broadcast":
        if can_right and (not can_left or _smaller(right, left)):
            return "right"
        return "left" if can_left else None
    if can_right and broadcastable(low, right) and left.num_partitions > 1:
        return "right"
    if can_left and broadcastable(low, left) and right.num_partitions > 1:
        return "left"
    return None


def broadcastable(low: Lowering, side: Pending) -> bool:
    """Whether ``side`` is small enough to send whole to every task of the other side:
    expected (after filters) under ``broadcast_join_bytes``, and at most (the upper
    bound) four partitions' worth, so a guess that filters keep little cannot make
    every task hold a large table."""
    if side.expected_bytes is None or side.estimated_bytes is None:
        return False
    cap = max(low.config.broadcast_join_bytes, 4 * low.config.partition_bytes)
    return side.expected_bytes <= low.config.broadcast_join_bytes and side.estimated_bytes <= cap


def broadcast_join(
    low: Lowering, left: Pending, right: Pending, spec: JoinSpec, side: str
) -> Pending:
    small, big = (right, left) if side == "right" else (left, right)
    small = low.materialized(small)
    every = [p.source for p in small.parts]
    tasks = []
    for p in big.parts:
        args = (p.source, p.steps, every, ()) if side == "right" else (every, (), p.source, p.steps)
        tasks.append(
            low.task(
                join_partitions,
                (*args, spec),
                "broadcast-join",
                _merged(left, right),
                parts=(p,),
                factor=JOIN_FACTOR,
            )
        )
    estimate, share = _join_estimate(spec.how, left, right)
    stage = low.builder.add("broadcast-join", tasks, estimate)
    keeps_left = side == "right" and spec.how in ("inner", "left", "semi", "anti")
    return _stage_output(
        stage.id, len(tasks), spec.schema, estimate, big.partitioning if keeps_left else None, share
    )


def _join_estimate(how: str, left: Pending, right: Pending) -> tuple[int | None, float]:
    """A join's output size (upper bound) and expected share of it after filters.

    semi/anti keep some left rows: at most the left side; a semi join keeps as few as
    the filters on its right side leave keys to match (their selectivity). Other joins:
    the sum of both sides, with their expected shares combined.
    """
    if how in ("semi", "anti"):
        share = left.selectivity * (right.selectivity if how == "semi" else 1.0)
        return left.estimated_bytes, share
    total = _add(left.estimated_bytes, right.estimated_bytes)
    if total is None:
        return None, min(left.selectivity, right.selectivity)
    expected = (left.expected_bytes or 0) + (right.expected_bytes or 0)
    return total, expected / total if total else 1.0


def _stage_output(
    stage_id: int,
    n: int,
    schema: pa.Schema,
    estimate: int | None,
    partitioning: tuple[str, ...] | None = None,
    selectivity: float = 1.0,
) -> Pending:
    return Pending(
        tuple(Part(TaskRef(stage_id, i)) for i in range(n)),
        schema,
        estimate,
        partitioning=partitioning,
        selectivity=selectivity,
    )


def _merged(a: Pending, b: Pending) -> Pending:
    return dataclasses.replace(
        a, resources=a.resources.max(b.resources), labels=(*a.labels, *b.labels)
    )


def _smaller(a: Pending, b: Pending) -> bool:
    if a.estimated_bytes is None or b.estimated_bytes is None:
        return True
    return a.estimated_bytes <= b.estimated_bytes


def _add(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a + b
