"""Compact partitions, their sizeof and their serialization."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import sfdask_kernels as k
from dask.sizeof import sizeof
from distributed.protocol import deserialize, serialize
from spillframe_dask.partitions import compact_table, execute_kernel


@pytest.fixture
def big():
    return pa.table(
        {
            "x": pa.array(range(500_000), pa.int64()),
            "s": pa.array([f"row {i}" for i in range(500_000)]),
        }
    )


def test_slice_is_copied_into_own_buffers(big):
    part = big.slice(1000, 100)
    compact = compact_table(part)
    assert compact.equals(part)
    assert compact.schema == part.schema
    assert compact.get_total_buffer_size() < 2 * part.nbytes + 1024
    assert part.get_total_buffer_size() > 100 * compact.get_total_buffer_size()


def test_compact_table_is_returned_as_is(big):
    assert compact_table(big) is big
    assert compact_table("not a table") == "not a table"


def test_compacting_keeps_empty_and_chunked_columns():
    table = pa.concat_tables([pa.table({"a": [1, 2, 3]}), pa.table({"a": [4, 5, 6]})])
    empty = table.slice(0, 0)
    assert compact_table(table.slice(1, 4)).to_pydict() == {"a": [2, 3, 4, 5]}
    assert compact_table(empty).num_rows == 0


def test_execute_kernel_compacts_every_bucket(big):
    buckets = execute_kernel(k.split_slices, 4, 0, ("split", 0, 0), big, 4)
    assert sum(b.num_rows for b in buckets) == big.num_rows
    held = sum(b.get_total_buffer_size() for b in buckets)
    assert held < 1.2 * big.get_total_buffer_size()


def test_execute_kernel_checks_bucket_count(big):
    with pytest.raises(ValueError, match="returned 4 buckets, but its task declares num_outputs=3"):
        execute_kernel(k.split_slices, 3, 0, ("split", 0, 0), big, 4)


def test_sizeof_counts_what_a_table_keeps_alive(big):
    part = big.slice(0, 10)
    assert sizeof(part) >= big.get_total_buffer_size()
    assert sizeof(compact_table(part)) < 10_000
    assert abs(sizeof(big) - big.nbytes) < 0.05 * big.nbytes


def test_a_slice_serializes_without_its_parent(big):
    part = big.slice(0, 1000)
    header, frames = serialize(part)
    assert header["serializer"] == "dask"  # ours, not distributed's pickle
    assert sum(memoryview(f).nbytes for f in frames) < 4 * part.nbytes + 4096
    assert deserialize(header, frames).equals(part)


def test_a_table_travels_as_its_own_buffers_not_a_copy(big):
    header, frames = serialize(big)
    data = big.column("x").chunks[0].buffers()[1]
    addresses = [np.frombuffer(memoryview(f), np.uint8).ctypes.data for f in frames[1:]]
    assert data.address in addresses
    table = deserialize(header, frames)
    assert table.equals(big)
    assert table.column("x").chunks[0].buffers()[1].address == data.address


@pytest.mark.parametrize("rows", [5_000, 200_000], ids=["small-as-ipc", "large-as-buffers"])
def test_tables_read_from_misaligned_frames_are_aligned(big, rows):
    header, frames = serialize(big.slice(0, rows))
    shifted = []
    for frame in frames:
        raw = bytes(memoryview(frame))
        view = memoryview(bytearray(len(raw) + 1))[1:]  # starts one byte off
        view[:] = raw
        shifted.append(view)
    table = deserialize(header, shifted)
    assert table.equals(big.slice(0, rows))
    data = table.column("x").chunks[0].buffers()[1]
    assert data.address % 8 == 0


def test_a_kernel_outside_a_worker_is_granted_its_reservation():
    from spillframe_dask.partitions import worker_grant

    assert worker_grant(0) is None
    assert worker_grant(5 << 20).limit == 5 << 20


def test_a_kernel_on_a_worker_is_granted_at_most_what_the_worker_has_left(dask_runner):
    from spillframe_dask.partitions import GRANT_CEILING, worker_grant

    limit = dask_runner.workers()[0].memory_bytes
    small = dask_runner.client.submit(worker_grant, 1 << 20, pure=False).result()
    huge = dask_runner.client.submit(worker_grant, 1 << 50, pure=False).result()
    assert small.limit == max(limit // 16, 1 << 20)
    assert limit // 16 <= huge.limit <= GRANT_CEILING * limit
    assert huge.spill_dir  # the worker's local directory


def test_execute_kernel_grants_the_kernel(dask_runner):
    granted_limit = dask_runner.client.submit(
        execute_kernel, k.grant_limit, 1, 3 << 20, ("grant", 0, 0), pure=False
    ).result()
    assert granted_limit.column("limit")[0].as_py() == max(
        3 << 20, dask_runner.workers()[0].memory_bytes // 16
    )


def test_execute_kernel_refines_the_reservation_from_the_inputs_it_got(dask_runner):
    from spillframe.physical.plan import WorkingMemory

    # Planned for 1 MiB of input, the task gets 48 MiB: it is granted three times what
    # it got (the idle 1 GiB worker has that left), not the 1/16 floor of the plan's.
    big = pa.table({"x": np.arange(6 << 20, dtype=np.int64)})
    planned = WorkingMemory(ref_bytes=1 << 20, factor=3.0)
    [remote] = dask_runner.client.scatter([big])
    granted_limit = dask_runner.client.submit(
        execute_kernel, k.grant_limit, 1, 0, ("grant", 0, 0), [remote], memory=planned, pure=False
    ).result()
    assert granted_limit.column("limit")[0].as_py() == planned.peak(sizeof(big))
    assert planned.peak() < dask_runner.workers()[0].memory_bytes // 16
