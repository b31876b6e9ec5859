"""Out-of-core forms of the wide kernels: external sort, grace hash join, spilling aggregation.

Each kernel takes its input as an iterable of tables, consumed once and in order, and
a :class:`~spillframe.kernels.budget.MemoryGrant`. While the input fits in a fraction of
``grant.limit`` the kernel works in memory (and writes nothing); beyond it, it writes
data to Arrow IPC streams (lz4) in ``grant.scratch_dir()`` and works on one bounded
piece at a time. Results equal the in-memory kernels' over the concatenated input:

- :func:`external_sort`: row for row (stable), by sorted runs and a streamed k-way merge;
- :func:`grace_hash_join`: same rows (any order) and schema, by co-partitioning both
  sides by a hash of the join keys and joining bucket pairs;
- :func:`spilling_aggregate`: same rows (any order) and schema, by partitioning the
  rows (or partial states) by a hash of the group keys and aggregating each bucket.

Partitioning hashes with ``seed = level + 1``: the inputs are usually already one bucket
of the exchange's seed-0 hashing, so seed 0 would put every row in the same bucket. A
bucket still over the budget is partitioned again with the next seed, at most
``_MAX_LEVELS`` times (a single hot key cannot be split; it is then processed in memory).

Only the working set is bounded: the result is returned as one table, so it is held
in memory whole, as the in-memory kernels hold theirs. Sizes are ``pa.Table.nbytes``.
"""

from __future__ import annotations

import contextlib
import operator
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from spillframe.kernels.aggregate import AggSpec, aggregate, final_aggregate
from spillframe.kernels.budget import SPILL_COMPRESSION, MemoryGrant
from spillframe.kernels.exchange import bucket_order, concat_tables, hash_arrays
from spillframe.kernels.join import JOIN_HOWS, hash_join, join_output_schema
from spillframe.kernels.sort import check_sort_args, sort_indices, sort_table, take_rows

__all__ = [
    "SpilledRun",
    "partition_to_disk",
    "external_sort",
    "grace_hash_join",
    "spilling_aggregate",
]

_MAX_BUCKETS = 64
_MAX_LEVELS = 3  # partitioning passes before a bucket is processed in memory regardless
_BUCKET_HEADROOM = 1.25  # hash buckets are uneven; aim each at 80% of the budget
_MAX_BATCH_BYTES = 8 << 20  # larger IPC batches only cost merge memory
_UNBOUNDED = 1 << 62
# Read on the kernel's own thread: Arrow's pool threads would allocate the
# buffers in their own allocator heaps, which the runner cannot return to the OS.
_READ_OPTIONS = pa.ipc.IpcReadOptions(use_threads=False)


# ---------------------------------------------------------------------------- spill files


@dataclass(frozen=True, slots=True)
class SpilledRun:
    """Rows written to disk: Arrow IPC stream files (one per input schema), in order."""

    paths: tuple[str, ...]
    num_rows: int
    nbytes: int
    schema: pa.Schema | None

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Yield the stored record batches in write order, one file open at a time."""
        for path in self.paths:
            with pa.OSFile(path, "rb") as source:
                yield from pa.ipc.open_stream(source, options=_READ_OPTIONS)

    def tables(self, schema: pa.Schema) -> Iterator[pa.Table]:
        """Yield the stored batches as tables conformed to ``schema``."""
        for batch in self.batches():
            yield _conform(pa.Table.from_batches([batch]), schema)

    def read(self, schema: pa.Schema) -> pa.Table:
        """All stored rows as one table of ``schema`` (empty when nothing was written)."""
        with contextlib.closing(self.tables(schema)) as tables:
            return _stack(list(tables), schema)

    def delete(self) -> None:
        """Remove the files early (the scratch directory is removed on exit anyway)."""
        for path in self.paths:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


class _SpillWriter:
    """Appends tables to IPC streams in ``directory``, gathered to ~``batch_bytes``.

    Tables are buffered until ``batch_bytes`` so that tiny pieces do not become tiny IPC
    batches; with ``split`` a larger table is written in batches of that size (for
    readers that hold one batch at a time). A new file starts when the schema changes
    (a stream has one schema).
    """

    def __init__(
        self, directory: str, grant: MemoryGrant, batch_bytes: int, split: bool = True
    ) -> None:
        self._directory, self._grant = directory, grant
        self._batch_bytes, self._split = max(batch_bytes, 1), split
        self._pending: list[pa.Table] = []
        self._pending_bytes = 0
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._sink: pa.NativeFile | None = None
        self._schema: pa.Schema | None = None
        self._paths: list[str] = []
        self._rows = self._nbytes = 0

    def __enter__(self) -> _SpillWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._close_file()  # after an error: no flush, the scratch dir goes anyway

    def write(self, table: pa.Table) -> None:
        """Queue ``table`` (empty tables are skipped) and flush a full batch."""
        if table.num_rows:
            self._pending.append(table)
            self._pending_bytes += table.nbytes
            if self._pending_bytes >= self._batch_bytes:
                self._flush()

    def close(self) -> SpilledRun:
        """Flush, close the file and describe what was written."""
        self._flush()
        self._close_file()
        return SpilledRun(tuple(self._paths), self._rows, self._nbytes, self._schema)

    def _flush(self) -> None:
        if not self._pending:
            return
        table = concat_tables(self._pending)
        self._pending, self._pending_bytes = [], 0
        start = time.perf_counter()
        if self._writer is None or not table.schema.equals(self._schema, check_metadata=True):
            self._open(table.schema)
        rows = max(1, self._batch_bytes * table.num_rows // max(table.nbytes, 1))
        self._writer.write_table(table, max_chunksize=rows if self._split else None)
        self._grant.record_spill(table.nbytes, time.perf_counter() - start)
        self._rows += table.num_rows
        self._nbytes += table.nbytes

    def _open(self, schema: pa.Schema) -> None:
        self._close_file()
        handle, path = tempfile.mkstemp(suffix=".arrows", dir=self._directory)
        os.close(handle)
        self._paths.append(path)
        self._sink = pa.OSFile(path, "wb")
        options = pa.ipc.IpcWriteOptions(compression=SPILL_COMPRESSION, use_threads=False)
        self._writer = pa.ipc.new_stream(self._sink, schema, options=options)
        self._schema = schema

    def _close_file(self) -> None:
        writer, sink = self._writer, self._sink
        self._writer = self._sink = None
        try:
            if writer is not None:
                writer.close()
        finally:
            if sink is not None:
                sink.close()


def _stack(tables: list[pa.Table], schema: pa.Schema | None = None) -> pa.Table:
    """``concat_tables`` without its copy into one chunk when the schemas agree.

    The pieces here are batch-sized already; combining them would hold everything twice.
    """
    first = tables[0].schema if tables else schema
    if first is not None and all(t.schema.equals(first) for t in tables) and (
            schema is None or first.equals(schema)):
        return pa.concat_tables(tables) if tables else first.empty_table()
    return concat_tables(tables, schema)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema`` (promoting types, adding missing columns as nulls)."""
    if table.schema.equals(schema):
        return table
    return concat_tables([schema.empty_table(), table], schema)


def _batch_bytes(grant: MemoryGrant) -> int:
    return min(max(grant.limit // 64, 1), _MAX_BATCH_BYTES)


def _bucket_count(nbytes: int, budget: int) -> int:
    wanted = int(np.ceil(nbytes * _BUCKET_HEADROOM / max(budget, 1)))
    return min(_MAX_BUCKETS, max(2, wanted))


# ---------------------------------------------------------------------------- input


class _Intake:
    """One input iterable, pulled once and in order; remembers schemas and sizes."""

    def __init__(self, tables: Iterable[pa.Table]) -> None:
        self._iterator = iter(tables)
        self._schemas: list[pa.Schema] = []
        self.tables_seen = 0
        self.bytes_seen = 0
        self.exhausted = False

    def pull(self) -> pa.Table | None:
        """The next table, or None at the end."""
        table = next(self._iterator, None) if not self.exhausted else None
        if table is None:
            self.exhausted = True
            return None
        if not any(table.schema.equals(s) for s in self._schemas):
            self._schemas.append(table.schema)
        self.tables_seen += 1
        self.bytes_seen += table.nbytes
        return table

    def rest(self) -> Iterator[pa.Table]:
        """The remaining tables; none is referenced here once handed out."""
        while (table := self.pull()) is not None:
            yield table
            del table  # before pulling the next one

    def remaining_bytes_guess(self) -> int | None:
        """Bytes still to come, from the iterator's length hint; None when unknown."""
        if self.exhausted:
            return 0
        hint = operator.length_hint(self._iterator, -1)
        if hint < 0 or (hint and not self.tables_seen):
            return None
        return hint * self.bytes_seen // max(self.tables_seen, 1)

    def schema(self, fallback: pa.Schema | None, argument: str) -> pa.Schema:
        """The schema ``concat_tables`` gives the tables seen (all of them, once exhausted)."""
        if not self._schemas:
            if fallback is None:
                raise ValueError(f"no input table and no {argument!r} to take the schema from")
            return fallback
        if len(self._schemas) == 1:
            return self._schemas[0]
        return concat_tables([s.empty_table() for s in self._schemas]).schema


def _first_bucket_count(intakes: list[_Intake], budget: int) -> int:
    """Buckets for the whole input: from its size when the inputs tell their length.

    Otherwise the most buckets: a bucket too many costs a small file and a small kernel
    call, a bucket too few a second pass over its data.
    """
    total = 0
    for intake in intakes:
        rest = intake.remaining_bytes_guess()
        if rest is None:
            return _MAX_BUCKETS
        total += intake.bytes_seen + rest
    return _bucket_count(total, budget)


def _hold(intakes: list[_Intake], budget: int) -> tuple[list[list[pa.Table]], bool]:
    """Read the intakes in order while the bytes held stay within ``budget``.

    Returns the tables held per intake and whether everything was read (fits).
    """
    held: list[list[pa.Table]] = [[] for _ in intakes]
    total = 0
    for tables, intake in zip(held, intakes):
        while (table := intake.pull()) is not None:
            tables.append(table)
            total += table.nbytes
            del table
            if total > budget:
                return held, False
    return held, True


def _drain(held: list[pa.Table], intake: _Intake) -> Iterator[pa.Table]:
    """The held tables (released one by one), then the rest of ``intake``."""
    held.reverse()
    while held:
        yield held.pop()
    yield from intake.rest()


# ---------------------------------------------------------------------------- partitioning


def _bucket_ids(
    table: pa.Table, keys: list[str], num_buckets: int, seed: int, spread_from: int | None
) -> np.ndarray:
    """Bucket of every row; rows with a null key go round-robin from ``spread_from``."""
    columns = [table.column(key) for key in keys]
    buckets = hash_arrays(columns, seed=seed, names=list(keys)).to_numpy() % np.uint64(
        num_buckets
    )
    buckets = buckets.astype(np.int64)
    if spread_from is not None and any(c.null_count for c in columns):
        has_null = np.zeros(table.num_rows, dtype=bool)
        for column in columns:
            has_null |= column.is_null().to_numpy(zero_copy_only=False)
        count = int(has_null.sum())
        buckets[has_null] = (spread_from + np.arange(count)) % num_buckets
    return buckets


def _chunks(tables: Iterable[pa.Table], nbytes: int) -> Iterator[pa.Table]:
    """Concatenations of consecutive ``tables`` of about ``nbytes`` each."""
    pending, size = [], 0
    for table in tables:
        pending.append(table)
        size += table.nbytes
        del table
        if size >= nbytes:
            yield _stack(pending)
            pending, size = [], 0
    if pending:
        yield _stack(pending)


def partition_to_disk(
    tables: Iterable[pa.Table],
    keys: list[str],
    num_buckets: int,
    seed: int,
    directory: str,
    grant: MemoryGrant,
    *,
    spread_null_keys: bool = False,
) -> list[SpilledRun]:
    """Hash-partition ``tables`` by ``keys`` into ``num_buckets`` spill files.

    Parameters
    ----------
    tables : iterable of pa.Table
        Input, consumed once; gathered into chunks of about ``grant.limit // 4`` bytes
        before splitting, so that buckets get batches of a useful size.
    keys : list of str
        Key columns; equal values (of any equal-valued type, see
        :func:`spillframe.kernels.exchange.hash_arrays`) land in the same bucket.
    num_buckets : int
        Number of buckets (>= 1).
    seed : int
        Hash seed; use a seed the input was not already bucketed by.
    directory : str
        Where the files go (a ``grant.scratch_dir()``).
    grant : MemoryGrant
        Receives :meth:`~MemoryGrant.record_spill` for every batch group written.
    spread_null_keys : bool
        Deal rows with a null key round-robin over the buckets instead of hashing
        them, for joins, where such rows never match (and would all share a bucket).

    Returns
    -------
    list of SpilledRun
        Exactly ``num_buckets`` runs (empty ones have no file); rows keep their
        relative input order inside a bucket.
    """
    if not isinstance(num_buckets, (int, np.integer)) or num_buckets < 1:
        raise ValueError(f"num_buckets must be a positive integer, got {num_buckets!r}")
    chunk_bytes = max(grant.limit // 4, 1)
    spread_from = 0 if spread_null_keys else None
    with contextlib.ExitStack() as stack:
        # Each bucket buffers at most 1/(2k) of a chunk: half a chunk in all.
        batch_bytes = max(chunk_bytes // (2 * num_buckets), 1)
        writers = [
            stack.enter_context(_SpillWriter(directory, grant, batch_bytes, split=False))
            for _ in range(num_buckets)
        ]
        for chunk in _chunks(tables, chunk_bytes):
            buckets = _bucket_ids(chunk, keys, num_buckets, seed, spread_from)
            if spread_from is not None:
                spread_from += chunk.num_rows
            for writer, piece in zip(writers, _split_by_bucket(chunk, buckets, num_buckets)):
                writer.write(piece)
            del chunk
        return [writer.close() for writer in writers]


def _split_by_bucket(table: pa.Table, buckets: np.ndarray, num_buckets: int) -> list[pa.Table]:
    """The rows of each bucket, in input order: slices of one reordered copy."""
    order, counts = bucket_order(buckets, num_buckets)
    ordered = take_rows(table.combine_chunks(), pa.array(order))
    ends = np.cumsum(counts).tolist()
    return [ordered.slice(start, end - start) for start, end in zip([0, *ends[:-1]], ends)]


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
            if len(runs[i : i + fan_in]) > 1 else runs[i]
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
        return join_output_schema(self.left_schema, self.right_schema, self.left_on,
                                  self.right_on, self.how, self.prefix, self.suffix)

    def join(self, left: pa.Table, right: pa.Table) -> pa.Table:
        return hash_join(left, right, self.left_on, self.right_on, self.how, self.prefix,
                         self.suffix)


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
        (spec.left_schema, spec.right_schema) if stream_left
        else (spec.right_schema, spec.left_schema))
    other = held.read(held_schema)
    with contextlib.closing(streamed.tables(streamed_schema)) as tables:
        for chunk in _chunks(tables, spec.budget // 2):
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
        split = max(r.num_rows for r in lefts) < left.num_rows or max(
            r.num_rows for r in rights) < right.num_rows
        for sub_left, sub_right in zip(lefts, rights):
            yield from _join_bucket(sub_left, sub_right, level + 1 if split else _MAX_LEVELS,
                                    spec)
            sub_left.delete()
            sub_right.delete()
    left.delete()
    right.delete()


def _repartition(
    run: SpilledRun, schema: pa.Schema, keys: list[str], num_buckets: int, level: int,
    spec: _JoinSpec,
) -> list[SpilledRun]:
    with contextlib.closing(run.tables(schema)) as tables:
        buckets = partition_to_disk(tables, keys, num_buckets, level + 1, spec.directory,
                                    spec.grant, spread_null_keys=True)
    run.delete()
    return buckets


def _check_join_call(left_on: list[str], right_on: list[str], how: str) -> None:
    if how not in JOIN_HOWS:
        raise ValueError(f"unknown join type {how!r}; choose one of {', '.join(JOIN_HOWS)}")
    if how != "cross" and (len(left_on) != len(right_on) or not left_on):
        raise ValueError(
            f"a {how} join needs the same positive number of left and right keys, got "
            f"{len(left_on)} and {len(right_on)}")


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
    side_schemas = lambda: (sides[0].schema(left_schema, "left_schema"),  # noqa: E731
                            sides[1].schema(right_schema, "right_schema"))
    if fits:
        tables = [concat_tables(h, s) for h, s in zip(held, side_schemas())]
        held.clear()
        return hash_join(*tables, left_on, right_on, how, prefix, suffix)
    num_buckets = _first_bucket_count(sides, budget)
    with grant.scratch_dir() as directory:
        buckets = [  # level 0: seed 1
            partition_to_disk(_drain(h, side), on, num_buckets, 1, directory, grant,
                              spread_null_keys=True)
            for h, side, on in zip(held, sides, (left_on, right_on))
        ]
        del held
        spec = _JoinSpec(list(left_on), list(right_on), how, prefix, suffix, *side_schemas(),
                         grant, directory)
        results = [result for pair in zip(*buckets) for result in _join_bucket(*pair, 1, spec)]
        return _stack(results, spec.output_schema())


# ---------------------------------------------------------------------------- aggregate


@dataclass(frozen=True, slots=True)
class _AggSpec:
    """Everything a bucket's aggregation needs."""

    keys: list[str]
    specs: list[AggSpec]
    kernel: Callable[[pa.Table, list[str], list[AggSpec]], pa.Table]
    schema: pa.Schema
    grant: MemoryGrant
    directory: str

    @property
    def budget(self) -> int:
        return max(self.grant.limit // 2, 1)


def _aggregate_bucket(run: SpilledRun, level: int, spec: _AggSpec) -> Iterator[pa.Table]:
    """The groups of one bucket: aggregated in memory, or partitioned once more."""
    if not run.num_rows:
        return
    if run.nbytes <= spec.budget or level >= _MAX_LEVELS:
        yield spec.kernel(run.read(spec.schema), spec.keys, spec.specs)
        run.delete()
        return
    num_buckets = _bucket_count(run.nbytes, spec.budget)
    with contextlib.closing(run.tables(spec.schema)) as tables:
        buckets = partition_to_disk(tables, spec.keys, num_buckets, level + 1, spec.directory,
                                    spec.grant)
    run.delete()
    split = max(b.num_rows for b in buckets) < run.num_rows  # else one group fills it
    for bucket in buckets:
        yield from _aggregate_bucket(bucket, level + 1 if split else _MAX_LEVELS, spec)


def spilling_aggregate(
    inputs: Iterable[pa.Table],
    keys: list[str],
    specs: list[AggSpec],
    phase: str,
    grant: MemoryGrant,
    schema: pa.Schema | None = None,
) -> pa.Table:
    """Grouped aggregation of the concatenated ``inputs`` within ``grant.limit``.

    A global aggregation (no keys), or an input within ``grant.limit // 2`` bytes, is
    computed in memory. Otherwise the input is hash-partitioned to disk by the keys,
    and each bucket (every group lies in one) is aggregated on its own; a bucket still
    over the budget is partitioned again.

    Parameters
    ----------
    inputs : iterable of pa.Table
        Rows (``phase="single"``) or partial states from
        :func:`~spillframe.kernels.aggregate.partial_aggregate` (``phase="final"``),
        consumed once, in order.
    keys : list of str
        Group key columns; null keys form one group.
    specs : list of AggSpec
        Aggregations, in output order.
    phase : str
        ``"single"`` (:func:`~spillframe.kernels.aggregate.aggregate`) or ``"final"``
        (:func:`~spillframe.kernels.aggregate.final_aggregate`).
    grant : MemoryGrant
        The memory budget and scratch space.
    schema : pa.Schema, optional
        Input schema when ``inputs`` holds no table.

    Returns
    -------
    pa.Table
        The groups of the in-memory kernel over the concatenated input, in another
        order when spilled, with exactly its schema.

    Examples
    --------
    >>> parts = [pa.table({"k": ["a", "b"], "v": [1, 2]}), pa.table({"k": ["a"], "v": [3]})]
    >>> spec = AggSpec("sum", "v", "total")
    >>> spilling_aggregate(parts, ["k"], [spec], "single", MemoryGrant(1 << 20)).to_pydict()
    {'k': ['a', 'b'], 'total': [4, 2]}
    """
    kernels = {"single": aggregate, "final": final_aggregate}
    if phase not in kernels:
        raise ValueError(f"unknown aggregation phase {phase!r}; choose one of single, final")
    kernel, intake = kernels[phase], _Intake(inputs)
    budget = max(grant.limit // 2, 1)
    (held,), fits = _hold([intake], budget if keys else _UNBOUNDED)
    if fits:
        table = concat_tables(held, intake.schema(schema, "schema"))
        held.clear()
        return kernel(table, keys, specs)
    num_buckets = _first_bucket_count([intake], budget)
    with grant.scratch_dir() as directory:
        buckets = partition_to_disk(  # level 0: seed 1
            _drain(held, intake), keys, num_buckets, 1, directory, grant)
        source = intake.schema(schema, "schema")
        output = kernel(source.empty_table(), keys, specs).schema
        spec = _AggSpec(list(keys), list(specs), kernel, source, grant, directory)
        results = [result for run in buckets for result in _aggregate_bucket(run, 1, spec)]
        return _stack(results, output)
