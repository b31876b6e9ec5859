"""Partitions as compact Arrow tables: task execution, memory size, serialization.

Dask's memory accounting, spilling and transfers all see task outputs. A
sliced ``pyarrow.Table`` keeps its parent's buffers alive, so a 10-row slice of
a 1 GiB table holds 1 GiB of memory. Every kernel therefore runs inside
:func:`execute_kernel`, which copies such outputs into buffers of their own
before the worker stores them, and :func:`sizeof_table` reports what a table
really holds. Tables travel and spill in distributed's ``dask`` serializer family
(:func:`serialize_table`). A large one goes as one frame per Arrow buffer, the
buffers themselves (pickle protocol 5 out of band), not a copy: a worker spilling a
49 MiB join output at 90 % of its memory no longer needs 49 MiB more to do it, nor
to send it (SF1 lineitem joined with orders at 32 MiB partitions on 512 MiB
workers: 3 workers killed before, none after). A small one goes as one Arrow IPC
stream. Buffers that arrive misaligned for Arrow are copied into aligned ones when
read (Acero warns about, and may mis-handle, such buffers).
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import psutil
import pyarrow as pa

from spillframe.errors import UDFError
from spillframe.kernels.budget import MemoryGrant, granted
from spillframe.kernels.exchange import concat_tables
from spillframe.physical.plan import WorkingMemory
from spillframe_dask.metrics import report_task

# A table is copied when its buffers exceed its visible bytes by this factor (plus
# a small constant, so tiny tables are never copied for nothing).
_SLACK_RATIO = 1.25
_SLACK_BYTES = 64 * 1024
# Fixed per-object overhead reported on top of the buffers (schema, Python objects).
_TABLE_OVERHEAD = 1000


def compact_table(table: Any) -> Any:
    """Return ``table`` with buffers of its own when it drags a larger parent's.

    Parameters
    ----------
    table : pyarrow.Table or any
        A kernel output; anything that is not a table is returned unchanged.

    Returns
    -------
    pyarrow.Table or any
        The same object when it is already compact, else an equal table whose
        buffers hold only its rows.

    Examples
    --------
    >>> import pyarrow as pa
    >>> big = pa.table({"x": list(range(100_000))})
    >>> small = compact_table(big.slice(0, 10))
    >>> small.get_total_buffer_size() < 1000, small.equals(big.slice(0, 10))
    (True, True)
    """
    if not isinstance(table, pa.Table):
        return table
    held = table.get_total_buffer_size()
    if held <= table.nbytes * _SLACK_RATIO + _SLACK_BYTES:
        return table
    # concat_arrays always allocates new buffers sized to the visible rows, also
    # for a single chunk (combine_chunks would return the slice unchanged).
    columns = [
        pa.concat_arrays(column.chunks) if column.num_chunks else pa.array([], column.type)
        for column in table.columns
    ]
    return pa.Table.from_arrays(columns, schema=table.schema)


#: Share of a worker's memory limit a running kernel may fill, counting what the worker
#: process already holds: below distributed's default terminate threshold (0.95).
GRANT_CEILING = 0.9


def worker_grant(reservation: int) -> MemoryGrant | None:
    """The memory grant of a task on this worker: its reservation, but no more than
    the worker has left below :data:`GRANT_CEILING` of its limit now (stored data and
    other tasks count), at least 1/16 of the limit. None outside a worker, or for a
    worker without a memory limit and a task without a reservation.

    Stored data counts although the worker could spill it to make room: granting a
    kernel what the worker's spillable outputs occupy (less its own inputs) let SF1
    lineitem joined with orders at 32 MiB partitions on 2 x 512 MiB workers kill
    two workers, where the kernels going out of core on their smaller grants kill
    none.
    """
    try:
        from distributed import get_worker

        worker = get_worker()
    except ValueError:
        return MemoryGrant(reservation) if reservation else None
    limit = getattr(worker.memory_manager, "memory_limit", None)
    if not limit:
        return MemoryGrant(reservation, worker.local_directory) if reservation else None
    left = int(GRANT_CEILING * limit) - psutil.Process().memory_info().rss
    grant = max(limit // 16, min(reservation or limit, left))
    return MemoryGrant(grant, worker.local_directory)


def held_bytes(value: Any) -> int:
    """Bytes of the tables in ``value`` (a task's arguments: tables, lists, tuples)."""
    if isinstance(value, pa.Table):
        return sizeof_table(value)
    if isinstance(value, (list, tuple)):
        return sum(held_bytes(v) for v in value)
    return 0


def execute_kernel(
    kernel: Callable[..., Any],
    num_outputs: int,
    reservation: int,
    where: tuple[str, int, int],
    *args: Any,
    report_key: Any = None,
    memory: WorkingMemory | None = None,
) -> Any:
    """Run one plan task on a worker and make its output(s) compact.

    Parameters
    ----------
    kernel : callable
        The task's top-level kernel.
    num_outputs : int
        1 for a partition, N for a split returning a list of N bucket tables.
    reservation : int
        Bytes reserved for the task whatever its inputs (a UDF's declared request),
        plus ``memory``'s estimate when given; the kernel is granted that, or what the
        worker has left if that is less (:func:`worker_grant`), and its sort, join or
        aggregation goes out of core beyond the grant.
    where : tuple
        ``(operator, stage, partition)`` of the task, named by a failing UDF's error.
    *args
        The kernel's arguments, references already replaced by partitions.
    report_key : tuple, optional
        The key the task's stats event names (:func:`~spillframe_dask.metrics.report_task`):
        the plan task's own, also when it runs fused into its reader's Dask task;
        the running Dask task's by default.
    memory : WorkingMemory, optional
        The plan task's working-memory estimate, refined here from the actual bytes
        of the task's inputs (``memory.peak(input bytes)``), as the PyRunner does. The
        scheduler admits tasks by the stage's planned reservation (a resource, fixed
        when the graph is built); the kernel's budget follows the partitions it got.
        Planned, a join's grant was three times its estimated inputs and its budget a
        third of the grant, so every bucket pair a little over its estimate went out
        of core.
    """
    start = time.time()
    if memory is not None:
        reservation += memory.peak(held_bytes(args))
    grant = worker_grant(reservation)
    try:
        try:
            with granted(grant):
                result = kernel(*args)
        except UDFError as exc:
            raise exc.locate(*where) from exc.original
        if num_outputs == 1:
            table = compact_table(result)
            report_task(start, [table], grant, report_key)
            return table
        buckets = list(result)
    finally:
        # Hand the kernel's scratch memory back to the OS now: the worker's pause
        # and terminate thresholds watch process memory, not just stored outputs.
        pa.default_memory_pool().release_unused()
    if len(buckets) != num_outputs:
        raise ValueError(
            f"kernel {getattr(kernel, '__name__', kernel)!r} returned {len(buckets)} "
            f"buckets, but its task declares num_outputs={num_outputs}"
        )
    tables = [compact_table(bucket) for bucket in buckets]
    report_task(start, tables, grant, report_key)
    return tables


async def select_bucket(buckets: list[Any], index: int) -> Any:
    """One bucket of a split task's output (a graph task of its own).

    A coroutine function, so a worker runs it on its event loop instead of handing it
    to a worker thread: on TPC-H SF1 a split's buckets were selected 3-5 ms apart
    through the thread pool, and all four of a split within half a millisecond so.
    """
    return buckets[index]


def merge_buckets(*splits: list[Any]) -> list[Any]:
    """The buckets of several split tasks of one exchange, bucket by bucket: bucket
    ``j`` holds the rows of bucket ``j`` of each split, in the splits' order (see
    :mod:`spillframe_dask.graph`, which runs a group of splits as one Dask task)."""
    return [compact_table(concat_tables(list(bucket))) for bucket in zip(*splits, strict=True)]


def sizeof_table(table: pa.Table) -> int:
    """Bytes a table keeps alive: every buffer it references, slices included."""
    return int(table.get_total_buffer_size()) + _TABLE_OVERHEAD


#: Received frames starting at an address that is not a multiple of this are copied
#: (Arrow's allocations are 64-byte aligned; a type needs at most its own width).
FRAME_ALIGNMENT = 64


#: Tables of at least this many bytes travel as their own buffers; smaller ones (the
#: buckets of an exchange, thousands of them) as one Arrow IPC frame, a copy too small
#: to matter and one frame instead of one per buffer. All buffers: SF1 lineitem joined
#: with orders at 8 MiB partitions took 48 s instead of 34 s.
OWN_BUFFERS_BYTES = 1 << 20


def serialize_table(table: pa.Table) -> tuple[dict, list[Any]]:
    """A table as frames (distributed's ``dask`` serializer family).

    From :data:`OWN_BUFFERS_BYTES` up: its metadata as a small pickle, then each of its
    buffers as a frame of its own, not copied; a table that drags a larger parent's
    buffers is compacted first, so only its rows travel. Smaller tables: one Arrow IPC
    stream, which writes only the visible part of each buffer."""
    if table.nbytes < OWN_BUFFERS_BYTES:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return {"ipc": True}, [sink.getvalue()]
    buffers: list[pickle.PickleBuffer] = []
    meta = pickle.dumps(compact_table(table), protocol=5, buffer_callback=buffers.append)
    return {}, [meta, *(b.raw() for b in buffers)]


_READ_OPTIONS = pa.ipc.IpcReadOptions(ensure_alignment=pa.ipc.Alignment.DataTypeSpecific)


def deserialize_table(header: dict, frames: list[Any]) -> pa.Table:
    """Rebuild a table on the received frames. An IPC stream copies the buffers that
    are misaligned for their type. Of a table sent as its buffers, when one frame
    starts misaligned (distributed reads small frames, and spill files, into one
    buffer), every frame is copied into an aligned buffer of its own: copying only
    that one would keep the shared receive buffer alive next to the copy."""
    if header.get("ipc"):
        with pa.ipc.open_stream(pa.py_buffer(frames[0]), options=_READ_OPTIONS) as reader:
            return reader.read_all()
    meta, body = frames[0], [memoryview(f) for f in frames[1:]]
    if any(_address(f) % FRAME_ALIGNMENT for f in body):
        body = [_aligned_copy(f) for f in body]
    return pickle.loads(meta, buffers=body)  # type: ignore[no-any-return]


def _address(frame: memoryview) -> int:
    if not frame.nbytes:
        return 0
    return int(np.frombuffer(frame, dtype=np.uint8).ctypes.data)


def _aligned_copy(frame: memoryview) -> Any:
    buffer = pa.allocate_buffer(frame.nbytes)  # from Arrow's pool: 64-byte aligned
    if frame.nbytes:
        np.frombuffer(buffer, dtype=np.uint8)[:] = np.frombuffer(frame, dtype=np.uint8)
    return buffer


def register_serializers() -> None:
    """Replace distributed's Arrow table (de)serializers with the aligned ones above."""
    from distributed.protocol.serialize import dask_deserialize, dask_serialize

    for family in (dask_serialize, dask_deserialize):
        family.dispatch(pa.Table)  # run distributed's lazy registration first
    dask_serialize.register(pa.Table)(serialize_table)
    dask_deserialize.register(pa.Table)(deserialize_table)


def register_sizeof() -> None:
    """Make ``dask.sizeof`` report :func:`sizeof_table` for Arrow tables.

    dask registers its own pyarrow sizeof lazily, on the first table it sees; the
    lazy registration is forced first so that ours is the one that stays.
    """
    from dask.sizeof import sizeof

    sizeof.dispatch(pa.Table)
    sizeof.register(pa.Table)(sizeof_table)


register_sizeof()
register_serializers()
