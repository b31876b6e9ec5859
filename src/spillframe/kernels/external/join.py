"""Grace hash join: both sides hash-partitioned to disk, joined bucket pair by pair."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from spillframe.kernels.budget import MemoryGrant
from spillframe.kernels.exchange import chunks_of, concat_tables
from spillframe.kernels.external.runs import (
    _MAX_LEVELS,
    _UNBOUNDED,
    SpilledRun,
    _bucket_count,
    _drain,
    _first_bucket_count,
    _hold,
    _Intake,
    _stack,
    partition_to_disk,
)
from spillframe.kernels.join import JOIN_HOWS, hash_join, join_output_schema

# ---------------------------------------------------------------------------- join


@dataclass(frozen=True, slots=True)
class _JoinSpec:
    """Everything a bucket pair's join needs."""

    left_on: list[str]
    right_on: list[str]
    how: str
    prefix: str
    suffix: str | None
    left_schema: pa.Schema
    right_schema: pa.Schema
    grant: MemoryGrant
    directory: str

    @property
    def budget(self) -> int:
        return max(self.grant.limit // 3, 1)

    def output_schema(self) -> pa.Schema:
        return join_output_schema(
            self.left_schema,
            self.right_schema,
            self.left_on,
            self.right_on,
            self.how,
            self.prefix,
            self.suffix,
        )

    def join(self, left: pa.Table, right: pa.Table) -> pa.Table:
        return _tight(
            hash_join(left, right, self.left_on, self.right_on, self.how, self.prefix, self.suffix)
        )


def _tight(table: pa.Table) -> pa.Table:
    """``table`` in buffers of its size when it holds far more than it shows.

    Acero sizes each output batch's buffers for 32768 rows: joining the small bucket
    pairs of a spilled join, TPC-H SF1 lineitem x orders (32 MiB of inputs, 64
    buckets) gave 49 MiB of rows in 231 MiB of buffers, all held until the result
    was complete.
    """
    if table.get_total_buffer_size() <= 1.25 * table.nbytes + (64 << 10):
        return table
    columns = [pa.concat_arrays(column.chunks) for column in table.columns]
    return pa.Table.from_arrays(columns, schema=table.schema)


# Joins whose output for a chunk of one side depends only on that chunk and the whole
# other side, so that side can be streamed past the other held in memory (any join can,
# when the held side is empty).
_STREAMS_LEFT = ("inner", "left", "semi", "anti")
_STREAMS_RIGHT = ("inner", "right")


def _join_is_empty(how: str, left_rows: int, right_rows: int) -> bool:
    if how in ("inner", "semi"):
        return not (left_rows and right_rows)
    if how in ("left", "anti"):
        return not left_rows
    if how == "right":
        return not right_rows
    return not (left_rows or right_rows)


def _join_streaming(
    streamed: SpilledRun, held: SpilledRun, stream_left: bool, spec: _JoinSpec
) -> Iterator[pa.Table]:
    """Join chunks of ``streamed`` with all of ``held`` (which fits in half the budget)."""
    streamed_schema, held_schema = (
        (spec.left_schema, spec.right_schema)
        if stream_left
        else (spec.right_schema, spec.left_schema)
    )
    other = held.read(held_schema)
    with contextlib.closing(streamed.tables(streamed_schema)) as tables:
        for chunk in chunks_of(tables, spec.budget // 2, _stack):
            yield spec.join(chunk, other) if stream_left else spec.join(other, chunk)


def _join_bucket(
    left: SpilledRun, right: SpilledRun, level: int, spec: _JoinSpec
) -> Iterator[pa.Table]:
    """The join of one bucket pair: in memory, streamed, or partitioned once more."""
    if _join_is_empty(spec.how, left.num_rows, right.num_rows):
        pass  # only the files to delete
    elif left.nbytes + right.nbytes <= spec.budget:
        yield spec.join(left.read(spec.left_schema), right.read(spec.right_schema))
    elif (spec.how in _STREAMS_LEFT or not right.num_rows) and right.nbytes <= spec.budget // 2:
        yield from _join_streaming(left, right, True, spec)
    elif (spec.how in _STREAMS_RIGHT or not left.num_rows) and left.nbytes <= spec.budget // 2:
        yield from _join_streaming(right, left, False, spec)
    elif level >= _MAX_LEVELS:  # one hot key: hashing cannot split it
        yield spec.join(left.read(spec.left_schema), right.read(spec.right_schema))
    else:
        num_buckets = _bucket_count(left.nbytes + right.nbytes, spec.budget)
        lefts = _repartition(left, spec.left_schema, spec.left_on, num_buckets, level, spec)
        rights = _repartition(right, spec.right_schema, spec.right_on, num_buckets, level, spec)
        split = (
            max(r.num_rows for r in lefts) < left.num_rows
            or max(r.num_rows for r in rights) < right.num_rows
        )
        for sub_left, sub_right in zip(lefts, rights):
            yield from _join_bucket(sub_left, sub_right, level + 1 if split else _MAX_LEVELS, spec)
            sub_left.delete()
            sub_right.delete()
    left.delete()
    right.delete()


def _repartition(
    run: SpilledRun,
    schema: pa.Schema,
    keys: list[str],
    num_buckets: int,
    level: int,
    spec: _JoinSpec,
) -> list[SpilledRun]:
    with contextlib.closing(run.tables(schema)) as tables:
        buckets = partition_to_disk(
            tables, keys, num_buckets, level + 1, spec.directory, spec.grant, spread_null_keys=True
        )
    run.delete()
    return buckets


def _check_join_call(left_on: list[str], right_on: list[str], how: str) -> None:
    if how not in JOIN_HOWS:
        raise ValueError(f"unknown join type {how!r}; choose one of {', '.join(JOIN_HOWS)}")
    if how != "cross" and (len(left_on) != len(right_on) or not left_on):
        raise ValueError(
            f"a {how} join needs the same positive number of left and right keys, got "
            f"{len(left_on)} and {len(right_on)}"
        )


def grace_hash_join(
    left: Iterable[pa.Table],
    right: Iterable[pa.Table],
    left_on: list[str],
    right_on: list[str],
    how: str,
    prefix: str,
    suffix: str | None,
    grant: MemoryGrant,
    left_schema: pa.Schema | None = None,
    right_schema: pa.Schema | None = None,
) -> pa.Table:
    """Join the concatenated ``left`` and ``right`` inputs within ``grant.limit``.

    While both sides together stay within ``grant.limit // 3`` bytes (a join holds its
    inputs, a hash table and its output) they are joined in memory. Otherwise both
    sides are hash-partitioned to disk by their keys into the same number of buckets
    and the bucket pairs joined one at a time: in memory when the pair fits, by
    streaming one side past the other when one side fits in half the budget, else
    partitioned again. A cross join is always done in memory.

    Parameters
    ----------
    left, right : iterable of pa.Table
        The two inputs, each consumed once, in order.
    left_on, right_on, how, prefix, suffix
        As in :func:`spillframe.kernels.join.hash_join`.
    grant : MemoryGrant
        The memory budget and scratch space.
    left_schema, right_schema : pa.Schema, optional
        Schema of a side that holds no table.

    Returns
    -------
    pa.Table
        The rows of ``hash_join(concat(left), concat(right), ...)``, in another order when
        spilled, with exactly its schema.

    Examples
    --------
    >>> l = [pa.table({"k": [1, 2], "x": ["a", "b"]})]
    >>> r = [pa.table({"k": [2, 3], "x": ["c", "d"]})]
    >>> grant = MemoryGrant(1 << 20)
    >>> grace_hash_join(l, r, ["k"], ["k"], "inner", "right.", None, grant).to_pylist()
    [{'k': 2, 'x': 'b', 'right.x': 'c'}]
    """
    _check_join_call(left_on, right_on, how)
    sides = [_Intake(left), _Intake(right)]
    budget = max(grant.limit // 3, 1)
    held, fits = _hold(sides, budget if how != "cross" else _UNBOUNDED)

    def side_schemas():
        return (
            sides[0].schema(left_schema, "left_schema"),
            sides[1].schema(right_schema, "right_schema"),
        )

    if fits:
        tables = [concat_tables(h, s) for h, s in zip(held, side_schemas())]
        held.clear()
        return hash_join(*tables, left_on, right_on, how, prefix, suffix)
    num_buckets = _first_bucket_count(sides, budget)
    with grant.scratch_dir() as directory:
        buckets = [  # level 0: seed 1
            partition_to_disk(
                _drain(h, side), on, num_buckets, 1, directory, grant, spread_null_keys=True
            )
            for h, side, on in zip(held, sides, (left_on, right_on))
        ]
        del held
        spec = _JoinSpec(
            list(left_on), list(right_on), how, prefix, suffix, *side_schemas(), grant, directory
        )
        results = [result for pair in zip(*buckets) for result in _join_bucket(*pair, 1, spec)]
        return _stack(results, spec.output_schema())
