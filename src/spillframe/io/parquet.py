"""Parquet sources: schema discovery, scan planning by row group, and the read kernel."""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from spillframe.errors import SourceError
from spillframe.expr.evaluate import evaluate
from spillframe.io.paths import common_root
from spillframe.io.types import normalize_schema, normalize_table, unify_file_schemas


def _dataset(files: list[str], hive: bool, schema: pa.Schema | None = None) -> ds.Dataset:
    kwargs: dict[str, Any] = {"format": "parquet", "schema": schema}
    if hive:
        kwargs.update(partitioning="hive", partition_base_dir=common_root(files))
    return ds.dataset(files, **kwargs)


def _read_schema(path: str) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"cannot read Parquet file {path!r}: {exc}") from None


def discover_parquet_schema(files: list[str], hive: bool) -> tuple[pa.Schema, pa.Schema]:
    """``(physical schema of the files, schema spillframe exposes)``.

    Every file's footer is read and the schemas are unified; a file whose schema
    cannot be unified with the ones before it is named in the error.
    """
    unified = unify_file_schemas(
        ((path, _read_schema(path)) for path in files), "Parquet", "read_parquet"
    )
    unified = unified.remove_metadata()
    if hive:
        partition_fields = [f for f in _dataset(files, True).schema if f.name not in unified.names]
        unified = pa.schema([*unified, *partition_fields])
    return unified, normalize_schema(unified)


@dataclass(frozen=True, slots=True)
class ParquetPiece:
    """Row groups of one file (all when ``row_groups`` is None) and its hive values."""

    path: str
    row_groups: tuple[int, ...] | None
    partition_expression: pc.Expression | None
    num_rows: int
    num_bytes: int


class _VersionCache:
    """Results computed from files, kept per file version (path, size, modification
    time) and arguments: planning a query read the same footers and samples again each
    time (most of a TPC-H query's 3 to 10 ms of planning)."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._entries: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def get(self, files: list[str], args: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        try:
            versions = tuple(
                (f, st.st_size, st.st_mtime_ns) for f, st in ((f, os.stat(f)) for f in files)
            )
        except OSError:
            return compute()  # not a local file we can stat: no caching
        key = (versions, args)
        with self._lock:
            if key in self._entries:
                return self._entries[key]
        value = compute()
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = value
        return value


_CACHE = _VersionCache()


def plan_parquet_pieces(
    files: list[str],
    physical: pa.Schema,
    hive: bool,
    columns: list[str] | None,
    predicate: pc.Expression | None,
) -> list[ParquetPiece]:
    """One piece per row group that may hold matching rows (statistics prune the rest).

    ``num_bytes`` estimates the piece's size *in memory*: the footer's uncompressed
    size of the projected columns, scaled by how much larger than their encoding the
    first rows of the first file are once decoded (dictionary-encoded strings and
    decimals can take two to ten times their encoded size).
    """
    args = (
        "pieces",
        str(physical),
        hive,
        None if columns is None else tuple(columns),
        None if predicate is None else str(predicate),
    )
    return list(
        _CACHE.get(
            files, args, lambda: tuple(_plan_pieces(files, physical, hive, columns, predicate))
        )
    )


def _plan_pieces(
    files: list[str],
    physical: pa.Schema,
    hive: bool,
    columns: list[str] | None,
    predicate: pc.Expression | None,
) -> list[ParquetPiece]:
    dataset = _dataset(files, hive, physical)
    pieces: list[ParquetPiece] = []
    expansion: float | None = None
    for fragment in dataset.get_fragments():
        try:
            groups = (
                fragment.split_by_row_group(filter=predicate, schema=physical)
                if predicate is not None
                else fragment.split_by_row_group()
            )
            metadata = fragment.metadata
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(f"cannot read Parquet file {fragment.path!r}: {exc}") from None
        fraction = _column_fraction(metadata, columns)
        if expansion is None:
            expansion = _decoded_expansion(fragment.path, metadata, columns)
        fraction *= expansion
        for group in groups:
            info = group.row_groups[0]
            size = metadata.row_group(info.id).total_byte_size
            pieces.append(
                ParquetPiece(
                    fragment.path,
                    (info.id,),
                    fragment.partition_expression,
                    info.num_rows,
                    int(size * fraction),
                )
            )
    return pieces


def _decoded_expansion(
    path: str, metadata: pq.FileMetaData, columns: list[str] | None, sample_rows: int = 8192
) -> float:
    """In-memory bytes per encoded (uncompressed) byte, from the file's first rows."""
    args = ("expansion", None if columns is None else tuple(columns), sample_rows)
    return _CACHE.get(
        [path], args, lambda: _measure_expansion(path, metadata, columns, sample_rows)
    )


def _measure_expansion(
    path: str, metadata: pq.FileMetaData, columns: list[str] | None, sample_rows: int
) -> float:
    if metadata.num_row_groups == 0 or metadata.row_group(0).num_rows == 0:
        return 1.0
    names = set(metadata.schema.to_arrow_schema().names)
    wanted = [c for c in columns if c in names] if columns is not None else None
    group = metadata.row_group(0)
    encoded = sum(
        group.column(i).total_uncompressed_size
        for i in range(group.num_columns)
        if wanted is None or group.column(i).path_in_schema.split(".")[0] in wanted
    )
    if wanted == [] or not encoded:
        return 1.0
    try:
        batch = next(pq.ParquetFile(path).iter_batches(batch_size=sample_rows, columns=wanted))
    except (StopIteration, pa.ArrowInvalid, OSError):
        return 1.0
    decoded_per_row = normalize_table(pa.Table.from_batches([batch])).nbytes / batch.num_rows
    return max(1.0, decoded_per_row / (encoded / group.num_rows))


def _column_fraction(metadata: pq.FileMetaData, columns: list[str] | None) -> float:
    """Share of the file's uncompressed bytes that belong to ``columns``."""
    if columns is None or metadata.num_row_groups == 0:
        return 1.0
    wanted = {c.split(".")[0] for c in columns}
    group = metadata.row_group(0)
    total = selected = 0
    for i in range(group.num_columns):
        column = group.column(i)
        total += column.total_uncompressed_size
        if column.path_in_schema.split(".")[0] in wanted:
            selected += column.total_uncompressed_size
    return selected / total if total else 1.0


def _by_file(pieces: tuple[ParquetPiece, ...]) -> list[ParquetPiece]:
    """Consecutive pieces of one file merged into one: a fragment per file reads its
    footer once and pipelines its row groups (per row group took twice as long)."""
    merged: list[ParquetPiece] = []
    for piece in pieces:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.path == piece.path
            and None not in (last.row_groups, piece.row_groups)
        ):
            merged[-1] = dataclasses.replace(
                last,
                row_groups=(*last.row_groups, *piece.row_groups),  # type: ignore[misc]
                num_rows=last.num_rows + piece.num_rows,
                num_bytes=last.num_bytes + piece.num_bytes,
            )
        else:
            merged.append(piece)
    return merged


def dictionary_encoded_strings(path: str, schema: pa.Schema) -> set[str]:
    """String columns of ``schema`` that the file stores dictionary encoded."""
    return set(
        _CACHE.get(
            [path],
            ("dictionary", str(schema)),
            lambda: frozenset(_dictionary_encoded(path, schema)),
        )
    )


def _dictionary_encoded(path: str, schema: pa.Schema) -> set[str]:
    try:
        metadata = pq.ParquetFile(path).metadata
    except (pa.ArrowInvalid, OSError):
        return set()
    if metadata.num_row_groups == 0:
        return set()
    group = metadata.row_group(0)
    strings = {
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    }
    return {
        group.column(i).path_in_schema
        for i in range(group.num_columns)
        if group.column(i).path_in_schema in strings and group.column(i).has_dictionary_page
    }


def _dictionary_mask(table: pa.Table, filters: tuple[tuple[str, Any], ...]) -> pa.ChunkedArray:
    """Rows passing every ``(column, conjunct)``: each conjunct is evaluated on the
    distinct values of a dictionary chunk, then gathered by the chunk's indices."""
    mask = None
    for name, term in filters:
        chunks = []
        for chunk in table.column(name).chunks:
            passed = evaluate(term, pa.table({name: chunk.dictionary}))
            if isinstance(passed, pa.ChunkedArray):
                passed = passed.combine_chunks()
            chunks.append(pc.take(passed, chunk.indices))
        term_mask = pa.chunked_array(chunks, pa.bool_())
        mask = term_mask if mask is None else pc.and_kleene(mask, term_mask)
    return mask


def _decoded(
    table: pa.Table,
    filters: tuple[tuple[str, Any], ...],
    columns: list[str] | None,
    limit: int | None,
) -> pa.Table:
    """The rows passing ``filters``, dictionary columns decoded, ``columns`` kept."""
    table = table.filter(_dictionary_mask(table, filters))
    if columns is not None:
        table = table.select(columns)
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            kind = field.type.value_type
            table = table.set_column(i, field.with_type(kind), table.column(i).cast(kind))
    return table.slice(0, limit) if limit is not None else table


def read_parquet_pieces(
    pieces: tuple[ParquetPiece, ...], physical: pa.Schema, output: pa.Schema, *args: Any
) -> pa.Table:
    """The tables of :func:`iter_parquet_pieces` (same arguments) as one table."""
    tables = list(iter_parquet_pieces(pieces, physical, output, *args))
    if not tables:
        return output.empty_table()
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


#: Batches Arrow's scanner decodes ahead of the one a task is working on (its default,
#: 16, held ~90 MiB per TPC-H SF1 lineitem scan task that the task had not asked for).
READAHEAD_BATCHES = 2


def iter_parquet_pieces(
    pieces: tuple[ParquetPiece, ...],
    physical: pa.Schema,
    output: pa.Schema,
    columns: list[str] | None,
    predicate: pc.Expression | None,
    limit: int | None,
    dictionary_filters: tuple[tuple[str, Any], ...] = (),
    use_threads: bool = False,
) -> Iterator[pa.Table]:
    """Read pieces, filter with ``predicate``, keep ``columns``, at most ``limit`` rows,
    as a stream of tables of ``output``'s schema: one per batch Arrow's scanner decodes
    (about a row group), so that a task can filter and project them one at a time
    instead of holding its whole partition first.

    ``dictionary_filters`` are ``(column, conjunct)`` pairs of the predicate on string
    columns read as dictionaries: the conjunct is tested on the distinct values only,
    and only the rows that pass are decoded to strings. ``use_threads`` lets Arrow
    decode columns in parallel (for a scan with fewer tasks than cores).
    """
    # Local files are read column chunk by column chunk as the scanner gets to them:
    # Arrow's pre-buffering (meant for object stores) read a task's whole share of
    # the file up front, 50 MiB of Arrow memory per TPC-H SF1 lineitem scan task of 4
    # columns against 22 MiB without, and was slower on a local disk (0.10 -> 0.09 s).
    scan_options = ds.ParquetFragmentScanOptions(pre_buffer=False)
    file_format = ds.ParquetFileFormat(default_fragment_scan_options=scan_options)
    filesystem = pafs.LocalFileSystem()
    read_columns = columns
    if dictionary_filters:
        encoded = list(dict.fromkeys(name for name, _ in dictionary_filters))
        file_format = ds.ParquetFileFormat(
            read_options=ds.ParquetReadOptions(dictionary_columns=encoded),
            default_fragment_scan_options=scan_options,
        )
        physical = pa.schema(
            [
                f.with_type(pa.dictionary(pa.int32(), f.type)) if f.name in encoded else f
                for f in physical
            ]
        )
        if columns is not None:
            read_columns = columns + [c for c in encoded if c not in columns]
    remaining = limit
    for piece in _by_file(pieces):
        if remaining is not None and remaining <= 0:
            return
        try:
            fragment = file_format.make_fragment(
                piece.path,
                filesystem=filesystem,
                partition_expression=piece.partition_expression
                if piece.partition_expression is not None
                else pc.scalar(True),
            )
            if piece.row_groups is not None:
                # Not make_fragment(row_groups=...): pyarrow passes those through a set,
                # which reads row groups 6, 7, 8 as 8, 6, 7 and scrambles the rows' order.
                fragment = fragment.subset(row_group_ids=list(piece.row_groups))
            scanner = ds.Scanner.from_fragment(
                fragment,
                schema=physical,
                columns=read_columns,
                filter=predicate,
                use_threads=use_threads,
                batch_readahead=READAHEAD_BATCHES,
            )
            if remaining is not None and not dictionary_filters:
                batches: Iterable[Any] = [scanner.head(remaining)]
            else:
                batches = scanner.to_batches()
            for batch in batches:
                table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
                if dictionary_filters:
                    table = _decoded(table, dictionary_filters, columns, remaining)
                if table.num_rows == 0:
                    continue
                if remaining is not None:
                    table = table.slice(0, remaining)
                    remaining -= table.num_rows
                yield table.cast(output) if not table.schema.equals(output) else table
                if remaining is not None and remaining <= 0:
                    return
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(f"cannot read Parquet file {piece.path!r}: {exc}") from None


def pieces_range(pieces: tuple[ParquetPiece, ...], column: str) -> tuple[Any, Any] | None:
    """The smallest and largest value of the integer or date column ``column`` in these
    row groups, from the files' statistics; None when a row group has no statistics
    for it, holds a null in it, or the column is of another type (string statistics
    may be truncated)."""
    low = high = None
    for piece in pieces:
        ranges = _CACHE.get(
            [piece.path],
            ("row group ranges", column),
            functools.partial(_row_group_ranges, piece.path, column),
        )
        if ranges is None:
            return None
        for i in range(len(ranges)) if piece.row_groups is None else piece.row_groups:
            found = ranges[i]
            if found is None:
                return None
            if found == ():  # an empty row group
                continue
            low = found[0] if low is None else min(low, found[0])
            high = found[1] if high is None else max(high, found[1])
    return None if low is None else (low, high)


def _row_group_ranges(path: str, column: str) -> tuple[tuple[Any, ...] | None, ...] | None:
    """Per row group of the file: ``(min, max)`` of ``column``, ``()`` when the group is
    empty, None without usable statistics; None for the file when the column is not
    an integer or date column. The footer is read once per file and column."""
    try:
        metadata = pq.ParquetFile(path).metadata
    except (pa.ArrowInvalid, OSError):
        return None
    if column not in metadata.schema.names:
        return None
    kind = metadata.schema.to_arrow_schema().field(column).type
    if not (pa.types.is_integer(kind) or pa.types.is_date(kind)):
        return None
    index = metadata.schema.names.index(column)
    ranges: list[tuple[Any, ...] | None] = []
    for i in range(metadata.num_row_groups):
        group = metadata.row_group(i)
        stats = group.column(index).statistics
        if group.num_rows == 0:
            ranges.append(())
        elif stats is None or not stats.has_min_max or stats.null_count is None or stats.null_count:
            ranges.append(None)
        else:
            ranges.append((stats.min, stats.max))
    return tuple(ranges)
