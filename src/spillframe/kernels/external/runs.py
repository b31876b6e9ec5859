"""Spill files, input intake and hash partitioning to disk, shared by the out-of-core
kernels."""

from __future__ import annotations

import contextlib
import operator
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from spillframe.kernels.budget import SPILL_COMPRESSION, MemoryGrant
from spillframe.kernels.exchange import bucket_order, chunks_of, concat_tables, hash_arrays
from spillframe.kernels.sort import take_rows

__all__ = ["SpilledRun", "partition_to_disk"]

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
    if (
        first is not None
        and all(t.schema.equals(first) for t in tables)
        and (schema is None or first.equals(schema))
    ):
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
    buckets = hash_arrays(columns, seed=seed, names=list(keys)).to_numpy() % np.uint64(num_buckets)
    buckets = buckets.astype(np.int64)
    if spread_from is not None and any(c.null_count for c in columns):
        has_null = np.zeros(table.num_rows, dtype=bool)
        for column in columns:
            has_null |= column.is_null().to_numpy(zero_copy_only=False)
        count = int(has_null.sum())
        buckets[has_null] = (spread_from + np.arange(count)) % num_buckets
    return buckets


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
        for chunk in chunks_of(tables, chunk_bytes, _stack):
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
