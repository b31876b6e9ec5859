"""Narrow operators, fused: one pipeline of steps runs on each partition in one task.

A step is any callable ``pa.Table -> pa.Table`` (the plan's steps are in
:mod:`spillframe.physical.steps`); this module runs them and holds the kernels of the
narrow steps that need no expressions."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spillframe.kernels.budget import current_grant
from spillframe.kernels.exchange import chunks_of, concat_tables


def explode_table(table: pa.Table, columns: list[str]) -> pa.Table:
    """Explode list columns together (their lengths must agree row by row)."""
    table = table.combine_chunks()
    lists = [
        table.column(c).chunk(0) if table.num_rows else pa.array([], table.schema.field(c).type)
        for c in columns
    ]
    lengths = [pc.fill_null(pc.list_value_length(a), 0) for a in lists]
    for name, length in zip(columns[1:], lengths[1:]):
        if not pc.all(pc.equal(length, lengths[0])).as_py() and len(length):
            raise ValueError(
                f"explode: list column {name!r} has different lengths than "
                f"{columns[0]!r} in the same row"
            )
    # A row with an empty or null list becomes one row holding null.
    counts = (
        np.maximum(lengths[0].to_numpy(zero_copy_only=False), 1)
        if len(lists[0])
        else np.zeros(0, dtype=np.int64)
    )
    parents = np.repeat(np.arange(table.num_rows), counts)
    result = table.take(pa.array(parents, pa.int64()))
    for name, arr, length in zip(columns, lists, lengths):
        values = _explode_values(arr, length.to_numpy(zero_copy_only=False), counts)
        index = result.schema.get_field_index(name)
        result = result.set_column(index, pa.field(name, values.type), values)
    return result


def _explode_values(arr: pa.Array, lengths: np.ndarray, counts: np.ndarray) -> pa.Array:
    flat = pc.list_flatten(arr)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else lengths
    out_starts = np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else counts
    position = np.arange(int(counts.sum())) - np.repeat(out_starts, counts)
    source = np.repeat(starts, counts) + position
    valid = np.repeat(lengths > 0, counts)
    taken = (
        flat.take(pa.array(np.where(valid, source, 0), pa.int64()))
        if len(flat)
        else pa.nulls(len(source), flat.type)
    )
    return pc.if_else(pa.array(valid, pa.bool_()), taken, pa.scalar(None, flat.type))


Step = Callable[[pa.Table], pa.Table]


class PartitionStream(Sequence[pa.Table]):
    """Input partitions that are loaded one at a time, as a kernel reaches them.

    A runner passes a task's list of input references as a stream, so that a kernel
    that can work piece by piece (an out-of-core sort, join or aggregation) never
    holds every input at once. Each input is loaded at most once: a stream is
    iterated once.

    Examples
    --------
    >>> stream = PartitionStream([lambda: pa.table({"a": [1]}), lambda: pa.table({"a": [2]})])
    >>> [t["a"][0].as_py() for t in stream]
    [1, 2]
    """

    def __init__(self, loaders: list[Callable[[], pa.Table]]) -> None:
        self._loaders = list(loaders)

    def __len__(self) -> int:
        return len(self._loaders)

    def __getitem__(self, index: int) -> pa.Table:  # type: ignore[override]
        return self._loaders[index]()

    def __iter__(self) -> Iterator[pa.Table]:
        for i in range(len(self._loaders)):
            loader, self._loaders[i] = self._loaders[i], _loaded
            yield loader()


def _loaded() -> pa.Table:
    raise RuntimeError("a PartitionStream input was read twice")


def run_pipeline(source: Any, steps: tuple[Step, ...]) -> pa.Table:
    """Apply ``steps`` in order to one partition.

    ``source`` is a table, a list (or :class:`PartitionStream`) of tables to
    concatenate (merged partitions), or a scan (any object with ``read() ->
    pa.Table``). When the runner granted the task a memory budget and a step can
    consume its input partition by partition (it has ``run_partitions``, as sort and
    aggregation steps do), the steps before it run on each input partition and that
    step gets the stream, so it can go out of core instead of concatenating.
    """
    grant = current_grant()
    wide = _first_streaming_step(steps) if grant is not None else None
    if wide is not None:
        table = steps[
            wide
        ].run_partitions(  # type: ignore[attr-defined]
            stream_partitions(source, steps[:wide]), grant
        )
        return apply_steps(table, steps[wide + 1 :])
    if isinstance(source, (list, PartitionStream)):
        table = concat_tables(list(source))
    elif isinstance(source, pa.Table):
        table = source
    elif hasattr(source, "read_batches") and (n := _row_wise_prefix(steps)):
        # Filter and project the scan batch by batch: the task holds one batch of what
        # it reads and what the steps keep, never its whole partition as read.
        kept = list(stream_partitions(source, steps[:n]))
        table = pa.concat_tables(kept) if len(kept) > 1 else kept[0]
        steps = steps[n:]
    else:
        table = source.read()
    return apply_steps(table, steps)


def stream_partitions(source: Any, steps: tuple[Step, ...]) -> Iterator[pa.Table]:
    """``run_pipeline(source, steps)`` as a stream of tables when every step is row-wise:
    merged partitions one by one, or a scan's batches, each through the steps; else one
    table."""
    row_wise = all(getattr(step, "row_wise", False) for step in steps)
    if row_wise and isinstance(source, (list, PartitionStream)):
        yield from _through(iter(source), steps)
    elif row_wise and hasattr(source, "read_batches"):
        empty = True
        for table in _through(source.read_batches(), steps):
            empty = False
            yield table
        if empty:  # the stream still says what it would have held
            yield apply_steps(source.output.empty_table(), steps)
    else:
        yield run_pipeline(source, steps)


def _through(tables: Iterator[pa.Table], steps: tuple[Step, ...]) -> Iterator[pa.Table]:
    """Each table through ``steps`` as it comes. A step with ``chunk_bytes(schema)``
    (a join that builds a table per call) gets its input gathered into chunks of about
    that many bytes (0: each table as it is)."""
    for step in steps:
        if hasattr(step, "chunk_bytes"):
            tables = _gathered(tables, step.chunk_bytes)
        tables = map(step, tables)
    return tables


def _gathered(
    tables: Iterator[pa.Table], chunk_bytes: Callable[[pa.Schema], int]
) -> Iterator[pa.Table]:
    """``tables`` concatenated into chunks of ``chunk_bytes(schema)`` bytes or more,
    asked of the first table's schema (0: each table as it is)."""
    first = next(tables, None)
    if first is None:
        return
    wanted = chunk_bytes(first.schema)
    tables = itertools.chain([first], tables)
    del first
    yield from chunks_of(tables, wanted) if wanted else tables


def _row_wise_prefix(steps: tuple[Step, ...]) -> int:
    """How many of the first steps work row by row (filters, projections)."""
    n = 0
    while n < len(steps) and getattr(steps[n], "row_wise", False):
        n += 1
    return n


def apply_steps(table: pa.Table, steps: tuple[Step, ...]) -> pa.Table:
    for step in steps:
        table = step(table)
    return table


def _first_streaming_step(steps: tuple[Step, ...]) -> int | None:
    """Index of the first step that takes a stream, if only row-wise steps precede it."""
    for i, step in enumerate(steps):
        if hasattr(step, "run_partitions"):
            return i
        if not getattr(step, "row_wise", False):
            return None
    return None


def slice_partition(table: pa.Table, part: int, parts: int) -> pa.Table:
    """Rows of part ``part`` of ``parts`` near-equal slices (for ``into_partitions``)."""
    n = table.num_rows
    start, stop = n * part // parts, n * (part + 1) // parts
    return table.slice(start, stop - start)
