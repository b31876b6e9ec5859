"""Lowering of joins: hash exchange of both sides to the same partitions -> a join per
partition pair, or a broadcast of the small side; sides already partitioned on their
keys are kept. A broadcast join that streams its big side (inner, left, semi, anti
with the small side on the right; inner, right with it on the left) is a step of the
big side's pipeline rather than a stage of its own."""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from spillframe.kernels.probe import STREAMS_PAST, indexable_keys
from spillframe.logical import nodes as L
from spillframe.physical.lowering.core import Lowering, Part, Pending, lowers
from spillframe.physical.lowering.exchange import hash_exchange
from spillframe.physical.lowering.ranges import (
    comparable_keys,
    row_groups,
    scan_key_columns,
)
from spillframe.physical.memory import JOIN_FACTOR
from spillframe.physical.plan import TaskRef
from spillframe.physical.steps import (
    BroadcastJoinStep,
    CombineChunksStep,
    JoinSpec,
    join_partitions,
)


@lowers(L.Join)
def lower_join(low: Lowering, node: L.Join) -> Pending:
    if node.reduction:
        return _reducing_semi_join(low, node)
    left, right = low.visit(node.left), low.visit(node.right)
    spec = JoinSpec(node.left_on, node.right_on, node.how, node.prefix, node.suffix, node.schema)
    indexed = indexable_join(left.schema, right.schema, spec)
    side = broadcast_side(low, node, left, right, indexed)
    if side is not None:
        return broadcast_join(low, left, right, spec, side)
    aligned = aligned_join(low, node, left, right, spec)
    if aligned is not None:
        return aligned
    # Partitions sized by the inputs, which is what the exchange feeding the join
    # moves. Sizing them by the (larger) output was measured and dropped: lineitem
    # joined with orders at memory_limit=256 MiB made 70 partitions instead of 46,
    # so 2660 spilled buckets instead of 1748 and 8.4-10.8 s instead of 6.8-8.8 s,
    # and on Dask (512 MiB workers) it did not stop workers being killed.
    estimate, share, rows = _join_estimate(node.how, left, right)
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
    stage = low.builder.add("hash-join", tasks, estimate, rows)
    keeps_left = node.how in ("inner", "left", "semi", "anti")
    return _stage_output(
        stage.id,
        len(tasks),
        node.schema,
        estimate,
        left.partitioning if keeps_left else None,
        share,
        rows,
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


def indexable_join(left: pa.Schema, right: pa.Schema, spec: JoinSpec) -> bool:
    """Whether the join is on one key of integer-like types on both sides, which a
    broadcast join can index instead of hash-joining (see :mod:`spillframe.kernels.probe`)."""
    if len(spec.left_on) != 1:
        return False
    return indexable_keys(left.field(spec.left_on[0]).type, right.field(spec.right_on[0]).type)


def broadcast_side(
    low: Lowering, node: L.Join, left: Pending, right: Pending, indexed: bool = False
) -> str | None:
    """ "right" or "left" when that side should be broadcast, else None (hash join).
    ``indexed``: the join's key could be indexed (:func:`broadcastable`)."""
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
    candidates = []
    if can_right and left.num_partitions > 1 and broadcastable(low, right, indexed, left):
        candidates.append((right.expected_bytes or 0, 0, "right"))
    if can_left and right.num_partitions > 1 and broadcastable(low, left, indexed, right):
        candidates.append((left.expected_bytes or 0, 1, "left"))
    return min(candidates)[2] if candidates else None  # the smaller; right on a tie


#: A side broadcast only by ``broadcast_index_bytes`` is at most this many times smaller
#: than the side streaming past it (by their expected bytes). A broadcast join saves
#: the exchange of the streamed side, but its output loses the hash partitioning on
#: the key that a later groupby or join on it would have reused. Measured on TPC-H
#: SF1 with orders broadcast whenever it fit: Q18 ran 1.6x slower, Q12 (orders 173 MiB
#: against a filtered lineitem of 30 MiB) 1.16x; and Q10 (customer 26 MiB against 31
#: MiB of lineitem joined with orders, then grouped by the customer key) 1.17x. With
#: the share of 4 all three run as fast as before.
INDEXED_SHARE = 4


def broadcastable(
    low: Lowering, side: Pending, indexed: bool = False, other: Pending | None = None
) -> bool:
    """Whether ``side`` is small enough to send whole to every task of the other side:
    expected (after filters) under ``broadcast_join_bytes``, and at most (the upper
    bound) four partitions' worth, so a guess that filters keep little cannot make
    every task hold a large table.

    A side the join could index by its one integer-like key (``indexed``) may be as
    large as ``broadcast_index_bytes``, its upper bound included: it is stored once,
    and each task of the other side holds a lookup array and the chunk it probes, not
    a hash table per chunk. The py runner sets that to half its memory budget, so at
    memory_limit=512 MiB SF1 lineitem streams past orders (173 MiB) as DuckDB's join
    does, instead of exchanging 1.4 GiB. Such a side must also be expected at most
    1/:data:`INDEXED_SHARE` of the ``other`` side, which streams past it.
    ``broadcast_join_bytes=0`` turns both off.
    """
    config = low.config
    if side.expected_bytes is None or side.estimated_bytes is None:
        return False
    if config.broadcast_join_bytes == 0:
        return False
    if (
        indexed
        and side.estimated_bytes <= config.broadcast_index_bytes
        and (
            other is None
            or other.expected_bytes is None
            or side.expected_bytes * INDEXED_SHARE <= other.expected_bytes
        )
    ):
        return True
    cap = max(config.broadcast_join_bytes, 4 * config.partition_bytes)
    return side.expected_bytes <= config.broadcast_join_bytes and side.estimated_bytes <= cap


def broadcast_join(
    low: Lowering, left: Pending, right: Pending, spec: JoinSpec, side: str
) -> Pending:
    small, big = (right, left) if side == "right" else (left, right)
    small = low.computed(small)
    if spec.how in STREAMS_PAST[side] and small.num_partitions > 1:
        small = _combined(low, small)
    if spec.how in STREAMS_PAST[side]:
        return _fused_broadcast_join(left, right, small, big, spec, side)
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
    estimate, share, rows = _join_estimate(spec.how, left, right)
    stage = low.builder.add("broadcast-join", tasks, estimate, rows)
    keeps_left = side == "right" and spec.how in ("inner", "left", "semi", "anti")
    partitioning = big.partitioning if keeps_left else None
    return _stage_output(stage.id, len(tasks), spec.schema, estimate, partitioning, share, rows)


def _combined(low: Lowering, small: Pending) -> Pending:
    """The small side of a fused broadcast join as one partition of one chunk per
    column, made by one task (see :class:`CombineChunksStep`)."""
    part = Part([p.source for p in small.parts], (CombineChunksStep(),))
    merged = dataclasses.replace(small, parts=(part,), words=("broadcast-combine",))
    return low.computed(merged)


def _fused_broadcast_join(
    left: Pending, right: Pending, small: Pending, big: Pending, spec: JoinSpec, side: str
) -> Pending:
    """The broadcast join as one more step of the big side's pipeline: no stage of its
    own, so its output is not stored before the next operator reads it (TPC-H Q5 and
    Q8 chain several), and a scan of the big side streams through it batch by batch.
    Each task reads the small side whole (see :class:`BroadcastJoinStep`)."""
    (stage_id,) = {p.source.stage_id for p in small.parts}
    every = tuple(p.source for p in small.parts)
    indexed = indexable_join(left.schema, right.schema, spec)
    step = BroadcastJoinStep(dataclasses.replace(spec, broadcast=side), stage_id, indexed)
    parts = tuple(p.then(step, (stage_id, every)) for p in big.parts)
    estimate, share, rows = _join_estimate(spec.how, left, right)
    keeps_left = side == "right" and spec.how in ("inner", "left", "semi", "anti")
    merged = _merged(big, small)
    return dataclasses.replace(
        big,
        parts=parts,
        schema=spec.schema,
        estimated_bytes=estimate,
        estimated_rows=rows,
        words=big.words if "broadcast-join" in big.words else (*big.words, "broadcast-join"),
        resources=merged.resources,
        labels=merged.labels,
        partitioning=big.partitioning if keeps_left else None,
        selectivity=share,
    )


#: Joins an aligned join can do with the left side's parts as its tasks: each left row
#: is in one task, with every right row it can match, so left rows without a match
#: are kept (left, anti) exactly once. Right and outer joins would keep a right row
#: without a match once per task that read it; an inner join may drive by either side.
_DRIVEN_BY_LEFT = ("inner", "left", "semi", "anti")


def aligned_join(
    low: Lowering, node: L.Join, left: Pending, right: Pending, spec: JoinSpec
) -> Pending | None:
    """The join as one task per part of one side (the driver) when both sides are
    Parquet scans stored in order of the one join key (:mod:`.ranges`); None when
    they are not, or the user chose a strategy.

    The driver's row groups, in key order, are cut into parts sized by the join's
    output; each task joins one part with the other side's row groups that overlap
    the part's key range (the files' statistics), read with that range as a filter:
    every driver row is in one task, which reads every row it can match, so any
    cut of the driver gives the hash join's rows. Nothing is exchanged
    or stored between the scans and the join: SF1 lineitem joined with orders (both
    written in order-key order) on 2 x 512 MiB Dask workers exchanged and spilled
    1 GiB of buckets first.

    An other-side row group overlapping the ranges of several driver parts is read by
    each of them; files in key order keep that small (each TPC-H orders row group,
    one per file, spans about four lineitem row groups), files in no order make every
    part read all of it. The join is aligned only while those repeated reads stay
    below what a hash join would exchange (both sides' estimated bytes).
    """
    if node.strategy is not None or len(spec.left_on) != 1 or node.how not in _DRIVEN_BY_LEFT:
        return None
    sides = [(left, spec.left_on[0]), (right, spec.right_on[0])]
    if node.how == "inner" and (right.estimated_bytes or 0) > (left.estimated_bytes or 0):
        sides.reverse()  # the larger side drives: the smaller one is read again
    (driver, driver_key), (other, other_key) = sides
    if driver.num_partitions < 2:
        return None
    exchanged = (driver.estimated_bytes or 0) + (other.estimated_bytes or 0)
    estimate, share, rows = _join_estimate(node.how, left, right)
    for driver_column in scan_key_columns(driver, [driver_key], with_inputs=False):
        driving = row_groups(driver, driver_column)
        if driving is None:
            continue
        # Parts sized by the join's output, as partition_bytes asks of every partition
        # (a row group at least): at 32 MiB partitions the output of a part of SF1
        # lineitem was 60 MiB, and a 512 MiB Dask worker holding one while joining the
        # next paused, spilled it, and was once killed.
        wanted = low.exchange_partitions(estimate, driver.num_partitions)
        parts = driving.split(min(len(driving.pieces), max(driver.num_partitions, wanted)))
        driver_type = driving.scan.physical.field(driver_column).type
        for other_column in scan_key_columns(other, [other_key], with_inputs=False):
            other_type = other.parts[0].source.physical.field(other_column).type
            if not comparable_keys(driver_type, other_type):
                continue
            groups = row_groups(other, other_column)
            if groups is None:
                continue
            read = sum(p.num_bytes for _, (lo, hi) in parts for p in groups.overlapping(lo, hi))
            if read - groups.num_bytes > exchanged:
                continue
            name = "-".join((*driver.words, "aligned-join"))
            tasks = []
            for part, (lo, hi) in parts:
                read_part = groups.part(lo, hi, other_column)
                lp, rp = (part, read_part) if driver is left else (read_part, part)
                tasks.append(
                    low.task(
                        join_partitions,
                        (lp.source, lp.steps, rp.source, rp.steps, spec),
                        name,
                        _merged(left, right),
                        parts=(lp, rp),
                        factor=JOIN_FACTOR,
                    )
                )
            stage = low.builder.add(name, tasks, estimate, rows)
            return _stage_output(stage.id, len(tasks), spec.schema, estimate, None, share, rows)
    return None


def _join_estimate(how: str, left: Pending, right: Pending) -> tuple[int | None, float, int | None]:
    """A join's output size, the expected share of it after filters and its rows.

    semi/anti keep some left rows: at most the left side; a semi join keeps as few as
    the filters on its right side leave keys to match (their selectivity). Other joins
    are sized as key/foreign-key joins, the common case: every row of the larger side
    meets at most one row of the other, so the output has the larger side's rows, each
    as wide as a row of both sides (an outer join adds the other side's unmatched
    rows). That is at least the sum of both sides, and for lineitem joined with
    orders it is 1.48 GiB against 1.43 GiB measured, where the sum of the sides said
    0.96 GiB: partitions after the join, and the buckets feeding it on Dask, were
    sized half as many as they needed. Without row counts: the sum of both sides.
    """
    if how in ("semi", "anti"):
        share = left.selectivity * (right.selectivity if how == "semi" else 1.0)
        return left.estimated_bytes, share, left.estimated_rows
    total = _add(left.estimated_bytes, right.estimated_bytes)
    if total is None:
        return None, min(left.selectivity, right.selectivity), None
    expected = (left.expected_bytes or 0) + (right.expected_bytes or 0)
    share = expected / total if total else 1.0
    rows = _join_rows(how, left.estimated_rows, right.estimated_rows)
    if rows is None or not left.estimated_rows or not right.estimated_rows:
        return total, share, rows
    assert left.estimated_bytes is not None and right.estimated_bytes is not None
    row_width = (
        left.estimated_bytes / left.estimated_rows + right.estimated_bytes / right.estimated_rows
    )
    return max(total, int(rows * row_width)), share, rows


def _join_rows(how: str, left: int | None, right: int | None) -> int | None:
    """Output rows of a key/foreign-key join (see :func:`_join_estimate`)."""
    if left is None or right is None:
        return None
    if how == "cross":
        return left * right
    if how == "outer":
        return left + right
    return max(left, right)


def _stage_output(
    stage_id: int,
    n: int,
    schema: pa.Schema,
    estimate: int | None,
    partitioning: tuple[str, ...] | None = None,
    selectivity: float = 1.0,
    rows: int | None = None,
) -> Pending:
    return Pending(
        tuple(Part(TaskRef(stage_id, i)) for i in range(n)),
        schema,
        estimate,
        estimated_rows=rows,
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
