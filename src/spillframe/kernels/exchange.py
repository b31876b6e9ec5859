"""Exchange kernels: split a partition into buckets by hash, range or at random.

Every split returns exactly the requested number of tables, each with the input
schema (empty buckets included), so the plan's partition counts never depend on data.

Hashing (:func:`hash_rows`) is a fixed, unsalted function of the key *values*, so it is
the same in every process and every partition. Values are normalized first so that
equal values of different physical types hash alike:

- bool, integers, floats and decimals hash as their ``float64`` value (``-0.0`` as
  ``0.0``, every NaN alike), so int32/int64/float/decimal keys that compare equal land
  in the same bucket (integers beyond 2**53 may share buckets; that only costs balance);
- string, large_string, string_view (and the binary kinds) hash their UTF-8 bytes;
- date32/date64 hash their day number; timestamps (any unit, any time zone), times and
  durations hash their value in microseconds;
- dictionary columns hash their decoded values; a null hashes to a fixed constant.
Nested key types (list, struct, map) raise ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from spillframe.kernels.sort import sort_indices, sort_table, take_rows, take_values
from spillframe.types import without_view_types

__all__ = [
    "hash_arrays",
    "hash_rows",
    "hash_split",
    "random_split",
    "range_split",
    "sample_for_boundaries",
    "compute_boundaries",
    "concat_tables",
]

_U64 = np.uint64
_NULL_HASH = _U64(0x5BD1E9955BD1E995)
_SEED = _U64(0x9E3779B97F4A7C15)
_STRING_PRIME = 0x100000001B3  # odd, hence invertible modulo 2**64
_STRING_BLOCK_BYTES = 1 << 20


_FMIX_MULTIPLIERS = (_U64(0xFF51AFD7ED558CCD), _U64(0xC4CEB9FE1A85EC53))


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer (a bijection that mixes every input bit).

    Mixes ``h`` in place (every caller passes an array of its own) with one scratch
    array: the textbook five expressions allocate a fresh array each, and on SF10's
    exchanges those allocations' page faults cost as much as the arithmetic."""
    if h.dtype != _U64:
        h = h.astype(_U64)
    scratch = np.empty_like(h)
    with np.errstate(over="ignore"):
        for multiplier in _FMIX_MULTIPLIERS:
            np.right_shift(h, _U64(33), out=scratch)
            np.bitwise_xor(h, scratch, out=h)
            np.multiply(h, multiplier, out=h)
        np.right_shift(h, _U64(33), out=scratch)
        np.bitwise_xor(h, scratch, out=h)
    return h


def _row_blocks(offsets: np.ndarray, block_bytes: int) -> list[tuple[int, int]]:
    """Row ranges of at most ``block_bytes`` bytes each (or one row, if longer)."""
    n = len(offsets) - 1
    blocks, start_row = [], 0
    while start_row < n:
        limit = offsets[start_row] + block_bytes
        end_row = int(np.searchsorted(offsets, limit, side="right")) - 1
        end_row = min(max(end_row, start_row + 1), n)
        blocks.append((start_row, end_row))
        start_row = end_row
    return blocks


def _powers(base: int, count: int) -> np.ndarray:
    """``base**j mod 2**64`` for ``j`` in ``0..count-1`` (uint64 products wrap)."""
    out = np.full(max(count, 1), base, dtype=_U64)
    out[0] = 1
    return np.cumprod(out, out=out)


def _hash_bytes_chunk(array: pa.Array) -> np.ndarray:
    """Hash each value of a large_binary array from its bytes only (not its position).

    Polynomial hash ``sum(b[j] * P**(j - start)) mod 2**64`` of every value from one
    prefix sum per block of rows: ``(S[end] - S[start]) * P**-start``; ``P`` is odd,
    so ``P**-1`` exists modulo 2**64. Blocks bound the uint64 work arrays (8 bytes per
    data byte). The length is mixed in so that zero bytes count.
    """
    n = len(array)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + n + 1]
    lengths = np.diff(offsets).astype(_U64)
    out = _fmix64(lengths * _SEED)
    if n == 0 or offsets[-1] == offsets[0]:
        return out
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)
    blocks = _row_blocks(offsets, _STRING_BLOCK_BYTES)
    largest = max(int(offsets[e] - offsets[s]) for s, e in blocks)
    powers = _powers(_STRING_PRIME, largest)
    inverse_powers = _powers(pow(_STRING_PRIME, -1, 1 << 64), largest + 1)
    for start_row, end_row in blocks:
        block_offsets = offsets[start_row : end_row + 1]
        base = int(block_offsets[0])
        size = int(block_offsets[-1]) - base
        prefix = np.zeros(size + 1, dtype=_U64)
        np.cumsum(data[base : base + size] * powers[:size], out=prefix[1:])
        starts = block_offsets[:-1] - base
        polynomial = (prefix[block_offsets[1:] - base] - prefix[starts]) * inverse_powers[starts]
        out[start_row:end_row] = _fmix64(polynomial ^ out[start_row:end_row])
    return out


def _normalize_for_hash(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """Cast ``column`` to float64, int64 or large_binary so equal values hash alike."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        return _normalize_for_hash(column.cast(kind.value_type), name)
    if pa.types.is_null(kind):
        return column.cast(pa.int64())
    if (
        pa.types.is_boolean(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
    ):
        return column.cast(pa.float64(), safe=False)
    if pa.types.is_date(kind):
        return column.cast(pa.date32(), safe=False).cast(pa.int32()).cast(pa.int64())
    if pa.types.is_timestamp(kind):
        return column.cast(pa.timestamp("us", kind.tz), safe=False).cast(pa.int64())
    if pa.types.is_time(kind):
        return column.cast(pa.time64("us"), safe=False).cast(pa.int64())
    if pa.types.is_duration(kind):
        return column.cast(pa.duration("us"), safe=False).cast(pa.int64())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or kind == pa.string_view():
        return column.cast(pa.large_string()).cast(pa.large_binary())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or kind == pa.binary_view():
        return column.cast(pa.large_binary())
    if pa.types.is_fixed_size_binary(kind):
        return column.cast(pa.binary()).cast(pa.large_binary())
    raise TypeError(f"cannot hash key column {name!r} of type {kind}")


def _hash_column(column: pa.ChunkedArray, name: str) -> np.ndarray:
    """Stable 64-bit hash of every value of ``column``; nulls get a fixed constant."""
    normalized = _normalize_for_hash(column, name)
    if len(normalized) == 0:
        return np.empty(0, dtype=_U64)
    array = normalized.combine_chunks()
    if pa.types.is_large_binary(array.type):
        hashes = _hash_bytes_chunk(array)
    else:
        values = array.fill_null(0).to_numpy(zero_copy_only=False)
        if pa.types.is_floating(column.type) or pa.types.is_decimal(column.type):
            values = np.where(np.isnan(values), np.nan, values + 0.0)  # one NaN, no -0.0
        hashes = _fmix64(values.view(_U64) ^ _SEED)
    if array.null_count:
        hashes = np.where(array.is_valid().to_numpy(zero_copy_only=False), hashes, _NULL_HASH)
    return hashes


def hash_arrays(
    arrays: list[pa.Array | pa.ChunkedArray], seed: int = 0, names: list[str] | None = None
) -> pa.UInt64Array:
    """Stable 64-bit hash of each row of equally long ``arrays`` (the ``hash()`` kernel).

    Parameters
    ----------
    arrays : list of pa.Array or pa.ChunkedArray
        Columns to hash together, in order (the order changes the hash).
    seed : int
        Mixed into every hash; 0 gives the hashes :func:`hash_split` buckets by.
    names : list of str, optional
        Column names used in error messages.

    Returns
    -------
    pa.UInt64Array
        One non-null hash per row (a null value hashes to a fixed constant); identical
        in every process for equal values (see the module docstring).

    Raises
    ------
    TypeError
        A column has a nested type.
    """
    names = names if names is not None else [f"#{i}" for i in range(len(arrays))]
    length = len(arrays[0]) if arrays else 0
    start = _SEED ^ _U64(seed & 0xFFFFFFFFFFFFFFFF)
    hashes: np.ndarray | None = None  # None: still ``start`` in every row
    with np.errstate(over="ignore"):
        for array, name in zip(arrays, names, strict=True):
            if len(array) != length:
                raise ValueError(f"hash_arrays needs equally long arrays: {len(array)} != {length}")
            chunked = array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])
            column_hash = _hash_column(chunked, name)
            # boost::hash_combine, then a full mix so the combination stays well spread.
            if hashes is None:  # the same combine, with the constant part folded
                column_hash += _SEED + (start << _U64(6)) + (start >> _U64(2))
                column_hash ^= start
                hashes = _fmix64(column_hash)
            else:
                hashes = _fmix64(
                    hashes ^ (column_hash + _SEED + (hashes << _U64(6)) + (hashes >> _U64(2)))
                )
    if hashes is None:
        hashes = np.full(length, start, dtype=_U64)
    return pa.array(hashes, type=pa.uint64())


def hash_rows(table: pa.Table, keys: list[str]) -> np.ndarray:
    """Stable 64-bit hash of the ``keys`` values of every row (seed 0), as NumPy.

    Parameters
    ----------
    table : pa.Table
        Input table (not modified).
    keys : list of str
        Columns to hash, in order (the order changes the hash).

    Returns
    -------
    np.ndarray
        ``uint64`` array, one hash per row; identical in every process.
    """
    if not keys:
        return np.full(table.num_rows, _SEED, dtype=_U64)
    columns = [table.column(key) for key in keys]
    return hash_arrays(columns, seed=0, names=list(keys)).to_numpy()


def bucket_order(buckets: np.ndarray, num_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Row positions grouped by bucket id (stable), and each bucket's row count."""
    # Stable argsort of 8/16-bit integers is a linear-time radix sort in NumPy.
    narrow = np.uint8 if num_buckets <= 1 << 8 else np.uint16 if num_buckets <= 1 << 16 else None
    order = np.argsort(buckets.astype(narrow) if narrow else buckets, kind="stable")
    return order, np.bincount(buckets, minlength=num_buckets)


def _split_by_bucket(table: pa.Table, buckets: np.ndarray, num_buckets: int) -> list[pa.Table]:
    """Split rows by bucket id in O(n log n); each bucket owns its buffers."""
    order, counts = bucket_order(buckets, num_buckets)
    return _take_runs(table, order, counts)


def _take_runs(table: pa.Table, order: np.ndarray, counts: np.ndarray) -> list[pa.Table]:
    """The runs of rows ``order[start:end]`` (``counts`` long each) as tables that own
    their buffers, so that a bucket spilled or freed gives its memory back.

    Column by column, the whole column is taken in ``order`` at once and each run is
    copied out of it: one take resolves every index across the input's chunks once,
    where a take per bucket did it per bucket (a 300k-row lineitem part into 24
    buckets: 75 -> 50 ms, the chunks combined first included), and only one column's
    ordered copy is held besides the buckets.
    """
    ends = np.cumsum(counts)
    starts = (ends - counts).tolist()
    indices = pa.array(order)
    runs: list[list[Any]] = [[] for _ in starts]
    for column in table.columns:
        ordered = take_values(column, indices)
        for run, start, stop in zip(runs, starts, ends.tolist(), strict=True):
            piece = ordered.slice(start, stop - start)
            chunks = piece.chunks if isinstance(piece, pa.ChunkedArray) else [piece]
            # concat_arrays copies, even one chunk; an empty run has no chunk to copy.
            run.append(pa.concat_arrays(chunks) if chunks else piece.combine_chunks())
        del ordered
    return [pa.Table.from_arrays(run, schema=table.schema) for run in runs]


def _check_num_buckets(num_buckets: int) -> None:
    if not isinstance(num_buckets, (int, np.integer)) or num_buckets < 1:
        raise ValueError(f"num_buckets must be a positive integer, got {num_buckets!r}")


def hash_split(table: pa.Table, keys: list[str], num_buckets: int) -> list[pa.Table]:
    """Split ``table`` into ``num_buckets`` tables by a stable hash of the ``keys`` values.

    Parameters
    ----------
    table : pa.Table
        Input partition (not modified).
    keys : list of str
        Key columns; rows with equal key values (in any partition, of any equal-valued
        type, see the module docstring) land in the same bucket. Null keys go to one
        fixed bucket.
    num_buckets : int
        Number of output tables (>= 1).

    Returns
    -------
    list of pa.Table
        Exactly ``num_buckets`` tables with the input schema; rows keep their
        relative input order inside a bucket.

    Examples
    --------
    >>> parts = hash_split(pa.table({"k": [1, 2, 1]}), ["k"], 4)
    >>> len(parts), sum(p.num_rows for p in parts)
    (4, 3)
    """
    _check_num_buckets(num_buckets)
    for key in keys:
        if table.schema.get_field_index(key) < 0:
            raise KeyError(f"no key column {key!r} in [{', '.join(table.column_names)}]")
    if num_buckets == 1:
        return [table]
    buckets = (hash_rows(table, keys) % _U64(num_buckets)).astype(np.int64)
    return _split_by_bucket(table, buckets, num_buckets)


def random_split(table: pa.Table, num_buckets: int, seed: int) -> list[pa.Table]:
    """Split ``table`` into ``num_buckets`` tables of (almost) equal size at random.

    Parameters
    ----------
    table : pa.Table
        Input partition (not modified).
    num_buckets : int
        Number of output tables (>= 1).
    seed : int
        Seed of the permutation. Give each input partition its own seed (for example
        ``base_seed + partition_index``), or all partitions share one pattern.

    Returns
    -------
    list of pa.Table
        Exactly ``num_buckets`` tables; sizes differ by at most one row.
    """
    _check_num_buckets(num_buckets)
    rng = np.random.default_rng(seed)
    shift = int(rng.integers(num_buckets))  # spreads the remainder rows over buckets
    buckets = (rng.permutation(table.num_rows) + shift) % num_buckets
    return _split_by_bucket(table, buckets.astype(np.int64), num_buckets)


def _unify_key_types(keys_table: pa.Table, boundaries: pa.Table) -> tuple[pa.Table, pa.Table]:
    merged = concat_tables([keys_table.slice(0, 0), boundaries.slice(0, 0)])
    return keys_table.cast(merged.schema), boundaries.cast(merged.schema)


def range_split(
    table: pa.Table,
    keys: list[str],
    descending: list[bool],
    nulls_first: list[bool],
    boundaries: pa.Table,
) -> list[pa.Table]:
    """Split ``table`` into ``boundaries.num_rows + 1`` key ranges.

    Bucket ``i`` holds the rows that sort after boundary ``i - 1`` and not after
    boundary ``i`` (a row equal to boundary ``i`` goes to bucket ``i``, the lower
    side), in the order of :func:`spillframe.kernels.sort.sort_table`. So sorting
    each bucket and concatenating buckets ``0..B`` gives a globally sorted result.

    Parameters
    ----------
    table : pa.Table
        Input partition (not modified).
    keys, descending, nulls_first : list
        Sort specification, as in :func:`spillframe.kernels.sort.sort_table`.
    boundaries : pa.Table
        The key columns, ``B`` rows (from :func:`compute_boundaries`). Their types are
        unified with the table's (string/large_string, null) before comparing.

    Returns
    -------
    list of pa.Table
        Exactly ``B + 1`` tables with the input schema, each already sorted (stable).
    """
    num_boundaries = boundaries.num_rows
    keys_table = table.select(keys)
    keys_table, bounds = _unify_key_types(keys_table, boundaries.select(keys))
    # Stable sort of rows followed by boundaries: a row equal to a boundary sorts
    # before it, and its bucket is the number of boundaries sorted before it.
    combined = pa.concat_tables([keys_table, bounds])
    order = sort_indices(combined, keys, descending, nulls_first).to_numpy()
    is_boundary = order >= table.num_rows
    bucket_of_sorted = np.cumsum(is_boundary)[~is_boundary]
    counts = np.bincount(bucket_of_sorted, minlength=num_boundaries + 1)
    return _take_runs(table, order[~is_boundary], counts)


def sample_for_boundaries(
    table: pa.Table, keys: list[str], num_samples: int, seed: int
) -> pa.Table:
    """Uniform random sample (without replacement) of the key columns.

    Parameters
    ----------
    table : pa.Table
        Input partition (not modified).
    keys : list of str
        Columns to keep.
    num_samples : int
        Sample size; the whole key table when it has fewer rows.
    seed : int
        Random seed.

    Returns
    -------
    pa.Table
        ``min(num_samples, table.num_rows)`` rows of ``table.select(keys)``.
    """
    keys_table = table.select(keys)
    if num_samples >= table.num_rows:
        return keys_table
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(table.num_rows, size=max(num_samples, 0), replace=False))
    return take_rows(keys_table, pa.array(chosen, type=pa.int64()))


def compute_boundaries(
    samples: list[pa.Table],
    keys: list[str],
    descending: list[bool],
    nulls_first: list[bool],
    num_buckets: int,
) -> pa.Table:
    """Pick ``num_buckets - 1`` quantile rows of the pooled samples as range boundaries.

    The boundaries are not deduplicated, so :func:`range_split` always returns exactly
    ``num_buckets`` tables (some empty when keys repeat). Without any sampled row the
    boundaries are all-null rows, which is still a valid (one-sided) split.

    Parameters
    ----------
    samples : list of pa.Table
        Samples from :func:`sample_for_boundaries`, one per partition.
    keys, descending, nulls_first : list
        Sort specification.
    num_buckets : int
        Number of ranges wanted (>= 1).

    Returns
    -------
    pa.Table
        The key columns, ``num_buckets - 1`` rows in sort order.
    """
    _check_num_buckets(num_buckets)
    count = num_buckets - 1
    pooled = concat_tables([s.select(keys) for s in samples]) if samples else None
    if pooled is None or pooled.num_rows == 0:
        types = pooled.schema.types if pooled is not None else [pa.null()] * len(keys)
        return pa.table({k: pa.nulls(count, t) for k, t in zip(keys, types, strict=True)})
    ordered = sort_table(pooled, keys, descending, nulls_first)
    positions = (np.arange(1, num_buckets) * ordered.num_rows) // num_buckets
    return take_rows(ordered, pa.array(np.minimum(positions, ordered.num_rows - 1)))


def _without_view_types(table: pa.Table) -> pa.Table:
    fields = [f.with_type(without_view_types(f.type)) for f in table.schema]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def concat_tables(tables: list[pa.Table], schema: pa.Schema | None = None) -> pa.Table:
    """Concatenate partitions, unifying compatible schemas.

    Parameters
    ----------
    tables : list of pa.Table
        Tables to stack, in order. Differences such as string vs large_string or a
        null-typed column are resolved by permissive promotion; view types mixed with
        other kinds become large_string/large_binary.
    schema : pa.Schema, optional
        Result schema; required when ``tables`` is empty. Tables are cast to it.

    Returns
    -------
    pa.Table
        The rows of all tables. Chunks are combined only when they are small on
        average (under 1 MiB), where a copy is cheap and helps later kernels.
    """
    if not tables:
        if schema is None:
            raise ValueError("concat_tables needs a schema to concatenate zero tables")
        return schema.empty_table()
    first = tables[0].schema
    if all(t.schema.equals(first) for t in tables[1:]):
        result = pa.concat_tables(tables)
    else:
        try:
            result = pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            normalized = [_without_view_types(t) for t in tables]
            result = pa.concat_tables(normalized, promote_options="permissive")
    if schema is not None and not result.schema.equals(schema):
        result = result.select(schema.names).cast(schema)
    chunks = max((c.num_chunks for c in result.columns), default=0)
    if chunks > 1 and result.nbytes < chunks * (1 << 20):
        result = result.combine_chunks()
    return result


def chunks_of(
    tables: Iterable[pa.Table],
    nbytes: int,
    concat: Callable[[list[pa.Table]], pa.Table] = concat_tables,
) -> Iterator[pa.Table]:
    """Consecutive ``tables`` joined by ``concat`` into chunks of about ``nbytes`` each
    (the last may be smaller); only one chunk's tables are held at a time.

    >>> [t.num_rows for t in chunks_of([pa.table({"a": [1, 2]})] * 3, 20)]
    [4, 2]
    """
    pending: list[pa.Table] = []
    size = 0
    for table in tables:
        pending.append(table)
        size += table.nbytes
        del table
        if size >= nbytes:
            yield concat(pending)
            pending, size = [], 0
    if pending:
        yield concat(pending)
