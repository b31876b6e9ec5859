"""Lowering of the reshaping nodes (:mod:`spillframe.logical.reshape`).

``RepeatRows`` and ``Unpivot`` are narrow steps fused into the partition's task.
``Offset`` and ``SampleRows`` need each row's global position: the input partitions
are computed once, a ``count-rows`` task per partition counts them, and each output
task reads its partition and every count (a few bytes each), so no task holds more
than one partition and the result does not depend on the partitioning.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pyarrow as pa

from spillframe.kernels.narrow import Step, run_pipeline
from spillframe.kernels.reshape import (
    RepeatStep,
    SampleRowsKernel,
    UnpivotStep,
    count_rows,
    offset_partition,
)
from spillframe.logical import reshape as R
from spillframe.physical.lowering.core import Lowering, Part, Pending, lowers
from spillframe.physical.plan import ResourceRequest, TaskRef


@lowers(R.RepeatRows)
def lower_repeat_rows(low: Lowering, node: R.RepeatRows) -> Pending:
    child = low.visit(node.child)
    return child.then(RepeatStep(node.times), "repeat", node.schema, estimated_rows=None)


@lowers(R.Unpivot)
def lower_unpivot(low: Lowering, node: R.Unpivot) -> Pending:
    child = low.visit(node.child)
    k = max(1, len(node.values))
    estimate = None if child.estimated_bytes is None else child.estimated_bytes * k
    step = UnpivotStep(node.ids, node.values, node.schema)
    return child.then(
        step,
        "unpivot",
        node.schema,
        estimated_bytes=estimate,
        estimated_rows=None,
        partitioning=None,
    )


def count_partition(source: Any, steps: tuple[Step, ...]) -> pa.Table:
    """The row count of one (computed) partition."""
    return count_rows(run_pipeline(source, steps))


@dataclasses.dataclass(frozen=True, slots=True)
class _Positional:
    """Run a partition's steps, then ``kernel(table, counts, index)``."""

    kernel: Any

    def __call__(
        self, source: Any, steps: tuple[Step, ...], counts: list[pa.Table], index: int
    ) -> pa.Table:
        return self.kernel(run_pipeline(source, steps), list(counts), index)


@dataclasses.dataclass(frozen=True, slots=True)
class _Offset:
    n: int

    def __call__(self, table: pa.Table, counts: list[pa.Table], index: int) -> pa.Table:
        return offset_partition(table, counts, index, self.n)


def positional(low: Lowering, node: Any, kernel: Any, name: str) -> Pending:
    """Partitions of ``node.child`` computed once, counted, then each passed with every
    count to ``kernel(table, counts, index)``."""
    child = low.computed(low.visit(node.child))
    counts = low.builder.add(
        "count-rows",
        [
            low.task(count_partition, (p.source, p.steps), "count-rows", child, parts=(p,))
            for p in child.parts
        ],
    )
    refs = [TaskRef(counts.id, i) for i in range(child.num_partitions)]
    tasks = [
        low.task(_Positional(kernel), (p.source, p.steps, refs, i), name, child, parts=(p,))
        for i, p in enumerate(child.parts)
    ]
    stage = low.builder.add(name, tasks, child.estimated_bytes)
    parts = tuple(Part(TaskRef(stage.id, i)) for i in range(len(tasks)))
    return dataclasses.replace(
        child,
        parts=parts,
        words=(),
        estimated_rows=None,
        resources=ResourceRequest(),
        labels=(),
        partitioning=None,
    )


@lowers(R.Offset)
def lower_offset(low: Lowering, node: R.Offset) -> Pending:
    return positional(low, node, _Offset(node.n), "offset")


@lowers(R.SampleRows)
def lower_sample_rows(low: Lowering, node: R.SampleRows) -> Pending:
    # Without a seed each query draws anew (as Sample does); the seed is fixed here, so
    # every task of one run draws the same positions.
    seed = node.seed if node.seed is not None else int.from_bytes(os.urandom(4), "little")
    kernel = SampleRowsKernel(node.size, node.fraction, node.with_replacement, seed)
    return positional(low, node, kernel, "sample-rows")
