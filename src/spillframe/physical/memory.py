"""The plan's memory model: every task's peak working memory, from what it does and the
sizes of its inputs.

A task holds its inputs, builds its kernel's intermediate state and returns its
output, so its peak is a multiple of its input bytes. The multiples below come from
what the kernels allocate (pyarrow tables are not copied between steps, but every
kernel writes a new output):

- a narrow pipeline (scan, filter, project) holds its input and one step's output;
- a split (hash, range, random) holds its input, 8 bytes of hash or index per row
  and the buckets, a copy of the input;
- a sort holds its input, the sort keys and permutation, and the sorted copy;
- a join holds both inputs, a hash table over the build side and an output about as
  large as its inputs (a one-to-many join repeats the one side); a broadcast join
  fused into its big side's pipeline reads the small side as stored, and counts only
  the index or hash table it builds over it;
- an aggregation holds its input, the groups and a (smaller) output.

The wide kernels' out-of-core forms switch over at the same multiples (see
:mod:`spillframe.kernels.external`), so a task whose reservation was granted in full
runs in memory and one granted less goes out of core.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from spillframe.physical.plan import Stage, TaskRef, WorkingMemory, iter_refs

#: Peak bytes per input byte, by what a task does.
PIPELINE_FACTOR = 2.0
SPLIT_FACTOR = 2.5
SORT_FACTOR = 3.0
JOIN_FACTOR = 3.0
AGGREGATE_FACTOR = 2.0
#: Bytes per byte of a fused broadcast join's small side that each task of the big
#: side builds over it, the side itself being stored once: an Acero hash table (about
#: twice the side), or for a side indexed by its key the lookup array, which
#: :data:`spillframe.kernels.probe.MAX_LOOKUP_SHARE` bounds (with a 32 MiB floor that
#: only small sides reach).
HASH_TABLE_FACTOR = 2.0
INDEX_FACTOR = 0.5


def pipeline_factor(steps: Iterable[Any]) -> float:
    """The multiple of a fused pipeline: its most demanding step's (steps declare a
    ``memory_factor``; plain narrow steps hold their input and output)."""
    return max(
        (getattr(step, "memory_factor", PIPELINE_FACTOR) for step in steps), default=PIPELINE_FACTOR
    )


def ref_bytes(args: Any, stages: dict[int, Stage]) -> int:
    """Planned bytes of every task output referenced in ``args``: a stage's estimate
    spread over its tasks, and over the buckets of a multi-output task."""
    total = 0
    for ref in iter_refs(args):
        total += planned_output_bytes(ref, stages)
    return total


def planned_output_bytes(ref: TaskRef, stages: dict[int, Stage]) -> int:
    stage = stages[ref.stage_id]
    if not stage.estimated_bytes or not stage.tasks:
        return 0
    per_task = stage.estimated_bytes / stage.num_partitions
    if ref.output is not None:
        per_task /= max(1, stage.num_outputs)
    return int(per_task)


def working_memory(
    args: Any,
    scan_bytes: int,
    factor: float,
    stages: dict[int, Stage],
    held: Iterable[tuple[Any, float]] = (),
) -> WorkingMemory:
    """The estimate of a task reading ``args`` (plus ``scan_bytes`` from files);
    ``held``: ``(refs, factor)`` of inputs among ``args`` that the task keeps whole as
    stored, each costing ``factor`` times its bytes (see :class:`WorkingMemory`)."""
    in_memory = sum(a.nbytes for a in _tables(args))
    held_bytes, held_peak = 0, 0.0
    for refs, held_factor in held:
        nbytes = ref_bytes(refs, stages)
        held_bytes += nbytes
        held_peak += nbytes * held_factor
    return WorkingMemory(
        scan_bytes + in_memory,
        ref_bytes(args, stages),
        factor,
        held_bytes,
        held_peak / held_bytes if held_bytes else 0.0,
    )


def _tables(value: Any) -> Iterable[pa.Table]:
    if isinstance(value, pa.Table):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tables(item)
