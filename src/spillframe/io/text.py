"""CSV and newline-delimited JSON sources, split into byte ranges of bounded size.

A range ``[start, end)`` owns every line that *starts* inside it: a reader skips
the partial line at ``start`` (unless it is 0) and reads on past ``end`` to the
end of the line that crosses it. CSV fields with embedded newlines inside quotes
are therefore only supported when a file is read as one range (files smaller
than ``partition_bytes``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from spillframe.errors import SourceError
from spillframe.io.types import normalize_schema, unify_file_schemas

_INFER_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class TextRange:
    """Bytes ``[start, end)`` of one file."""

    path: str
    start: int
    end: int


def _head(path: str, nbytes: int = _INFER_BYTES) -> bytes:
    """The first ``nbytes`` of a file, cut back to the last complete line."""
    try:
        with open(path, "rb") as f:
            data = f.read(nbytes)
            more = f.read(1)
    except OSError as exc:
        raise SourceError(f"cannot read {path!r}: {exc}") from None
    if more and b"\n" in data:
        data = data[: data.rindex(b"\n") + 1]
    return data


def _csv_options(
    has_headers: bool, delimiter: str | None, names: list[str] | None
) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions]:
    read = pacsv.ReadOptions(
        column_names=names,
        autogenerate_column_names=False,
        skip_rows=1 if (has_headers and names is not None) else 0,
    )
    parse = pacsv.ParseOptions(delimiter=delimiter or ",")
    return read, parse


def discover_csv_schema(files: list[str], has_headers: bool, delimiter: str | None) -> pa.Schema:
    """Infer column types from the head of the first file; check every file's header."""
    head = _head(files[0])
    read, parse = _csv_options(has_headers, delimiter, None)
    if not has_headers:
        read = pacsv.ReadOptions(autogenerate_column_names=True)
    try:
        sample = pacsv.read_csv(io.BytesIO(head), read_options=read, parse_options=parse)
    except pa.ArrowInvalid as exc:
        raise SourceError(f"cannot parse CSV file {files[0]!r}: {exc}") from None
    schema = sample.schema
    if not has_headers:
        schema = pa.schema([f.with_name(f"column_{i + 1}") for i, f in enumerate(schema)])
    else:
        first = _header(files[0], delimiter)
        for path in files[1:]:
            if _header(path, delimiter) != first:
                raise SourceError(
                    f"CSV file {path!r} has header {_header(path, delimiter)} but "
                    f"{files[0]!r} has {first}; all files must have the same columns"
                )
    return normalize_schema(schema)


def _header(path: str, delimiter: str | None) -> list[str]:
    line = _head(path, 64 * 1024).split(b"\n", 1)[0]
    return [
        c.strip().strip('"')
        for c in line.decode("utf-8", "replace").rstrip("\r").split(delimiter or ",")
    ]


_INFER_OTHER_BYTES = 64 * 1024


def discover_json_schema(files: list[str]) -> pa.Schema:
    """Infer the schema from the head of every file and unify them.

    Keys that only appear in later files become columns too (null elsewhere); a key
    whose types cannot be unified raises :class:`SourceError` naming both files.
    """
    return normalize_schema(
        unify_file_schemas(
            ((path, _json_head_schema(path, i == 0)) for i, path in enumerate(files)),
            "JSON",
            "read_json",
        )
    )


def _json_head_schema(path: str, first: bool) -> pa.Schema:
    head = _head(path, _INFER_BYTES if first else _INFER_OTHER_BYTES)
    try:
        return pajson.read_json(io.BytesIO(head)).schema
    except pa.ArrowInvalid as exc:
        raise SourceError(f"cannot parse JSON file {path!r}: {exc}") from None


def plan_ranges(files: list[str], target_bytes: int) -> list[TextRange]:
    """Split every file into ranges of about ``target_bytes``."""
    ranges = []
    for path in files:
        size = os.path.getsize(path)
        start = 0
        while True:
            end = min(size, start + target_bytes)
            ranges.append(TextRange(path, start, end))
            if end >= size:
                break
            start = end
    return ranges


def _read_range(r: TextRange) -> bytes:
    """The bytes of every line that starts in ``[r.start, r.end)``."""
    with open(r.path, "rb") as f:
        if r.start > 0:
            f.seek(r.start - 1)
            if f.read(1) != b"\n":
                f.readline()  # the partial line belongs to the previous range
        begin = f.tell()
        if begin >= r.end and r.start > 0:
            return b""
        data = f.read(max(0, r.end - begin))
        if data and not data.endswith(b"\n"):
            data += f.readline()
    return data


def _read_ranges(
    ranges: tuple[TextRange, ...],
    schema: pa.Schema,
    columns: list[str] | None,
    what: str,
    parse: Callable[[TextRange, bytes], pa.Table],
) -> pa.Table:
    """Read every range and parse its lines; errors name the file, the bytes and the fix."""
    tables = []
    for r in ranges:
        try:
            data = _read_range(r)
        except OSError as exc:
            raise SourceError(f"cannot read {what} file {r.path!r}: {exc}") from None
        try:
            table = parse(r, data) if data.strip() else None
        except pa.ArrowInvalid as exc:
            raise SourceError(
                f"cannot parse {what} file {r.path!r} (bytes {r.start}-{r.end}): {exc}; "
                f"pass schema= to read_{what.lower()} if the inferred types are wrong"
            ) from None
        if table is None:
            table = _empty(schema, columns)
        tables.append(table)
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def read_csv_ranges(
    ranges: tuple[TextRange, ...],
    schema: pa.Schema,
    has_headers: bool,
    delimiter: str | None,
    columns: list[str] | None,
) -> pa.Table:
    """Read CSV byte ranges with the planned ``schema``."""

    def parse(r: TextRange, data: bytes) -> pa.Table | None:
        skip_header = has_headers and r.start == 0
        if skip_header and data.count(b"\n") <= 1 and not data.split(b"\n", 1)[-1].strip():
            return None  # only the header line
        read = pacsv.ReadOptions(column_names=schema.names, skip_rows=1 if skip_header else 0)
        parse_options = pacsv.ParseOptions(delimiter=delimiter or ",")
        convert = pacsv.ConvertOptions(column_types=schema, include_columns=columns)
        return pacsv.read_csv(
            io.BytesIO(data),
            read_options=read,
            parse_options=parse_options,
            convert_options=convert,
        )

    return _read_ranges(ranges, schema, columns, "CSV", parse)


def read_json_ranges(
    ranges: tuple[TextRange, ...], schema: pa.Schema, columns: list[str] | None
) -> pa.Table:
    """Read newline-delimited JSON byte ranges with the planned ``schema``."""
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")

    def parse(r: TextRange, data: bytes) -> pa.Table:
        table = pajson.read_json(io.BytesIO(data), parse_options=options)
        return table.select(columns) if columns is not None else table

    return _read_ranges(ranges, schema, columns, "JSON", parse)


def _empty(schema: pa.Schema, columns: list[str] | None) -> pa.Table:
    table = schema.empty_table()
    return table.select(columns) if columns is not None else table
