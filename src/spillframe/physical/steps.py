"""What tasks run: the steps of pipelines and the kernels of exchange and join tasks.

A step is a picklable, frozen callable ``pa.Table -> pa.Table`` that the lowering
appends to a pending partition; :func:`spillframe.kernels.narrow.run_pipeline` runs
them fused in one task. A step that can consume its input partition by partition
(out of core, within the task's memory grant) has ``run_partitions``; one that keeps
rows as they are declares ``row_wise``. The task kernels below run a partition's
pending steps, then split or join it. Everything here is top-level so that runners
can pickle it; it lives above the expression layer, so kernels never import
expressions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from spillframe.expr.evaluate import evaluate, evaluate_column
from spillframe.expr.expression import Expression
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
from spillframe.kernels.inputs import task_cached, task_input
from spillframe.kernels.join import hash_join
from spillframe.kernels.narrow import (
    Step,
    explode_table,
    run_pipeline,
    slice_partition,
    stream_partitions,
)
from spillframe.kernels.probe import UniqueKeyIndex, index_unique_keys
from spillframe.kernels.sort import sort_table, top_k
from spillframe.physical.memory import (
    AGGREGATE_FACTOR,
    HASH_TABLE_FACTOR,
    INDEX_FACTOR,
    JOIN_FACTOR,
    SORT_FACTOR,
)


@dataclass(frozen=True, slots=True)
class FilterStep:
    """Keep rows where ``predicate`` is true (null counts as false)."""

    predicate: Expression
    row_wise: ClassVar[bool] = True

    def __call__(self, table: pa.Table) -> pa.Table:
        mask = evaluate(self.predicate, table)
        if isinstance(mask, pa.Scalar):
            return table if mask.as_py() else table.slice(0, 0)
        return table.filter(mask, null_selection_behavior="drop")


@dataclass(frozen=True, slots=True)
class ProjectStep:
    """Compute each expression into a column of the planned ``schema``."""

    exprs: tuple[Expression, ...]
    schema: pa.Schema
    row_wise: ClassVar[bool] = True

    def __call__(self, table: pa.Table) -> pa.Table:
        memo: dict[Any, Any] = {}  # common subexpressions are computed once
        columns = [evaluate_column(e, table, f.type, memo) for e, f in zip(self.exprs, self.schema)]
        return pa.Table.from_arrays(columns, schema=self.schema)


@dataclass(frozen=True, slots=True)
class LimitStep:
    """The first ``n`` rows of this partition."""

    n: int

    def __call__(self, table: pa.Table) -> pa.Table:
        return table.slice(0, self.n)


@dataclass(frozen=True, slots=True)
class ExplodeStep:
    """One row per element of the list ``columns``; empty or null lists give a null row."""

    columns: tuple[str, ...]

    def __call__(self, table: pa.Table) -> pa.Table:
        return explode_table(table, list(self.columns))


@dataclass(frozen=True, slots=True)
class SampleStep:
    """Keep each row with probability ``fraction`` (seeded per partition)."""

    fraction: float
    seed: int

    def __call__(self, table: pa.Table) -> pa.Table:
        rng = np.random.default_rng(self.seed)
        return table.filter(pa.array(rng.random(table.num_rows) < self.fraction))


#: A partial aggregation over a stream reduces this much input at a time (see
#: ``AggregateStep._partial_of_stream``) while a chunk's states keep at most
#: ``PARTIAL_REDUCTION`` of its rows.
PARTIAL_CHUNK_BYTES = 16 << 20
PARTIAL_REDUCTION = 0.25


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
            return self._partial_of_stream(tables, grant)
        result = spilling_aggregate(tables, list(self.keys), list(self.specs), self.phase, grant)
        return self._typed(result)

    def _partial_of_stream(self, tables: Iterable[pa.Table], grant: MemoryGrant) -> pa.Table:
        """Partial states of a stream of tables (a scan's filtered batches, or input
        partitions), reduced :data:`PARTIAL_CHUNK_BYTES` at a time while that keeps
        few groups, so the task holds one chunk and the states so far instead of its
        whole input (TPC-H Q1: 4 groups per chunk). When a chunk keeps more than
        :data:`PARTIAL_REDUCTION` of its rows, the groups are many: the rest is reduced
        in one piece, as the final phase would otherwise get a chunk's worth of states
        per chunk, unless a quarter of ``grant`` is reached first: the input is then
        reduced to free it, so the task stays within its grant either way. The final
        phase merges every task's states, so more than one state row per group is
        correct."""
        if not self.keys:  # one state row per table: reduce each as it comes
            rows = [self(table) for table in tables]
            return concat_tables(rows) if len(rows) != 1 else rows[0]
        states: list[pa.Table] = []
        pending: list[pa.Table] = []
        pending_bytes = 0
        chunking = True
        for table in tables:
            pending.append(table)
            pending_bytes += table.nbytes
            if (chunking and pending_bytes >= PARTIAL_CHUNK_BYTES) or (
                pending_bytes >= grant.limit // 4
            ):
                rows = sum(t.num_rows for t in pending)
                reduced = self(concat_tables(pending))
                pending, pending_bytes = [], 0
                states.append(reduced)
                chunking = chunking and reduced.num_rows <= PARTIAL_REDUCTION * rows
        if pending or not states:
            states.append(self(concat_tables(pending)))
        return states[0] if len(states) == 1 else concat_tables(states)

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
class CombineChunksStep:
    """One chunk per column. A broadcast join's small side, read whole by every task
    of its big side, is combined once by a task of its own: each reader would
    otherwise concatenate its parts, and index or hash them, into a copy of its own
    (SF1 orders at memory_limit=512 MiB: two 173 MiB copies at a time)."""

    def __call__(self, table: pa.Table) -> pa.Table:
        return table.combine_chunks()


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


@dataclass(frozen=True, slots=True)
class SliceStep:
    """Part ``part`` of ``parts`` equal slices of a partition."""

    part: int
    parts: int

    def __call__(self, table: pa.Table) -> pa.Table:
        return slice_partition(table, self.part, self.parts)


#: A broadcast side that is not indexed (see BroadcastJoinStep) is joined with chunks
#: of the streamed side of at least this many bytes, and of at least four times its
#: own size, so that building its hash table once per chunk costs a bounded share.
BROADCAST_CHUNK_BYTES = 16 << 20
#: chunk_bytes asking for the whole partition in one chunk.
WHOLE_PARTITION = 1 << 62
#: Pieces probed against an indexed broadcast side are gathered to about this size
#: (TPC-H Q19's scan keeps 4k rows of each row group: 27 probes, and 27 evaluations of
#: its long filter, per task).
PROBE_CHUNK_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class BroadcastJoinStep:
    """Join each piece of the partition with a small side read whole: a broadcast join
    fused into the big side's pipeline, so that its output is never stored between
    stages and a scan streams through it batch by batch.

    ``input_key`` names the small side among the task's inputs (see
    :mod:`spillframe.kernels.inputs`); ``spec.broadcast`` says which side it is, and
    ``spec.how`` is one of the joins that stream the other side
    (:data:`~spillframe.kernels.probe.STREAMS_PAST`). A small side with one unique
    integer-like key is indexed once per task and probed by each piece; another is
    hash-joined with pieces gathered to :meth:`chunk_bytes`.
    """

    spec: JoinSpec
    input_key: int
    #: The key is one integer-like column, so the small side is likely indexed.
    indexed: bool = False
    row_wise: ClassVar[bool] = True
    memory_factor: ClassVar[float] = JOIN_FACTOR

    @property
    def input_factor(self) -> float:
        """Bytes per byte of the small side the task builds over it (the memory model's
        :data:`~spillframe.physical.memory.INDEX_FACTOR` or ``HASH_TABLE_FACTOR``)."""
        return INDEX_FACTOR if self.indexed else HASH_TABLE_FACTOR

    def __call__(self, table: pa.Table) -> pa.Table:
        spec, side = self.spec, self.spec.broadcast
        assert side is not None
        small = task_input(self.input_key)
        small_on, big_on = self._keys()
        index = self._index(table.schema)
        grant = current_grant()
        if index is not None:
            result = index.join(table, big_on[0], spec.how, spec.prefix, spec.suffix)
        elif grant is not None and self._outgrows(grant):
            # The whole partition (see chunk_bytes) joined once, out of core if need be.
            big, small_side = [table], [small]
            left, right = (big, small_side) if side == "right" else (small_side, big)
            left_on, right_on = (big_on, small_on) if side == "right" else (small_on, big_on)
            result = grace_hash_join(
                left, right, left_on, right_on, spec.how, spec.prefix, spec.suffix, grant
            )
        elif side == "right":
            result = hash_join(table, small, big_on, small_on, spec.how, spec.prefix, spec.suffix)
        else:
            result = hash_join(small, table, small_on, big_on, spec.how, spec.prefix, spec.suffix)
        return result.cast(spec.schema) if not result.schema.equals(spec.schema) else result

    def chunk_bytes(self, schema: pa.Schema) -> int:
        """Bytes of input to join at once: :data:`PROBE_CHUNK_BYTES` when the small
        side is indexed (pieces a filtered scan left small are gathered, so that the
        join and the steps after it are not called per tiny batch), else enough that
        building its hash table per chunk costs a bounded share
        (:data:`BROADCAST_CHUNK_BYTES`, and four times the small side)."""
        if self._index(schema) is not None:
            return PROBE_CHUNK_BYTES
        grant = current_grant()
        if grant is not None and self._outgrows(grant):
            return WHOLE_PARTITION
        return max(BROADCAST_CHUNK_BYTES, 4 * task_input(self.input_key).nbytes)

    def _outgrows(self, grant: MemoryGrant) -> bool:
        """Whether a hash table over the small side would not fit the task's grant: a
        side broadcast for its integer key (``broadcast_index_bytes``) whose keys
        turned out not unique or not dense. The partition is then joined once, by
        :func:`grace_hash_join` within the grant, instead of chunk by chunk."""
        return HASH_TABLE_FACTOR * task_input(self.input_key).nbytes > grant.limit

    def _keys(self) -> tuple[list[str], list[str]]:
        spec = self.spec
        if spec.broadcast == "right":
            return list(spec.right_on), list(spec.left_on)
        return list(spec.left_on), list(spec.right_on)

    def _index(self, schema: pa.Schema) -> UniqueKeyIndex | None:
        small_on, big_on = self._keys()
        if len(big_on) != 1:
            return None
        key_type = schema.field(big_on[0]).type

        def build() -> UniqueKeyIndex | None:
            # A semi or anti join asks only whether a key is there, so its keys need
            # not be unique (TPC-H Q4's late lineitems: 3.8M keys of 1.4M orders).
            return index_unique_keys(
                task_input(self.input_key),
                small_on,
                key_type,
                self.spec.broadcast or "right",
                membership=self.spec.how in ("semi", "anti"),
            )

        return task_cached(  # type: ignore[no-any-return]
            ("broadcast-index", self.input_key, str(key_type)), build
        )


# -- task kernels: what the tasks of exchanges and joins call (top-level, picklable)


@dataclass(frozen=True, slots=True)
class JoinSpec:
    """How two partitions are joined."""

    left_on: tuple[str, ...]
    right_on: tuple[str, ...]
    how: str
    prefix: str
    suffix: str | None
    schema: pa.Schema
    #: The side every task reads whole ("left" or "right") in a fused broadcast join.
    broadcast: str | None = None


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


@dataclass(frozen=True, slots=True)
class SeededRandomSplit:
    """``split_at_random`` with a user seed added to the partition index."""

    seed: int

    def __call__(self, source: Any, steps: tuple[Step, ...], n: int, index: int) -> list:
        return split_at_random(source, steps, n, self.seed + index)


@dataclass(frozen=True, slots=True)
class RangeSplit:
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
