"""Joins that stream one side past a small side indexed once (broadcast joins).

Acero's hash join builds its hash table on every call, so a broadcast join that
joined its big side chunk by chunk would rebuild the small side's table per chunk;
joining the big side whole instead holds all of it, and its copy, at once (TPC-H
SF1 Q3: 200 MiB of Arrow memory in two tasks for a 17 MiB small side). Here the
small side is indexed once when its key is one integer-like column whose values are
unique and dense (a dimension table's primary key, the usual broadcast side): an
array maps each key value, minus the smallest, to its row, and each chunk of the big
side is probed as it arrives, so the task holds one chunk and the output so far.
Every row of the big side meets at most one row of the small side, so no chunk grows
in the join. numpy releases the GIL for the lookups, so the runner's threads probe
in parallel (pandas' hash table did not: 1.3x slower TPC-H Q3 on two threads).

:func:`index_unique_keys` returns None for other small sides (several keys, float
or string keys, duplicate keys, keys spread over a range whose lookup array
would outweigh the small side, see :data:`MAX_LOOKUP_SHARE`); the caller then joins them another way.
Semantics are those of :func:`spillframe.kernels.join.hash_join`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spillframe.kernels.join import coerce_join_keys, common_key_type, join_output_schema
from spillframe.kernels.sort import take_rows, take_values

__all__ = ["UniqueKeyIndex", "index_unique_keys", "indexable_keys", "STREAMS_PAST"]

#: The lookup array (4 bytes per value in the key range) may take half the small
#: side's own bytes, or :data:`LOOKUP_ALLOWANCE`, whichever is more: every task that
#: probes holds one, and the memory model reserves that much per task
#: (:data:`spillframe.physical.memory.INDEX_FACTOR`). Without it the big side is
#: hash-joined chunk by chunk, each chunk building the small side's hash table again:
#: TPC-H SF1 Q5's filtered orders (227k rows, 3.5 MiB, keys spread over 6M values: a
#: 24 MB array) made the query 1.7x slower that way. A dense primary key needs 4
#: bytes per row, a small share of any row (SF1 orders: 24 MB for 173 MiB).
MAX_LOOKUP_SHARE = 0.5
LOOKUP_ALLOWANCE = 32 << 20

#: The joins that can stream one side past the other held whole, by the held side:
#: each output row then depends on one row of the streamed side and the held side.
STREAMS_PAST = {"right": ("inner", "left", "semi", "anti"), "left": ("inner", "right")}


def _indexable(dtype: pa.DataType) -> bool:
    """Key types whose values are exactly int64 numbers (floats are not: -0.0, NaN)."""
    return (
        pa.types.is_signed_integer(dtype)
        or dtype in (pa.uint8(), pa.uint16(), pa.uint32())
        or pa.types.is_date(dtype)
        or pa.types.is_timestamp(dtype)
        or pa.types.is_time(dtype)
        or pa.types.is_duration(dtype)
    )


def indexable_keys(left: pa.DataType, right: pa.DataType) -> bool:
    """Whether a join on one key of these types could be indexed by
    :func:`index_unique_keys` (whether it is depends on the values: unique, dense).

    >>> indexable_keys(pa.int32(), pa.int64()), indexable_keys(pa.string(), pa.string())
    (True, False)
    """
    try:
        kind = common_key_type(left, right)
    except TypeError:
        return False
    return kind is not None and _indexable(kind)


def _as_int64(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
    """The key values as int64 and a mask of the rows with a key (None: all of them)."""
    dtype = column.type
    if pa.types.is_date32(dtype) or pa.types.is_time32(dtype):
        column = column.cast(pa.int32())
    elif not pa.types.is_integer(dtype):  # date64, timestamps, time64, durations
        column = column.cast(pa.int64())
    valid = None
    if column.null_count:
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        column = pc.fill_null(column, 0)
    return np.asarray(column.to_numpy(), dtype=np.int64), valid


@dataclass(frozen=True)
class UniqueKeyIndex:
    """A small join side indexed by its unique key, probed by chunks of the other side.

    Build it with :func:`index_unique_keys`; :meth:`join` gives what
    ``hash_join`` gives for one chunk of the streamed side.
    """

    table: pa.Table
    key: str
    #: Row of ``table`` by key value minus ``low``; -1 where no row has that key.
    rows: np.ndarray
    low: int
    #: The side ``table`` is on: "right" (the usual broadcast) or "left".
    side: str
    #: Built for semi/anti joins only: a key held by several rows keeps one of them.
    membership: bool = False

    def positions(self, keys: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """For each key of the streamed side, its row in ``table``, or -1."""
        values, valid = _as_int64(keys)
        offsets = values - self.low
        inside = (offsets >= 0) & (offsets < len(self.rows))
        if valid is not None:
            inside &= valid
        found = np.full(len(values), -1, dtype=np.int64)
        found[inside] = self.rows[offsets[inside]]
        return found

    def join(
        self,
        chunk: pa.Table,
        chunk_on: str,
        how: str,
        prefix: str = "right.",
        suffix: str | None = None,
    ) -> pa.Table:
        """``hash_join`` of ``chunk`` (the streamed side) with the indexed table.

        ``how`` is one of :data:`STREAMS_PAST` for the indexed side.
        """
        if how not in STREAMS_PAST[self.side]:
            raise ValueError(f"a {how} join cannot stream the side opposite {self.side!r}")
        if self.membership and how not in ("semi", "anti"):
            raise ValueError(f"an index built for membership cannot answer a {how} join")
        rows = chunk  # semi and anti joins keep these rows as they are
        if self.side == "right":
            chunk, _ = coerce_join_keys(chunk, self.table, [chunk_on], [self.key])
        else:
            _, chunk = coerce_join_keys(self.table, chunk, [self.key], [chunk_on])
        found = self.positions(chunk.column(chunk_on))
        matched = found >= 0
        if how in ("semi", "anti"):
            return rows.filter(pa.array(matched if how == "semi" else ~matched))
        if how == "inner":
            kept = np.flatnonzero(matched)
            chunk = take_rows(chunk, pa.array(kept)) if len(kept) < chunk.num_rows else chunk
            other = take_values_of(self.table, found[kept], None)
        else:  # every streamed row; the indexed side's columns null where none matched
            other = take_values_of(self.table, found, ~matched)
        left, right = (chunk, other) if self.side == "right" else (other, chunk)
        left_on, right_on = (
            ([chunk_on], [self.key]) if self.side == "right" else ([self.key], [chunk_on])
        )
        return _assemble(left, right, left_on, right_on, how, prefix, suffix)


def take_values_of(table: pa.Table, positions: np.ndarray, missing: np.ndarray | None) -> pa.Table:
    """Rows ``positions`` of ``table``; null rows where ``missing`` is set."""
    indices = pa.array(positions, pa.int64(), mask=missing)
    columns = [take_values(column, indices) for column in table.columns]
    return pa.Table.from_arrays(columns, names=table.column_names)


def _assemble(
    left: pa.Table,
    right: pa.Table,
    left_on: list[str],
    right_on: list[str],
    how: str,
    prefix: str,
    suffix: str | None,
) -> pa.Table:
    """Row-aligned ``left`` and ``right`` as the join's output (merged keys once)."""
    schema = join_output_schema(left.schema, right.schema, left_on, right_on, how, prefix, suffix)
    merged = {lname for lname, rname in zip(left_on, right_on, strict=True) if lname == rname}
    columns = []
    for name in left.column_names:
        values = left.column(name)
        if name in merged and how == "right":
            values = pc.coalesce(values, right.column(name))
        columns.append(values)
    columns += [right.column(n) for n in right.column_names if n not in merged]
    columns = [c.cast(f.type) if c.type != f.type else c for c, f in zip(columns, schema)]
    return pa.Table.from_arrays(columns, schema=schema)


def index_unique_keys(
    table: pa.Table,
    on: list[str],
    other_type: pa.DataType,
    side: str = "right",
    membership: bool = False,
) -> UniqueKeyIndex | None:
    """Index ``table`` (a join's small side) by its key ``on`` if that is one column of
    an integer-like common type with ``other_type`` (the streamed side's key type) and
    its values are unique; else None. With ``membership`` (for semi and anti joins, which ask only whether a key is there)
    the keys need not be unique: the index then keeps one row per key.

    Examples
    --------
    >>> small = pa.table({"k": [10, 20, None], "name": ["a", "b", "c"]})
    >>> index = index_unique_keys(small, ["k"], pa.int64())
    >>> index.join(pa.table({"k": [20, 30, 20]}), "k", "left").to_pylist()
    [{'k': 20, 'name': 'b'}, {'k': 30, 'name': None}, {'k': 20, 'name': 'b'}]
    """
    if len(on) != 1 or not indexable_keys(other_type, table.schema.field(on[0]).type):
        return None
    kind = common_key_type(other_type, table.schema.field(on[0]).type)
    if table.schema.field(on[0]).type != kind:
        index = table.schema.get_field_index(on[0])
        table = table.set_column(
            index, table.schema.field(index).with_type(kind), table.column(index).cast(kind)
        )
    if membership:  # only the key is looked at: no rows are taken from the table
        table = table.select([on[0]])
    elif any(column.num_chunks > 1 for column in table.columns):
        # Every probe takes rows from it: a take from one chunk per column is several
        # times cheaper than one that resolves its indices across chunks (TPC-H Q19's
        # part side came in 25 chunks: the fused join was 1.4x slower than Acero's).
        table = table.combine_chunks()
    values, valid = _as_int64(table.column(on[0]))
    if valid is not None:
        values = values[valid]
    if not len(values):
        return None
    low, high = int(values.min()), int(values.max())
    # A membership index marks each key with row 0 (any row will do); 1 byte a value.
    dtype = np.int8 if membership else np.int64 if table.num_rows >= 2**31 else np.int32
    allowed = max(MAX_LOOKUP_SHARE * table.nbytes, LOOKUP_ALLOWANCE)
    if (high - low + 1) * np.dtype(dtype).itemsize > allowed:
        return None
    rows = np.full(high - low + 1, -1, dtype=dtype)
    if membership:
        rows[values - low] = 0
    else:
        positions = np.arange(table.num_rows, dtype=np.int64)
        if valid is not None:
            positions = positions[valid]
        rows[values - low] = positions
        if not np.array_equal(rows[values - low], positions):
            return None  # a key held by two rows
    return UniqueKeyIndex(table, on[0], rows, low, side, membership)
