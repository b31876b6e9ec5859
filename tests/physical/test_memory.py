"""The plan's memory model: every task carries a working-memory estimate."""

from __future__ import annotations

import pytest

import spillframe as sf
from spillframe import col
from spillframe.api.execution import physical_plan
from spillframe.config import configure, get_config
from spillframe.physical.memory import INDEX_FACTOR, JOIN_FACTOR, SORT_FACTOR, SPLIT_FACTOR
from spillframe.physical.plan import Task, WorkingMemory


def _plan(df):
    return physical_plan(df._builder)


def _stage(plan, name):
    return next(s for s in plan.topological_stages() if s.name == name)


def _frame(n=20_000, parts=4):
    return sf.from_pydict(
        {"k": [i % 101 for i in range(n)], "s": [f"v{i:07d}" for i in range(n)]},
        num_partitions=parts,
    )


def test_every_built_in_task_reserves_working_memory():
    with configure(partition_bytes=64 << 10, broadcast_join_bytes=0):
        df = _frame()
        other = _frame(5_000, 2).with_column_renamed("s", "t")
        query = df.join(other, on="k").groupby("k").agg(col("s").max()).sort("k")
        plan = _plan(query)
    for stage in plan.topological_stages():
        for task in stage.tasks:
            assert task.reservation().memory_bytes > 0, f"{stage.name} reserves nothing"
    # A task's estimate is its factor times what it reads.
    split = _stage(plan, "hash-split")
    task = split.tasks[0]
    assert task.memory.factor == SPLIT_FACTOR
    assert task.reservation().memory_bytes == int(
        (task.memory.scan_bytes + task.memory.ref_bytes) * SPLIT_FACTOR
    )
    join = next(s for s in plan.topological_stages() if s.name.startswith("hash-join"))
    assert join.tasks[0].memory.factor >= JOIN_FACTOR
    assert join.tasks[0].memory.ref_bytes > 0  # it reads the buckets of both splits


def test_sort_tasks_hold_three_times_their_input():
    with configure(partition_bytes=64 << 10):
        plan = _plan(_frame().sort("s"))
    local = plan.output
    assert local.tasks[0].memory.factor == SORT_FACTOR
    planned = local.tasks[0].memory.ref_bytes
    assert 0 < planned <= plan.stages[local.tasks[0].refs()[0].stage_id].estimated_bytes


def test_a_udf_request_is_added_to_the_estimate():
    @sf.udf(return_dtype=sf.DataType.int64(), memory_bytes=3 << 20)
    def plus_one(x):
        return [v + 1 for v in x.to_pylist()]

    plan = _plan(_frame().with_column("j", plus_one(col("k"))))
    task = plan.output.tasks[0]
    assert task.resources.memory_bytes == 3 << 20  # the declared, hard part
    assert task.reservation().memory_bytes == (3 << 20) + task.memory.peak()
    assert task.memory.peak() > 0


def test_reservation_is_refined_from_actual_input_sizes():
    task = Task(len, (), "t", memory=WorkingMemory(scan_bytes=100, ref_bytes=1000, factor=2.0))
    assert task.reservation().memory_bytes == 2200
    assert task.reservation(ref_bytes=10).memory_bytes == 220


def test_explain_shows_the_per_task_estimate(capsys):
    with configure(partition_bytes=64 << 10):
        _frame().sort("s").explain(show_all=True)
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("Stage")]
    assert lines and all("per task: memory" in line for line in lines), out


@pytest.mark.parametrize("limit", [256 << 20, 4 << 30])
def test_py_runner_sizes_partitions_for_its_budget(limit):
    runner = sf.runners.py_runner.PyRunner(num_threads=2, memory_limit=limit)
    suggested = runner.planning_defaults()["partition_bytes"]
    # Two threads' sorts (three times their partition) fit half the budget.
    assert 2 * SORT_FACTOR * suggested <= limit / 2
    assert suggested <= 128 << 20


def test_a_key_join_is_sized_by_its_many_side_times_both_widths():
    # 20_000 rows joined with 5_000 one-per-key rows: 20_000 rows of both sides'
    # columns, more than the sum of the two inputs the estimate used to be.
    many = _frame(20_000, 4)
    one = sf.from_pydict(
        {"k": list(range(5_000)), "t": [f"w{i:07d}" for i in range(5_000)]}, num_partitions=2
    )
    with configure(partition_bytes=64 << 10, broadcast_join_bytes=0):
        plan = _plan(many.join(one, on="k"))
    join = next(s for s in plan.topological_stages() if s.name == "hash-join")
    sides = [plan.stages[i] for i in sorted({r.stage_id for r in join.tasks[0].refs()})]
    assert join.estimated_rows == 20_000
    left, right = sorted(sides, key=lambda s: -(s.estimated_rows or 0))
    widths = (
        left.estimated_bytes / left.estimated_rows + right.estimated_bytes / right.estimated_rows
    )
    assert join.estimated_bytes == pytest.approx(20_000 * widths, rel=0.01)
    assert join.estimated_bytes > left.estimated_bytes + right.estimated_bytes
    # The join's partitions are sized by its inputs, which its exchange moves.
    inputs = left.estimated_bytes + right.estimated_bytes
    with configure(partition_bytes=64 << 10):
        assert join.num_partitions == get_config().partitions_for(inputs)


def test_top_k_and_limit_reserve_for_their_rows_not_their_input():
    big = _frame(20_000, 4)
    with configure(partition_bytes=64 << 10):
        top = _plan(big.sort("s", desc=True).limit(10))
        agg_top = _plan(big.groupby("k").agg(col("s").max()).sort("s").limit(5))
        head = _plan(big.where(col("k") > 3).limit(7))
    # (a limit the consumer streams stops reading after k rows: the stage is the
    # partitions' local limits, k rows each)
    for plan, k in ((top, 10), (agg_top, 5), (head, 7 * 4)):
        out = plan.output
        assert out.estimated_rows == k
        assert out.estimated_bytes <= k * 100, out.estimated_bytes  # k rows of ~70 bytes
        assert out.tasks[0].reservation().memory_bytes < 1 << 20


def test_a_global_aggregation_reserves_for_one_row_per_partition():
    big = _frame(20_000, 4)
    with configure(partition_bytes=64 << 10):
        plan = _plan(big.agg(col("k").sum(), col("s").max()))
    final = plan.output
    (partial,) = [plan.stages[i] for i in {r.stage_id for r in final.tasks[0].refs()}]
    assert partial.estimated_rows == partial.num_partitions > 1
    assert final.estimated_rows == 1
    assert final.estimated_bytes <= 100
    assert final.tasks[0].reservation().memory_bytes < 1 << 20


def test_a_broadcast_side_counts_for_what_each_task_builds_over_it():
    """The fused broadcast join reads its small side as stored (the store budgets it):
    each task reserves its streamed input times the join factor, plus the index built
    over the small side (half its bytes at most), not three copies of it."""
    with configure(partition_bytes=64 << 10, broadcast_join_bytes=1 << 20):
        big = _frame(40_000, 4)
        small = sf.from_pydict(
            {"k": list(range(101)), "name": [f"n{i}" for i in range(101)]}, num_partitions=2
        )
        plan = _plan(big.join(small, on="k"))
    fused = next(s for s in plan.topological_stages() if "broadcast-join" in s.name)
    memory = fused.tasks[0].memory
    assert memory.held_bytes > 0 and memory.held_factor == INDEX_FACTOR
    streamed = memory.scan_bytes + memory.ref_bytes - memory.held_bytes
    assert fused.tasks[0].reservation().memory_bytes == int(
        streamed * memory.factor + memory.held_bytes * INDEX_FACTOR
    )
    # The small side's two partitions are combined once, by a stage of one task.
    (combine,) = [s for s in plan.topological_stages() if s.name == "broadcast-combine"]
    assert combine.num_partitions == 1


def test_held_inputs_larger_than_planned_count_as_streamed():
    memory = WorkingMemory(scan_bytes=0, ref_bytes=100, factor=3.0, held_bytes=100, held_factor=0.5)
    assert memory.peak() == 50
    assert memory.peak(40) == 20  # the held side came smaller
    assert memory.peak(300) == 50 + 200 * 3  # more than planned: the excess at 3x


def test_py_runner_broadcasts_indexed_sides_up_to_half_its_budget():
    runner = sf.runners.py_runner.PyRunner(num_threads=2, memory_limit=512 << 20)
    assert runner.planning_defaults()["broadcast_index_bytes"] == 256 << 20
