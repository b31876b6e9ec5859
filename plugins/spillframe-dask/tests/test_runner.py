"""The Dask runner on hand-built plans, on one session-wide LocalCluster."""

from __future__ import annotations

import time
import urllib.request

import pyarrow as pa
import pytest
import sfdask_kernels as k
from spillframe_dask.runner import DaskRunner

from spillframe.errors import ResourceError
from spillframe.physical.plan import PhysicalPlan, ResourceRequest, StageBuilder, Task, TaskRef

GIB = 1024**3


def test_shuffle_plan_streams_every_row_in_partition_order(dask_runner):
    parts = list(dask_runner.run(k.shuffle_plan(rows=1000, parts=4, buckets=4)))
    assert len(parts) == 4
    # Output partition j holds exactly bucket j (y % 4 == j) of every input.
    for j, part in enumerate(parts):
        assert set(part.column("y").to_pylist()) <= {j, j + 4}
    rows = sorted(x for part in parts for x in part.column("x").to_pylist())
    assert rows == list(range(1000))


def test_a_large_exchange_reader_stage_is_queued_on_the_scheduler(dask_runner, scheduler):
    started = time.time()
    parts = list(dask_runner.run(k.shuffle_plan(rows=4000, parts=4, buckets=8, name="queued")))
    assert sorted(x for part in parts for x in part.column("x").to_pylist()) == list(range(4000))

    def queued_partitions(s):
        return {
            key[1]
            for key, start, finish, *_, stamp in s.transition_log
            if stamp >= started
            and finish == "queued"
            and isinstance(key, tuple)
            and key[0].startswith("concat-buckets-")
        }

    # 8 partitions, 2 worker threads: the later ones waited on the scheduler for a
    # free worker thread instead of being handed out (and their inputs fetched) at once.
    assert len(scheduler(queued_partitions)) >= 4


def test_task_prefixes_are_operator_words_and_query_is_a_span(dask_runner, scheduler):
    list(dask_runner.run(k.shuffle_plan(name="prefix-query")))
    prefixes = set(scheduler(lambda s: list(s.task_prefixes)))
    # The scan runs inside its only reader's task, which is named by both words.
    assert {"scan-range-hash-split", "scan-range-hash-split-bucket", "concat-buckets"} <= prefixes
    spans = scheduler(lambda s: [sp.name for sp in s.extensions["spans"].spans.values()])
    assert ("prefix-query",) in spans


def test_dashboard_status_page_is_served(dask_runner):
    link = dask_runner.dashboard_link
    assert link.endswith("/status")
    with urllib.request.urlopen(link, timeout=10) as response:
        assert response.status == 200
        assert b"bokeh" in response.read().lower()


def test_literal_tuples_reach_kernels_unchanged(dask_runner):
    # A tuple shaped like a (legacy) task or a key must stay a literal.
    literal = (k.make_range, "scan-range", 0)
    plan = k.single_stage_plan(k.echo_literal, [(literal,)])
    (out,) = dask_runner.run(plan)
    assert out.to_pydict() == {
        "type": ["function", "str", "int"],
        "repr": ["make_range", "'scan-range'", "0"],
    }


def test_kernel_errors_keep_their_type(dask_runner):
    plan = k.single_stage_plan(k.fail_with, [("bad row 7",)])
    with pytest.raises(ValueError, match="bad row 7"):
        list(dask_runner.run(plan))


def test_request_no_worker_fits_fails_before_running(dask_runner):
    plan = k.single_stage_plan(
        k.make_range,
        [(0, 1)],
        name="udf-project",
        resources=ResourceRequest(memory_bytes=3 * GIB),
        label="score",
    )
    with pytest.raises(
        ResourceError,
        match=r"'score' requests 1 CPUs, 0 GPUs, 3.00 GiB.*largest worker "
        r"has tcp://.*: 1 CPUs, 0 GPUs, 1.00 GiB",
    ):
        dask_runner.run(plan)  # raised by run() itself, before any task is submitted


def test_gpu_request_on_cpu_cluster_fails(dask_runner):
    plan = k.single_stage_plan(
        k.make_range, [(0, 1)], name="udf-project", resources=ResourceRequest(num_gpus=1)
    )
    with pytest.raises(ResourceError, match="'udf-project' requests 1 CPUs, 1 GPUs"):
        dask_runner.run(plan)


def test_memory_request_becomes_a_worker_resource(dask_runner):
    request = ResourceRequest(num_cpus=1, memory_bytes=600 * 1024**2)
    plan = k.single_stage_plan(
        k.report_restrictions, [(i,) for i in range(3)], name="udf-project", resources=request
    )
    out = pa.concat_tables(dask_runner.run(plan))
    assert out.column("memory").to_pylist() == [600 * 1024**2] * 3
    assert out.column("cpu").to_pylist() == [1.0] * 3


def test_workers_report_compact_sizes(dask_runner):
    (out,) = dask_runner.run(k.single_stage_plan(k.report_sizeof, [(8 * 1024**2,)]))
    assert out.column("slice")[0].as_py() > 8 * 1024**2
    assert out.column("compact")[0].as_py() < 10_000


def test_closing_the_stream_early_cancels_the_rest(dask_runner, scheduler, tmp_path):
    n = 16
    b = StageBuilder()
    scan = b.add("scan-range", [Task(k.make_range, (i, i + 1), "scan-range") for i in range(n)])
    slow = b.add(
        "slow-op",
        [
            Task(k.sleep_then, (TaskRef(scan.id, i), 0.25, str(tmp_path), i), "slow-op")
            for i in range(n)
        ],
    )
    stream = dask_runner.run(PhysicalPlan(b.stages, slow.id, name="early-stop"))
    first = next(stream)
    assert first.column("x").to_pylist() == [0]
    stream.close()
    time.sleep(1.0)
    ran = len(list(tmp_path.glob("ran-*")))
    assert ran < n / 2, f"{ran} of {n} partitions ran after the consumer stopped"
    left = scheduler(lambda s: [key for key in s.tasks if "slow-op" in str(key)])
    assert left == []


def test_finished_outputs_leave_the_workers_before_the_consumer_reaches_them(
    dask_runner, scheduler, tmp_path
):
    """Partition 0 is slow; the others finish meanwhile and move to the driver (up to
    two per worker thread ahead), so no worker keeps them in its memory."""
    n = 8
    b = StageBuilder()
    scan = b.add("scan-range", [Task(k.make_range, (i, i + 1), "scan-range") for i in range(n)])
    tasks = [
        Task(
            k.sleep_then, (TaskRef(scan.id, i), 2.0 if i == 0 else 0.0, str(tmp_path), i), "wait-op"
        )
        for i in range(n)
    ]
    out = b.add("wait-op", tasks)
    stream = dask_runner.run(PhysicalPlan(b.stages, out.id, name="fetch-ahead"))
    first = next(stream)  # returns once the slow partition 0 is done
    held = scheduler(
        lambda s: sorted(
            key[1] for key, ts in s.tasks.items() if "wait-op" in str(key) and ts.state == "memory"
        )
    )
    ahead = 2 * len(dask_runner.workers())  # one thread per worker
    assert not set(range(1, ahead + 1)) & set(held), f"outputs still on the workers: {held}"
    rest = list(stream)
    assert [t.column("x").to_pylist() for t in [first, *rest]] == [[i] for i in range(n)]


def test_killed_worker_work_is_recomputed(dask_runner, tmp_path):
    marker = tmp_path / "killed-once"
    (out,) = dask_runner.run(k.killed_once_plan(str(marker))[0])
    assert marker.exists()  # the first attempt did kill its worker
    assert sorted(out.column("x").to_pylist()) == list(range(400))


def test_second_runner_connects_by_address_and_leaves_the_cluster_up(dask_runner):
    address = dask_runner.cluster.scheduler_address
    other = DaskRunner(address=address)
    try:
        parts = list(other.run(k.shuffle_plan(rows=100, parts=2, buckets=2)))
        assert sum(p.num_rows for p in parts) == 100
    finally:
        other.close()
    assert len(list(dask_runner.run(k.shuffle_plan(rows=100, parts=2, buckets=2)))) == 2


def test_closed_runner_refuses_queries(dask_runner):
    runner = DaskRunner(address=dask_runner.cluster.scheduler_address)
    runner.close()
    runner.close()  # idempotent
    with pytest.raises(RuntimeError, match="this dask runner is closed"):
        runner.run(k.shuffle_plan())


def test_memory_trimmer_runs_on_workers_above_its_threshold(dask_runner):
    from spillframe_dask.trim import MemoryTrimmer

    client = dask_runner.client
    # The runner's own trimmer (half the limit) stays idle on an idle 1 GiB worker.
    idle = client.run(lambda dask_worker: dask_worker.plugins["spillframe-memory-trimmer"].trims)
    assert set(idle.values()) == {0}
    client.register_plugin(MemoryTrimmer(fraction=0.01, poll=0.05), name="trim-test")
    try:
        deadline = time.monotonic() + 5
        while True:
            busy = client.run(lambda dask_worker: dask_worker.plugins["trim-test"].trims)
            if all(count > 0 for count in busy.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert all(count > 0 for count in busy.values()), busy
    finally:
        client.unregister_worker_plugin("trim-test")


def test_partitions_are_sized_for_the_workers(dask_runner):
    """1 GiB workers with one thread each: 16 MiB partitions (1/64 of the memory per
    thread), as many parallel tasks as worker threads; a user's setting wins."""
    import spillframe as sf
    from spillframe.api.execution import runner_config

    config = runner_config(dask_runner)
    assert config.partition_bytes == (1 << 30) // 64
    assert config.parallelism == 2
    with sf.config.configure(partition_bytes=1 << 20):
        assert runner_config(dask_runner).partition_bytes == 1 << 20


def test_a_cluster_without_workers_fails_instead_of_hanging():
    """Every worker gone and none back: after no_workers_timeout the query raises
    RunnerError naming the operator, instead of waiting forever."""
    import pytest
    from spillframe_dask.runner import DaskRunner

    import spillframe as sf
    from spillframe.errors import RunnerError
    from spillframe.runners.base import set_active_runner

    runner = DaskRunner(
        n_workers=1,
        threads_per_worker=1,
        memory_limit="512 MiB",
        no_workers_timeout=1.0,
        dashboard_address=None,
    )
    previous = set_active_runner(runner)
    try:
        runner.cluster.scale(0)
        deadline = time.monotonic() + 30
        while runner.workers() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not runner.workers()
        with pytest.raises(RunnerError, match="found no worker to run it for 1 s"):
            sf.from_pydict({"x": [1, 2, 3]}).where(sf.col("x") > 1).to_arrow()
    finally:
        set_active_runner(previous)
        runner.close()
