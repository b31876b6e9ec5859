"""A partial aggregation fed a stream (a scan's batches) reduces it chunk by chunk
while the groups are few, and in one piece once they are many."""

from __future__ import annotations

import pyarrow as pa
import pytest

from spillframe.kernels.aggregations import AggSpec
from spillframe.kernels.budget import MemoryGrant
from spillframe.physical import steps
from spillframe.physical.steps import AggregateStep

SPECS = (AggSpec("sum", "v", "s"), AggSpec("mean", "v", "m"), AggSpec("max", "t", "x"))


def _batches(n_batches: int, rows: int, groups: int) -> list[pa.Table]:
    return [
        pa.table(
            {
                "k": [(b * rows + i) % groups for i in range(rows)],
                "v": [float(b * rows + i) for i in range(rows)],
                "t": [f"t{(b * rows + i) % 97:03d}" for i in range(rows)],
            }
        )
        for b in range(n_batches)
    ]


def _final(partials: pa.Table) -> dict:
    final = AggregateStep(("k",), SPECS, "final")(partials)
    return dict(sorted(zip(final["k"].to_pylist(), zip(*[final[c].to_pylist() for c in "smx"]))))


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(steps, "PARTIAL_CHUNK_BYTES", 4 << 10)


def test_few_groups_are_reduced_chunk_by_chunk(small_chunks):
    batches = _batches(20, 500, groups=4)
    step = AggregateStep(("k",), SPECS, "partial")
    partials = step.run_partitions(iter(batches), MemoryGrant(1 << 30))
    whole = step(pa.concat_tables(batches))
    # Several chunks' states (more than one row per group), the same final answer.
    assert partials.num_rows > whole.num_rows == 4
    assert partials.num_rows <= 4 * len(batches)
    assert _final(partials) == _final(whole)


def test_many_groups_stop_chunking(small_chunks):
    batches = _batches(20, 500, groups=5_000)  # each group in two batches
    step = AggregateStep(("k",), SPECS, "partial")
    partials = step.run_partitions(iter(batches), MemoryGrant(1 << 30))
    whole = step(pa.concat_tables(batches))
    # The first chunk showed little reduction: the rest was reduced in one piece, so
    # only the first chunk's groups appear twice.
    first_chunk_rows = partials.num_rows - whole.num_rows
    assert first_chunk_rows == 500  # the first batch alone made the first chunk
    assert _final(partials) == _final(whole)


def test_a_stream_of_one_table_is_one_partial(small_chunks):
    (batch,) = _batches(1, 50, groups=5)
    step = AggregateStep(("k",), SPECS, "partial")
    assert step.run_partitions(iter([batch]), MemoryGrant(1 << 30)).equals(step(batch))


def test_many_groups_still_stay_within_the_grant(small_chunks):
    batches = _batches(20, 500, groups=5_000)
    step = AggregateStep(("k",), SPECS, "partial")
    grant = MemoryGrant(4 * sum(b.nbytes for b in batches[:3]))  # a quarter: 3 batches
    partials = step.run_partitions(iter(batches), grant)
    whole = step(pa.concat_tables(batches))
    # Reduced about every 3 batches although chunking stopped after the first one.
    assert partials.num_rows > whole.num_rows + 500
    assert _final(partials) == _final(whole)
