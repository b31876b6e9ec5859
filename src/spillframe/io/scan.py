"""Scan formats and tasks: a ScanSource becomes scans of about ``partition_bytes`` each.

Each file format is one :class:`ScanFormat` object (as Daft's ``ScanOperator``) that
answers the planner's questions about its scans: which filter conditions its reader
applies itself (the optimizer pushes those into the scan) and how a scan with its
pushdowns becomes tasks (the lowering asks). Nothing above this module switches on a
format's name.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from spillframe.config import Config
from spillframe.expr.expression import Column, Expression, Function, Literal
from spillframe.expr.predicates import conjoin, conjuncts
from spillframe.io.parquet import (
    ParquetPiece,
    dictionary_encoded_strings,
    iter_parquet_pieces,
    plan_parquet_pieces,
    read_parquet_pieces,
)
from spillframe.io.text import TextRange, plan_ranges, read_csv_ranges, read_json_ranges
from spillframe.types import normalize_type


@dataclass(frozen=True, slots=True)
class ParquetScan:
    """Reads some row groups of some Parquet files."""

    pieces: tuple[ParquetPiece, ...]
    physical: pa.Schema
    output: pa.Schema
    columns: tuple[str, ...] | None
    predicate: pc.Expression | None
    limit: int | None
    #: Conjuncts of the pushed predicate on one dictionary-encoded string column each,
    #: evaluated on the dictionary (see :func:`read_parquet_pieces`).
    dictionary_filters: tuple[tuple[str, Expression], ...] = ()
    #: Decode columns in parallel: set when the scan has fewer tasks than cores.
    use_threads: bool = False

    def select_columns(self, names: tuple[str, ...]) -> ParquetScan:
        """The same rows, reading only the columns ``names`` (filters still apply)."""
        return dataclasses.replace(
            self, columns=tuple(names), output=pa.schema([self.output.field(n) for n in names])
        )

    def read(self) -> pa.Table:
        return read_parquet_pieces(*self._arguments())

    def read_batches(self) -> Iterator[pa.Table]:
        """The rows of :meth:`read` as a stream of tables (about a row group each)."""
        return iter_parquet_pieces(*self._arguments())

    def _arguments(self) -> tuple[Any, ...]:
        cols = list(self.columns) if self.columns is not None else None
        return (
            self.pieces,
            self.physical,
            self.output,
            cols,
            self.predicate,
            self.limit,
            self.dictionary_filters,
            self.use_threads,
        )


@dataclass(frozen=True, slots=True)
class TextScan:
    """Reads byte ranges of CSV or newline-delimited JSON files."""

    format: str
    ranges: tuple[TextRange, ...]
    schema: pa.Schema
    columns: tuple[str, ...] | None
    options: tuple[tuple[str, Any], ...]
    limit: int | None

    def read(self) -> pa.Table:
        cols = list(self.columns) if self.columns is not None else None
        if self.format == "csv":
            opts = dict(self.options)
            table = read_csv_ranges(
                self.ranges, self.schema, opts.get("has_headers", True), opts.get("delimiter"), cols
            )
        else:
            table = read_json_ranges(self.ranges, self.schema, cols)
        return table.slice(0, self.limit) if self.limit is not None else table


@dataclass(frozen=True, slots=True)
class PlannedScan:
    """One scan task: what it reads and its estimated output size."""

    scan: Any
    estimated_bytes: int
    estimated_rows: int | None


class ScanSource(Protocol):
    """What a format plans a scan from: the files and the pushdowns (the logical
    plan's ``ScanSource`` node is one)."""

    @property
    def format(self) -> str: ...
    @property
    def paths(self) -> tuple[str, ...]: ...
    @property
    def file_schema(self) -> pa.Schema: ...
    @property
    def schema(self) -> pa.Schema: ...
    @property
    def options(self) -> tuple[tuple[str, Any], ...]: ...
    @property
    def kwargs(self) -> dict[str, Any]: ...
    @property
    def columns(self) -> tuple[str, ...] | None: ...
    @property
    def predicate(self) -> Expression | None: ...
    @property
    def limit(self) -> int | None: ...


class ScanFormat:
    """One file format's answers to the planner about its scans.

    Every format's reader takes the projected ``columns`` and a ``limit``; a format
    says which filter conditions it applies exactly (:meth:`can_push_filter`) and
    turns a scan into tasks (:meth:`plan`).
    """

    name: ClassVar[str]

    def can_push_filter(self, condition: Expression, source: ScanSource) -> bool:
        """Whether the reader applies ``condition`` (one conjunct of a filter) itself,
        exactly, so the filter above the scan can drop it."""
        return False

    def plan(self, source: ScanSource, config: Config) -> list[PlannedScan]:
        """The scan's tasks, each near ``config.partition_bytes``."""
        raise NotImplementedError(type(self).__name__)


class ParquetFormat(ScanFormat):
    """Parquet: row groups are skipped by their statistics and rows filtered as read."""

    name = "parquet"

    def can_push_filter(self, condition: Expression, source: ScanSource) -> bool:
        # Physical types: a predicate on a view-typed column is not pushed (pyarrow's
        # scanner cannot compare its statistics), it stays in a Filter above the scan.
        return is_pushable(condition, source.kwargs["physical_schema"])

    def plan(self, source: ScanSource, config: Config) -> list[PlannedScan]:
        return _plan_parquet(source, config)


class CsvFormat(ScanFormat):
    """CSV: byte ranges of the files, split at line ends."""

    name = "csv"

    def plan(self, source: ScanSource, config: Config) -> list[PlannedScan]:
        return _plan_text(source, config.partition_bytes)


class JsonFormat(CsvFormat):
    """Newline-delimited JSON: byte ranges of the files, split at line ends."""

    name = "json"


SCAN_FORMATS: dict[str, ScanFormat] = {
    f.name: f for f in (ParquetFormat(), CsvFormat(), JsonFormat())
}


def scan_format(name: str) -> ScanFormat:
    """The :class:`ScanFormat` called ``name``; ValueError naming the choices otherwise."""
    try:
        return SCAN_FORMATS[name]
    except KeyError:
        raise ValueError(
            f"unknown scan format {name!r}; choose one of {', '.join(SCAN_FORMATS)}"
        ) from None


def _plan_parquet(source: ScanSource, config: Config) -> list[PlannedScan]:
    opts = source.kwargs
    physical: pa.Schema = opts["physical_schema"]
    columns = list(source.columns) if source.columns is not None else None
    predicate = to_arrow_filter(source.predicate) if source.predicate is not None else None
    pieces = plan_parquet_pieces(
        list(source.paths), physical, opts.get("hive", False), columns, predicate
    )
    groups = balanced_groups(
        pieces,
        [p.num_bytes for p in pieces],
        config.partitions_for(sum(p.num_bytes for p in pieces)),
    )
    dictionary_filters: tuple[tuple[str, Expression], ...] = ()
    if source.predicate is not None and pieces and not opts.get("hive", False):
        encoded = dictionary_encoded_strings(pieces[0].path, source.file_schema)
        dictionary_filters, rest = split_dictionary_filters(source.predicate, encoded)
        if dictionary_filters:
            predicate = to_arrow_filter(conjoin(rest)) if rest else None
    # Reading with the normalized schema makes the scanner cast view types as it reads,
    # so the predicate it applies never meets a string_view column.
    return [
        PlannedScan(
            ParquetScan(
                tuple(g),
                source.file_schema,
                source.schema,
                source.columns,
                predicate,
                source.limit,
                dictionary_filters,
                len(groups) < config.parallelism,
            ),
            sum(p.num_bytes for p in g),
            None if predicate is not None else sum(p.num_rows for p in g),
        )
        for g in groups
    ]


#: Functions whose result is null for a null input: they give the same answer when
#: evaluated on a dictionary's values and gathered by (possibly null) indices.
_NULL_PROPAGATING = {
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "and",
    "or",
    "invert",
    "is_in",
}


def _on_dictionary_values(expr: Expression) -> bool:
    if isinstance(expr, (Column, Literal)):
        return True
    if isinstance(expr, Function) and expr.fn in _NULL_PROPAGATING:
        if expr.fn == "is_in" and None in expr.kwargs["values"]:
            return False
        return all(_on_dictionary_values(a) for a in expr.args)
    return False


def split_dictionary_filters(
    predicate: Expression, encoded: set[str]
) -> tuple[tuple[tuple[str, Expression], ...], list[Expression]]:
    """Split a pushed predicate into conjuncts evaluated on dictionary values (each on
    one of the ``encoded`` string columns, which no other conjunct reads) and the rest.

    Reading such a column as a dictionary and testing its few distinct values is about
    twice as fast as decoding every string and letting the scanner compare them.
    """
    terms = conjuncts(predicate)
    columns = [t.column_names() for t in terms]
    shared = {c for names in columns if len(names) > 1 for c in names}
    candidates = {
        c
        for c in encoded - shared
        if all(_on_dictionary_values(t) for t, names in zip(terms, columns) if c in names)
    }
    chosen = tuple(
        (next(iter(names)), t)
        for t, names in zip(terms, columns)
        if len(names) == 1 and names <= candidates
    )
    rest = [t for t, names in zip(terms, columns) if not (len(names) == 1 and names <= candidates)]
    return chosen, rest


def balanced_groups(items: list[Any], sizes: list[int], k: int) -> list[list[Any]]:
    """``items`` in order, cut into at most ``k`` runs of about equal total size (a run
    ends where the running total passes a multiple of ``total / k``); ``[[]]`` if empty.

    >>> balanced_groups(list("abcdef"), [1, 1, 1, 1, 1, 1], 4)
    [['a', 'b'], ['c'], ['d', 'e'], ['f']]
    """
    if not items:
        return [[]]
    total = sum(sizes) or len(items)
    sizes = sizes if sum(sizes) else [1] * len(items)
    groups: list[list[Any]] = [[]]
    running = 0
    for item, size in zip(items, sizes, strict=True):
        if groups[-1] and running + size / 2 > len(groups) * total / k:
            groups.append([])
        groups[-1].append(item)
        running += size
    return groups


def _plan_text(source: ScanSource, partition_bytes: int) -> list[PlannedScan]:
    ranges = plan_ranges(list(source.paths), partition_bytes)
    groups: list[list[TextRange]] = []
    size = 0
    for r in ranges:
        if not groups or size + (r.end - r.start) > partition_bytes:
            groups.append([])
            size = 0
        groups[-1].append(r)
        size += r.end - r.start
    total = sum(os.path.getsize(p) for p in source.paths) or 1
    fraction = len(source.schema) / max(1, len(source.file_schema))
    options = tuple((k, v) for k, v in source.options if k in ("has_headers", "delimiter"))
    return (
        [
            PlannedScan(
                TextScan(
                    source.format,
                    tuple(g),
                    source.file_schema,
                    source.columns,
                    options,
                    source.limit,
                ),
                int(sum(r.end - r.start for r in g) * fraction),
                None,
            )
            for g in groups
        ]
        if total
        else []
    )


_ARROW_COMPARE = {
    "equal": "__eq__",
    "not_equal": "__ne__",
    "less": "__lt__",
    "less_equal": "__le__",
    "greater": "__gt__",
    "greater_equal": "__ge__",
}


def to_arrow_filter(expr: Expression) -> pc.Expression:
    """Translate a pushable predicate to a pyarrow dataset expression.

    Raises ValueError for predicates :func:`is_pushable` rejects.
    """
    if isinstance(expr, Column):
        return pc.field(expr.name)
    if isinstance(expr, Literal):
        return pc.scalar(expr.value)
    if isinstance(expr, Function):
        args = [to_arrow_filter(a) for a in expr.args]
        if expr.fn in _ARROW_COMPARE:
            return getattr(args[0], _ARROW_COMPARE[expr.fn])(args[1])
        if expr.fn == "and":
            return args[0] & args[1]
        if expr.fn == "or":
            return args[0] | args[1]
        if expr.fn == "invert":
            return ~args[0]
        if expr.fn == "is_null":
            return args[0].is_null()
        if expr.fn == "is_valid":
            return args[0].is_valid()
        if expr.fn == "is_in":
            return args[0].isin(list(expr.kwargs["values"]))
    raise ValueError(f"cannot push {expr!r} into a Parquet scan")


def is_pushable(expr: Expression, schema: pa.Schema) -> bool:
    """True when ``expr`` only compares columns with literals of a comparable type."""
    if isinstance(expr, Column):
        index = schema.get_field_index(expr.name)
        # View types (string_view) have no comparison kernels in pyarrow's scanner yet.
        return index >= 0 and normalize_type(schema.field(index).type) == schema.field(index).type
    if isinstance(expr, Literal):
        return True
    if isinstance(expr, Function):
        if expr.fn in _ARROW_COMPARE:
            return _comparable(expr.args, schema) and all(is_pushable(a, schema) for a in expr.args)
        if expr.fn in ("and", "or", "invert", "is_null", "is_valid", "is_in"):
            return all(is_pushable(a, schema) for a in expr.args)
    return False


def _comparable(args: tuple[Expression, ...], schema: pa.Schema) -> bool:
    types = []
    for arg in args:
        if isinstance(arg, Column):
            types.append(schema.field(arg.name).type)
        elif isinstance(arg, Literal):
            types.append(arg.value.type)
        else:
            return False
    a, b = types
    same_kind = (
        a == b
        or (pa.types.is_integer(a) and pa.types.is_integer(b))
        or (pa.types.is_floating(a) and pa.types.is_floating(b))
        or (pa.types.is_string(a) and pa.types.is_string(b))
    )
    return same_kind
