"""Top-level kernels and plan builders for the Dask runner's tests.

Workers unpickle kernels by module name; pytest puts this directory on
``sys.path`` and spawned worker processes inherit it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from spillframe.physical.plan import PhysicalPlan, ResourceRequest, StageBuilder, Task, TaskRef


def make_range(start: int, stop: int) -> pa.Table:
    """Rows ``x = start..stop-1`` with ``y = x % 7``."""
    x = pa.array(range(start, stop), pa.int64())
    return pa.table({"x": x, "y": pc.bit_wise_and(x, 7)})


def make_bytes(nbytes: int, seed: int) -> pa.Table:
    """A table of about ``nbytes`` of int64s."""
    n = nbytes // 8
    return pa.table({"v": pa.array(range(seed, seed + n), pa.int64())})


def split_by_y(table: pa.Table, buckets: int) -> list[pa.Table]:
    """Hash-split stand-in: bucket ``y % buckets``, as slices of one sorted table."""
    ordered = table.sort_by("y")
    keys = pc.bit_wise_and(ordered["y"], buckets - 1) if buckets & (buckets - 1) == 0 else None
    if keys is None:
        raise ValueError("buckets must be a power of two")
    return [ordered.filter(pc.equal(keys, b)) for b in range(buckets)]


def split_slices(table: pa.Table, buckets: int) -> list[pa.Table]:
    """Round-robin stand-in that returns zero-copy slices of the input."""
    step = -(-table.num_rows // buckets)
    return [table.slice(i * step, step) for i in range(buckets)]


def concat(*tables: pa.Table) -> pa.Table:
    return pa.concat_tables(tables)


def concat_list(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables)


def head_slice(table: pa.Table, n: int) -> pa.Table:
    return table.slice(0, n)


def sleep_then(table: pa.Table, seconds: float, marker_dir: str, index: int) -> pa.Table:
    """Sleep, then leave a marker file saying this partition ran."""
    time.sleep(seconds)
    Path(marker_dir, f"ran-{index}").touch()
    return table


def exit_once(marker: str, *tables: pa.Table) -> pa.Table:
    """Kill the worker process the first time (no marker yet), succeed after."""
    path = Path(marker)
    if not path.exists():
        path.touch()
        os._exit(1)
    return pa.concat_tables(tables)


def killed_once_plan(marker: str) -> tuple[PhysicalPlan, int]:
    """Four range scans read by one ``exit-once`` task that kills its worker the first
    time (see :func:`exit_once`); returns the plan and that task's stage id."""
    b = StageBuilder()
    scan = b.add(
        "scan-range", [Task(make_range, (i * 100, (i + 1) * 100), "scan-range") for i in range(4)]
    )
    kill = b.add(
        "exit-once",
        [Task(exit_once, (marker, *[TaskRef(scan.id, i) for i in range(4)]), "exit-once")],
    )
    return PhysicalPlan(b.stages, kill.id, name="killed-worker"), kill.id


def exit_always(table: pa.Table) -> pa.Table:
    os._exit(1)


def count_rows(*tables: pa.Table) -> pa.Table:
    return pa.table({"rows": [sum(t.num_rows for t in tables)]})


def shuffle_plan(
    rows: int = 1000, parts: int = 4, buckets: int = 4, name: str = "shuffle-test"
) -> PhysicalPlan:
    """scan -> hash-split (multi-output) -> concat-buckets: every row once."""
    b = StageBuilder()
    step = rows // parts
    scan = b.add(
        "scan-range",
        [Task(make_range, (i * step, (i + 1) * step), "scan-range") for i in range(parts)],
    )
    split = b.add(
        "hash-split",
        [
            Task(split_by_y, (TaskRef(scan.id, i), buckets), "hash-split", num_outputs=buckets)
            for i in range(parts)
        ],
    )
    out = b.add(
        "concat-buckets",
        [
            Task(
                concat_list,
                ([TaskRef(split.id, i, output=j) for i in range(parts)],),
                "concat-buckets",
            )
            for j in range(buckets)
        ],
    )
    return PhysicalPlan(b.stages, out.id, name=name)


def single_stage_plan(
    kernel,
    args_per_task: list[tuple],
    name: str = "op",
    resources: ResourceRequest | None = None,
    label: str = "",
    plan_name: str = "query",
) -> PhysicalPlan:
    b = StageBuilder()
    stage = b.add(
        name,
        [
            Task(kernel, args, name, resources=resources or ResourceRequest(), label=label)
            for args in args_per_task
        ],
    )
    return PhysicalPlan(b.stages, stage.id, name=plan_name)


def report_restrictions(index: int) -> pa.Table:
    """The resource restrictions the worker applied to the running task."""
    from distributed import get_worker

    worker = get_worker()
    key = worker.get_current_task()
    restrictions = worker.state.tasks[key].resource_restrictions
    return pa.table(
        {
            "index": [index],
            "memory": [restrictions.get("MEMORY", 0)],
            "cpu": [restrictions.get("CPU", 0.0)],
        }
    )


def report_sizeof(nbytes: int) -> pa.Table:
    """What dask.sizeof says, on the worker, about a slice and its compact copy."""
    from dask.sizeof import sizeof
    from spillframe_dask.partitions import compact_table

    part = make_bytes(nbytes, 0).slice(0, 10)
    return pa.table({"slice": [sizeof(part)], "compact": [sizeof(compact_table(part))]})


def echo_literal(value: tuple) -> pa.Table:
    """The type and repr of each item of a literal tuple argument."""
    return pa.table(
        {
            "type": [type(v).__name__ for v in value],
            "repr": [repr(v) if not callable(v) else v.__name__ for v in value],
        }
    )


def fail_with(message: str) -> pa.Table:
    raise ValueError(message)


def exit_once_udf(marker: str):
    """A spillframe UDF that kills its worker the first time it runs."""
    import spillframe as sf

    @sf.udf(return_dtype=pa.int64())
    def double_or_die(x):
        path = Path(marker)
        if not path.exists():
            path.touch()
            os._exit(1)
        return pc.multiply(x.to_arrow(), 2)

    return double_or_die


def grant_limit(*inputs: Any) -> pa.Table:
    """The memory grant the running kernel sees, as a one-row table (``inputs`` unread)."""
    from spillframe.kernels.budget import current_grant

    grant = current_grant()
    return pa.table({"limit": [grant.limit if grant is not None else None]})
