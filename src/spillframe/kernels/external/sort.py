"""External sort: sorted runs on disk and a streamed, stable k-way merge."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from spillframe.kernels.budget import MemoryGrant
from spillframe.kernels.exchange import concat_tables
from spillframe.kernels.external.runs import (
    SpilledRun,
    _batch_bytes,
    _Intake,
    _SpillWriter,
    _stack,
)
from spillframe.kernels.sort import check_sort_args, sort_indices, sort_table, take_rows

# ---------------------------------------------------------------------------- sort


@dataclass(frozen=True, slots=True)
class _SortSpec:
    """Keys and flags of a sort, and the output schema."""

    keys: list[str]
    descending: list[bool]
    nulls_first: list[bool]
    schema: pa.Schema

    def indices(self, table: pa.Table) -> np.ndarray:
        return sort_indices(table, self.keys, self.descending, self.nulls_first).to_numpy()


class _RunCursor:
    """The unread rows of one sorted run, read from disk one batch at a time."""

    def __init__(self, run: SpilledRun, schema: pa.Schema) -> None:
        self._tables = run.tables(schema)
        self.buffer = schema.empty_table()
        self.exhausted = False  # no batch left on disk (the buffer may still hold rows)

    def fill(self) -> None:
        """Read the next batch if the buffer is empty."""
        while not self.buffer.num_rows and not self.exhausted:
            table = next(self._tables, None)
            if table is None:
                self.exhausted = True
            else:
                self.buffer = table

    def close(self) -> None:
        self._tables.close()


def _boundary_run(cursors: list[_RunCursor], spec: _SortSpec) -> int:
    """Index of the run (among ``cursors``) whose buffer ends on the smallest last row.

    The stable sort puts the earliest such run first among equal last rows.
    """
    tails = pa.concat_tables([c.buffer.slice(c.buffer.num_rows - 1, 1) for c in cursors])
    return int(spec.indices(tails)[0])


def _merge_step(cursors: list[_RunCursor], spec: _SortSpec) -> pa.Table:
    """Take from the buffers every row that sorts before all rows not yet read.

    Runs hold consecutive input, in order, so the stable order of equal keys is by run,
    then position. Unread rows of a run sort after the last row of its buffer; so,
    with ``b`` the boundary run (smallest last row ``B``, earliest among equals), the
    rows that may go are those before ``B`` in the stable sort of all buffers
    concatenated in run order, and ``B`` itself: a prefix of that sort. It holds all
    of ``b``'s buffer, so each step empties at least one buffer.
    """
    sizes = np.array([c.buffer.num_rows for c in cursors])
    buffers = pa.concat_tables([c.buffer for c in cursors])
    order = spec.indices(buffers)
    unread = [i for i, c in enumerate(cursors) if not c.exhausted]
    if unread:
        boundary = unread[_boundary_run([cursors[i] for i in unread], spec)]
        boundary_row = int(sizes[: boundary + 1].sum()) - 1
        order = order[: int(np.flatnonzero(order == boundary_row)[0]) + 1]
    taken = np.bincount(np.repeat(np.arange(len(cursors)), sizes)[order], minlength=len(cursors))
    for cursor, count in zip(cursors, taken.tolist()):
        cursor.buffer = cursor.buffer.slice(count)
    return take_rows(buffers, pa.array(order))


def _merge_runs(runs: list[SpilledRun], spec: _SortSpec, sink: Callable[[pa.Table], None]) -> None:
    """Stream the merge of sorted ``runs`` (in input order) to ``sink``, in sorted order."""
    with contextlib.ExitStack() as stack:
        cursors = []
        for run in runs:
            cursors.append(_RunCursor(run, spec.schema))
            stack.callback(cursors[-1].close)
        while True:
            for cursor in cursors:
                cursor.fill()
            cursors = [c for c in cursors if c.buffer.num_rows]
            if not cursors:
                return
            sink(_merge_step(cursors, spec))


def _write_sorted_run(
    held: list[pa.Table], spec: _SortSpec, directory: str, grant: MemoryGrant
) -> SpilledRun:
    """Sort the held tables as one run and write it; empties ``held``."""
    run = sort_table(concat_tables(held), spec.keys, spec.descending, spec.nulls_first)
    held.clear()
    with _SpillWriter(directory, grant, _batch_bytes(grant)) as writer:
        writer.write(run)
        del run
        return writer.close()


def _merge_to_disk(
    runs: list[SpilledRun], spec: _SortSpec, directory: str, grant: MemoryGrant
) -> SpilledRun:
    """Merge consecutive ``runs`` into one run on disk (and delete them)."""
    with _SpillWriter(directory, grant, _batch_bytes(grant)) as writer:
        _merge_runs(runs, spec, writer.write)
        merged = writer.close()
    for run in runs:
        run.delete()
    return merged


def _reduce_runs(
    runs: list[SpilledRun], fan_in: int, spec: _SortSpec, directory: str, grant: MemoryGrant
) -> list[SpilledRun]:
    """Merge runs on disk until at most ``fan_in`` are left, rewriting as little as possible.

    Only consecutive runs are merged, which keeps equal keys in input order.
    """
    while len(runs) > fan_in:
        excess = len(runs) - fan_in + 1  # merging these into one leaves fan_in runs
        if excess <= fan_in:
            return [_merge_to_disk(runs[:excess], spec, directory, grant), *runs[excess:]]
        runs = [
            _merge_to_disk(runs[i : i + fan_in], spec, directory, grant)
            if len(runs[i : i + fan_in]) > 1
            else runs[i]
            for i in range(0, len(runs), fan_in)
        ]
    return runs


class _Chunker:
    """Gathers merge output (about a batch per step) into chunks of ``nbytes``."""

    def __init__(self, nbytes: int) -> None:
        self._nbytes, self._size = nbytes, 0
        self._pending: list[pa.Table] = []
        self.chunks: list[pa.Table] = []

    def __call__(self, piece: pa.Table) -> None:
        self._pending.append(piece)
        self._size += piece.nbytes
        if self._size >= self._nbytes:
            self.chunks.append(pa.concat_tables(self._pending).combine_chunks())
            self._pending, self._size = [], 0

    def result(self, schema: pa.Schema) -> pa.Table:
        return _stack([*self.chunks, *self._pending], schema)


def _merge_to_table(
    runs: list[SpilledRun], spec: _SortSpec, directory: str, grant: MemoryGrant
) -> pa.Table:
    """Merge the runs, at most ``fan_in`` at a time, so that about one batch per merged
    run is held (``limit // 4`` in all) besides the result."""
    fan_in = max(2, min(256, grant.limit // (4 * _batch_bytes(grant))))
    runs = _reduce_runs(runs, fan_in, spec, directory, grant)
    chunker = _Chunker(max(grant.limit // 8, 1))
    _merge_runs(runs, spec, chunker)
    return chunker.result(spec.schema)


def external_sort(
    inputs: Iterable[pa.Table],
    keys: list[str],
    descending: list[bool],
    nulls_first: list[bool],
    grant: MemoryGrant,
    schema: pa.Schema | None = None,
) -> pa.Table:
    """Stable sort of the concatenated ``inputs`` within ``grant.limit``.

    While the input stays within ``grant.limit // 3`` bytes it is sorted in memory.
    Otherwise runs of about that size are sorted and written to disk, then merged,
    reading each run one batch at a time (in several passes if there are many runs).

    Parameters
    ----------
    inputs : iterable of pa.Table
        Input tables, consumed once, in order (equal keys keep this order).
    keys, descending, nulls_first : list
        As in :func:`spillframe.kernels.sort.sort_table`.
    grant : MemoryGrant
        The memory budget and scratch space.
    schema : pa.Schema, optional
        Schema of the result when ``inputs`` holds no table (otherwise the
        tables' own, unified as :func:`~spillframe.kernels.exchange.concat_tables` does).

    Returns
    -------
    pa.Table
        Exactly ``sort_table(concat_tables(list(inputs)), keys, descending, nulls_first)``.

    Examples
    --------
    >>> parts = [pa.table({"k": [3, 1]}), pa.table({"k": [2, None]})]
    >>> external_sort(parts, ["k"], [False], [True], MemoryGrant(1 << 20))["k"].to_pylist()
    [None, 1, 2, 3]
    """
    intake, run_bytes = _Intake(inputs), max(grant.limit // 3, 1)
    with contextlib.ExitStack() as stack:
        held, held_bytes, runs, directory, spec = [], 0, [], None, None
        for table in intake.rest():
            if spec is None:
                check_sort_args(table.schema, keys, descending, nulls_first)
                spec = _SortSpec(list(keys), list(descending), list(nulls_first), table.schema)
            held.append(table)
            held_bytes += table.nbytes
            del table
            if held_bytes > run_bytes:
                directory = directory or stack.enter_context(grant.scratch_dir())
                runs.append(_write_sorted_run(held, spec, directory, grant))
                held_bytes = 0
        target = intake.schema(schema, "schema")
        if not runs:
            table = concat_tables(held, target)
            held.clear()
            return sort_table(table, keys, descending, nulls_first)
        if held:
            runs.append(_write_sorted_run(held, spec, directory, grant))
        spec = _SortSpec(spec.keys, spec.descending, spec.nulls_first, target)
        return _merge_to_table(runs, spec, directory, grant)
