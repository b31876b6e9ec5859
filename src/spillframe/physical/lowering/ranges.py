"""Parquet scans stored in key order: operators on the key need no exchange.

Files written in key order (TPC-H lineitem and orders by their order key, a table
exported sorted by its id or its date) keep each range of keys in a few row groups,
and their footers' statistics say which. Where every part of a scan reads row groups
whose key range no other part's overlaps, rows with equal keys are in one part
already: a groupby on the key aggregates each part alone (see
:func:`spillframe.physical.lowering.aggregate.grouped_by_file_ranges`). A join on the
key reads, next to each part of one side, only the other side's row groups that
overlap the part's range (:func:`spillframe.physical.lowering.join.aligned_join`);
that is right for any parts, and cheap where the files are in key order.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from spillframe.io.parquet import ParquetPiece, pieces_range
from spillframe.io.scan import ParquetScan, balanced_groups
from spillframe.physical.lowering.core import Part, Pending, partitioning_after
from spillframe.physical.steps import BroadcastJoinStep, ExplodeStep, ProjectStep


def traced(column: str, steps: tuple[Any, ...], keys: list[str]) -> bool:
    """Whether scan column ``column`` arrives through ``steps`` as one of ``keys``.

    Only projections compute columns (and may rename or drop this one); an explode of
    it repeats its rows; other steps keep or drop rows, or add columns, within a part.
    """
    name = column
    for step in steps:
        if isinstance(step, ProjectStep):
            kept = partitioning_after(step, (name,), step.schema)
            if kept is None:
                return False
            (name,) = kept
        elif isinstance(step, ExplodeStep) and name in step.columns:
            return False
        elif isinstance(step, BroadcastJoinStep) and step.spec.broadcast != "right":
            return False  # the part is the join's right side: its names may change
    return name in keys


def scan_key_columns(pending: Pending, keys: list[str], with_inputs: bool = True) -> list[str]:
    """The scan columns that reach every part of ``pending`` unchanged as one of
    ``keys``; empty unless every part is a Parquet scan (whose steps read other
    stages' outputs, a fused broadcast join's small side, only ``with_inputs``)."""
    candidates: set[str] | None = None
    for part in pending.parts:
        if not isinstance(part.source, ParquetScan) or (part.inputs and not with_inputs):
            return []
        names = {c for c in part.source.output.names if traced(c, part.steps, keys)}
        candidates = names if candidates is None else candidates & names
    return sorted(candidates or ())


def disjoint_part_ranges(pending: Pending, column: str) -> list[tuple[Any, Any]] | None:
    """Each part's ``(min, max)`` of scan column ``column`` by the files' statistics,
    when no two parts' ranges overlap; None otherwise, or when a row group lacks
    statistics for it (or holds a null)."""
    found = [pieces_range(p.source.pieces, column) for p in pending.parts]
    if any(r is None for r in found):
        return None
    ranges: list[tuple[Any, Any]] = found  # type: ignore[assignment]
    ordered = sorted(ranges)
    if all(a[1] < b[0] for a, b in zip(ordered, ordered[1:])):
        return ranges
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class RowGroups:
    """A side's row groups with their key ranges, read as one scan with its steps."""

    scan: ParquetScan
    steps: tuple[Any, ...]
    pieces: list[tuple[tuple[Any, Any], ParquetPiece]]

    @property
    def num_bytes(self) -> int:
        return sum(p.num_bytes for _, p in self.pieces)

    def overlapping(self, low: Any, high: Any) -> tuple[ParquetPiece, ...]:
        """The row groups that may hold keys from ``low`` to ``high`` (both included)."""
        return tuple(p for (lo, hi), p in self.pieces if lo <= high and hi >= low)

    def part(self, low: Any, high: Any, column: str) -> Part:
        """A part reading the keys from ``low`` to ``high`` (of scan column ``column``)."""
        chosen = self.overlapping(low, high)
        key = pc.field(column)
        bounded = (key >= pc.scalar(low)) & (key <= pc.scalar(high))
        predicate = bounded if self.scan.predicate is None else self.scan.predicate & bounded
        scan = dataclasses.replace(self.scan, pieces=chosen, predicate=predicate)
        return Part(scan, self.steps, sum(p.num_bytes for p in chosen))

    def split(self, n: int) -> list[tuple[Part, tuple[Any, Any]]]:
        """The row groups in key order, cut into at most ``n`` parts of about equal
        bytes, each with its key range."""
        groups = balanced_groups(self.pieces, [p.num_bytes for _, p in self.pieces], n)
        parts = []
        for group in groups:
            if not group:
                continue
            chosen = tuple(p for _, p in group)
            low = min(r[0] for r, _ in group)
            high = max(r[1] for r, _ in group)
            scan = dataclasses.replace(self.scan, pieces=chosen)
            parts.append((Part(scan, self.steps, sum(p.num_bytes for p in chosen)), (low, high)))
        return parts


def row_groups(pending: Pending, column: str) -> RowGroups | None:
    """The row groups of a side whose parts differ only in the row groups they read
    (one scan without a limit, the same steps), each with its range of scan column
    ``column``; None otherwise or without statistics."""
    first = pending.parts[0]
    scan: ParquetScan = first.source

    def signature(s: ParquetScan) -> tuple[Any, ...]:
        # Expressions overload ==: compared by their text.
        return (s.physical, s.output, s.columns, str(s.predicate), str(s.dictionary_filters))

    if scan.limit is not None:
        return None
    pieces = []
    for part in pending.parts:
        other: ParquetScan = part.source
        same_steps = len(part.steps) == len(first.steps) and all(
            a is b for a, b in zip(part.steps, first.steps)
        )
        if not same_steps or other.limit is not None or signature(other) != signature(scan):
            return None
        for piece in other.pieces:
            if piece.num_rows == 0:
                continue
            found = pieces_range((piece,), column)
            if found is None:
                return None
            pieces.append((found, piece))
    pieces.sort(key=lambda item: item[0])
    return RowGroups(scan, first.steps, pieces)


def comparable_keys(a: pa.DataType, b: pa.DataType) -> bool:
    """Key types whose statistics compare: both integers, or the same date type."""
    return (pa.types.is_integer(a) and pa.types.is_integer(b)) or (pa.types.is_date(a) and a == b)
