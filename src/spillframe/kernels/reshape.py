"""Kernels of the reshaping operators: repeat rows, unpivot, and the operators that
need every partition's row count (offset, sampling a number of rows)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True, slots=True)
class RepeatStep:
    """Each row ``times`` times (that column dropped); null or non-positive: no row."""

    times: str
    row_wise = True

    def __call__(self, table: pa.Table) -> pa.Table:
        counts = pc.fill_null(table.column(self.times), 0).to_numpy(zero_copy_only=False)
        rows = np.repeat(np.arange(table.num_rows), np.maximum(counts, 0))
        result = table.take(pa.array(rows, pa.int64()))
        return result.remove_column(result.schema.get_field_index(self.times))


@dataclass(frozen=True, slots=True)
class UnpivotStep:
    """``ids`` repeated once per ``values`` column: the column's name and its value."""

    ids: tuple[str, ...]
    values: tuple[str, ...]
    schema: pa.Schema
    row_wise = True

    def __call__(self, table: pa.Table) -> pa.Table:
        """Rows in input order, each followed by its next value column (as Daft)."""
        n, k = table.num_rows, len(self.values)
        value_type = self.schema.field(len(self.ids) + 1).type
        rows = pa.array(np.repeat(np.arange(n), k), pa.int64())
        columns = [table.column(name).take(rows) for name in self.ids]
        names = pa.array(np.tile(np.array(self.values, dtype=object), n), pa.string())
        stacked = np.arange(n * k).reshape(k, n).T.reshape(-1)
        per_column = [table.column(name).cast(value_type) for name in self.values]
        values = pa.chunked_array(per_column, value_type).combine_chunks()
        # ``values`` holds column 0's n values, then column 1's...; row r, column c is
        # at c * n + r, and ``stacked`` lists those positions in output order.
        picked = values.take(pa.array(stacked, pa.int64()))
        return pa.Table.from_arrays([*columns, names, picked], schema=self.schema)


def count_rows(table: pa.Table) -> pa.Table:
    """A one-row table holding ``table``'s row count."""
    return pa.table({"rows": pa.array([table.num_rows], pa.int64())})


def _offsets(counts: list[pa.Table], index: int) -> tuple[int, int]:
    """The global position of partition ``index``'s first row, and the total rows."""
    sizes = [c.column("rows")[0].as_py() for c in counts]
    return sum(sizes[:index]), sum(sizes)


def offset_partition(table: pa.Table, counts: list[pa.Table], index: int, n: int) -> pa.Table:
    """Partition ``index`` without the rows among the first ``n`` of all partitions."""
    start, _ = _offsets(counts, index)
    return table.slice(min(max(n - start, 0), table.num_rows))


def draw_rows(total: int, size: int, with_replacement: bool, seed: int) -> np.ndarray:
    """``size`` global row positions out of ``total``, sorted; the same for a seed."""
    if not with_replacement and size > total:
        raise ValueError(
            f"sample(size={size}) without replacement needs at least {size} rows, but the "
            f"DataFrame has {total}; lower size= or pass with_replacement=True"
        )
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    drawn = rng.choice(total, size=size, replace=with_replacement)
    return np.sort(drawn.astype(np.int64))


def uniform_at(positions: np.ndarray, seed: int) -> np.ndarray:
    """A uniform [0, 1) number per global row position, the same for a seed whatever
    the partitioning (splitmix64 of the position and the seed)."""
    with np.errstate(over="ignore"):
        z = positions.astype(np.uint64) + np.uint64(seed % 2**64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


@dataclass(frozen=True, slots=True)
class SampleRowsKernel:
    """Partition ``index``'s share of rows drawn over the whole DataFrame."""

    size: int | None
    fraction: float | None
    with_replacement: bool
    seed: int

    def __call__(self, table: pa.Table, counts: list[pa.Table], index: int) -> pa.Table:
        start, total = _offsets(counts, index)
        if self.size is None and not self.with_replacement:  # each row with a probability
            positions = np.arange(start, start + table.num_rows)
            keep = uniform_at(positions, self.seed) < (self.fraction or 0.0)
            return table.filter(pa.array(keep))
        size = self.size if self.size is not None else round((self.fraction or 0.0) * total)
        drawn = draw_rows(total, size, self.with_replacement, self.seed)
        lo, hi = np.searchsorted(drawn, [start, start + table.num_rows])
        return table.take(pa.array(drawn[lo:hi] - start, pa.int64()))
