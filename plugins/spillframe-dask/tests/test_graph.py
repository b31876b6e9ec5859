"""Plan -> Dask graph translation (no cluster needed)."""

from __future__ import annotations

import dask
import sfdask_kernels as k
from dask.utils import key_split
from spillframe_dask.graph import build_graph, fusable, new_token
from spillframe_dask.resources import WorkerCapacity, annotator

from spillframe.physical.plan import (
    PhysicalPlan,
    ResourceRequest,
    StageBuilder,
    Task,
    TaskRef,
    WorkingMemory,
)


def no_resources(*requests):
    return None


def test_keys_carry_operator_words_and_per_query_token():
    plan = k.shuffle_plan(parts=2, buckets=2)
    graph = build_graph(plan, no_resources, token="abc123")
    keys = list(graph.graph.to_dict())
    # Each scan is read by its split alone: the split's Dask task runs it too.
    assert {key_split(key) for key in keys} == {
        "scan-range-hash-split",
        "scan-range-hash-split-bucket",
        "concat-buckets",
    }
    assert all("abc123" in key[0] for key in keys)
    assert graph.output_keys == [("concat-buckets-abc123-2", 0), ("concat-buckets-abc123-2", 1)]


def test_a_task_read_by_one_task_alone_runs_inside_it():
    plan = k.shuffle_plan(parts=3, buckets=2)
    graph = build_graph(plan, no_resources, token="f0")
    splits = [key for key in graph.graph.to_dict() if key_split(key) == "scan-range-hash-split"]
    assert sorted(splits) == [("scan-range-hash-split-f0-1", i) for i in range(3)]
    assert fusable(plan, plan.reachable()) == {(0, 0), (0, 1), (0, 2)}
    info = graph.tasks[("scan-range-hash-split-f0-1", 2)]
    assert info.describe() == (
        "operator 'hash-split' (stage 1, partition 2, run with its input 'scan-range' of stage 0)"
    )
    # The fused task computes the same buckets as the two tasks did.
    expected = k.split_by_y(k.make_range(*plan.stages[0].tasks[2].args), 2)
    assert [t.equals(e) for t, e in zip(dask.get(graph.graph, splits[2]), expected)] == [1, 1]


def test_tasks_with_several_readers_or_inputs_are_not_fused():
    b = StageBuilder()
    left = b.add("scan-range", [Task(k.make_range, (0, 5), "scan-range")])
    right = b.add("scan-range", [Task(k.make_range, (5, 9), "scan-range")])
    both = b.add("concat", [Task(k.concat, (TaskRef(left.id, 0), TaskRef(right.id, 0)), "concat")])
    twice = b.add("concat", [Task(k.concat, (TaskRef(both.id, 0), TaskRef(both.id, 0)), "concat")])
    plan = PhysicalPlan(b.stages, twice.id)
    assert fusable(plan, plan.reachable()) == set()
    assert len(build_graph(plan, no_resources).graph.to_dict()) == 4


def test_a_fused_task_declares_and_reserves_the_larger_request():
    capacity = WorkerCapacity("tcp://w", 2, 0, 2**30, frozenset({"CPU", "GPU", "MEMORY"}))
    b = StageBuilder()
    udf = ResourceRequest(num_cpus=2, memory_bytes=2**20)
    scan = b.add(
        "udf-score", [Task(k.make_range, (0, 10), "udf-score", resources=udf, label="score")]
    )
    out = b.add(
        "filter",
        [Task(k.concat, (TaskRef(scan.id, 0),), "filter", memory=WorkingMemory(0, 3 << 20, 1.0))],
    )
    graph = build_graph(PhysicalPlan(b.stages, out.id), annotator([capacity]))
    (layer,) = graph.graph.layers.values()
    assert layer.annotations["resources"] == {"CPU": 2.0, "MEMORY": 3 << 20}


def test_partitions_prefer_a_worker_thread_each():
    plan = k.shuffle_plan(parts=4, buckets=4)
    workers = [("tcp://b:2", 1), ("tcp://a:1", 1)]
    graph = build_graph(plan, no_resources, token="w0", workers=workers)
    placed = {key: workers_of(layer, key) for layer in graph.graph.layers.values() for key in layer}
    # Output partition j reads buckets from every split: it prefers thread j mod 2.
    assert [placed[key] for key in graph.output_keys] == [["tcp://a:1"], ["tcp://b:2"]] * 2
    # Tasks that read nothing stay distributed's root tasks (queued, unrestricted).
    assert all(placed[key] is None for key in placed if key_split(key) == "scan-range-hash-split")
    # Bucket selection may run on any worker: never taken for a root task.
    buckets = [key for key in placed if key_split(key).endswith("-bucket")]
    assert len(buckets) == 16
    assert all(placed[key] == ["tcp://a:1", "tcp://b:2"] for key in buckets)


def test_large_stages_and_single_worker_clusters_are_left_to_distributed():
    plan = k.shuffle_plan(parts=4, buckets=8)
    two = build_graph(plan, no_resources, workers=[("tcp://a:1", 1), ("tcp://b:2", 1)])
    # 8 output partitions on 2 threads: distributed queues them when they share inputs.
    assert all(workers_of(two.graph.layers[key[0]], key) is None for key in two.output_keys)
    one = build_graph(k.shuffle_plan(parts=4, buckets=2), no_resources, workers=[("tcp://a:1", 2)])
    assert all(workers_of(one.graph.layers[key[0]], key) is None for key in one.output_keys)


def workers_of(layer, key):
    """The worker restriction a layer's annotations give ``key`` (None: none); a
    restricted task must be loosely restricted."""
    workers = (layer.annotations or {}).get("workers")
    if callable(workers):
        workers = workers(key)
    if workers is not None:
        assert layer.annotations["allow_other_workers"] is True
    return workers


def test_bucket_tasks_only_for_read_outputs():
    b = StageBuilder()
    scan = b.add("scan-range", [Task(k.make_range, (0, 10), "scan-range")])
    split = b.add(
        "hash-split", [Task(k.split_by_y, (TaskRef(scan.id, 0), 4), "hash-split", num_outputs=4)]
    )
    out = b.add("take-bucket", [Task(k.concat, (TaskRef(split.id, 0, output=2),), "take-bucket")])
    graph = build_graph(PhysicalPlan(b.stages, out.id), no_resources, token="t0")
    buckets = [key for key in graph.graph.to_dict() if key_split(key).endswith("split-bucket")]
    assert buckets == [("scan-range-hash-split-bucket-t0-1", 0, 2)]
    assert (
        graph.tasks[buckets[0]].describe()
        == "operator 'hash-split' (stage 1, partition 0, bucket 2)"
    )


def test_two_stages_with_one_operator_word_do_not_collide():
    b = StageBuilder()
    left = b.add("scan-range", [Task(k.make_range, (0, 5), "scan-range")])
    right = b.add("scan-range", [Task(k.make_range, (5, 9), "scan-range")])
    out = b.add("concat", [Task(k.concat, (TaskRef(left.id, 0), TaskRef(right.id, 0)), "concat")])
    graph = build_graph(PhysicalPlan(b.stages, out.id), no_resources)
    assert len(graph.graph.to_dict()) == 3


def test_unreachable_tasks_are_left_out():
    b = StageBuilder()
    b.add("scan-range", [Task(k.make_range, (0, 5), "scan-range")])
    out = b.add("scan-other", [Task(k.make_range, (0, 5), "scan-other")])
    graph = build_graph(PhysicalPlan(b.stages, out.id), no_resources)
    assert {key_split(key) for key in graph.graph.to_dict()} == {"scan-other"}


def test_resource_requests_become_layer_annotations():
    capacity = WorkerCapacity("tcp://w", 2, 0, 2**30, frozenset({"CPU", "GPU", "MEMORY"}))
    request = ResourceRequest(num_cpus=1, memory_bytes=2**20)
    plan = k.single_stage_plan(k.make_range, [(0, 3), (3, 6)], name="udf-score", resources=request)
    graph = build_graph(plan, annotator([capacity]))
    annotations = [layer.annotations["resources"] for layer in graph.graph.layers.values()]
    assert annotations == [{"CPU": 1.0, "MEMORY": 2**20}]


def test_tasks_are_prioritised_by_the_first_output_partition_that_needs_them():
    plan = k.shuffle_plan(parts=2, buckets=3)
    graph = build_graph(plan, no_resources, token="p0")
    priority = {
        key: layer.annotations["priority"](key)
        for layer in graph.graph.layers.values()
        for key in layer
    }
    by_prefix = {}
    for key, value in priority.items():
        by_prefix.setdefault(key_split(key), set()).add(value)
    # Every split feeds output 0; the outputs themselves run in order.
    assert by_prefix["scan-range-hash-split"] == {0}
    assert by_prefix["concat-buckets"] == {0, -1, -2}
    # Bucket selection runs as soon as its split does, freeing the bucket list.
    assert by_prefix["scan-range-hash-split-bucket"] == {1}


def test_default_requests_are_not_annotated_on_one_thread_workers():
    capacity = WorkerCapacity("tcp://w", 1, 0, 2**30, frozenset({"CPU", "GPU", "MEMORY"}))
    estimate = ResourceRequest(memory_bytes=2**20)
    assert annotator([capacity])(ResourceRequest(), estimate) is None
    # A cluster that declares no MEMORY resource: reserving it would hang forever.
    bare = WorkerCapacity("tcp://w", 2, 0, 2**30, frozenset())
    assert annotator([bare])(ResourceRequest(memory_bytes=10)) is None


def test_tokens_differ_and_are_dropped_by_key_split():
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(key_split(f"hash-join-{t}-3") == "hash-join" for t in tokens)


def test_workers_running_several_tasks_reserve_the_estimates():
    capacity = WorkerCapacity("tcp://w", 2, 0, 2**30, frozenset({"CPU", "MEMORY"}))
    annotate = annotator([capacity])
    assert annotate(ResourceRequest(), ResourceRequest(memory_bytes=2**20)) == {
        "CPU": 1.0,
        "MEMORY": 2**20,
    }
    # An estimate above every worker is capped: the task runs alone, out of core.
    assert annotate(ResourceRequest(), ResourceRequest(memory_bytes=2**40))["MEMORY"] == 2**30


def test_a_plan_task_reserves_its_stage_estimate_in_the_graph():
    capacity = WorkerCapacity("tcp://w", 2, 0, 2**30, frozenset({"CPU", "MEMORY"}))
    b = StageBuilder()
    tasks = [
        Task(k.make_range, (0, n), "scan-range", memory=WorkingMemory(n, 0, 2.0))
        for n in (1000, 3000)
    ]
    out = b.add("scan-range", tasks)
    graph = build_graph(PhysicalPlan(b.stages, out.id), annotator([capacity]))
    annotations = [layer.annotations["resources"] for layer in graph.graph.layers.values()]
    assert annotations == [{"CPU": 1.0, "MEMORY": 6000}]  # the stage's largest estimate


def test_large_stages_reading_an_exchange_are_queued_by_distributed():
    plan = k.shuffle_plan(parts=3, buckets=8)
    workers = [("tcp://a:1", 1), ("tcp://b:2", 1)]
    graph = build_graph(plan, no_resources, workers=workers)
    tasks = graph.graph.to_dict()
    # 8 bucket readers on 2 threads: data producers, which distributed queues on the
    # scheduler like root tasks instead of handing them all out at once.
    assert all(tasks[key].data_producer for key in graph.output_keys)
    assert not any(tasks[key].data_producer for key in tasks if key not in graph.output_keys)


def test_small_stages_and_one_worker_clusters_are_not_queued():
    workers = [("tcp://a:1", 1), ("tcp://b:2", 1)]
    small = build_graph(k.shuffle_plan(parts=3, buckets=4), no_resources, workers=workers)
    one = build_graph(k.shuffle_plan(parts=3, buckets=8), no_resources, workers=[("tcp://a", 2)])
    for graph in (small, one):
        assert not any(task.data_producer for task in graph.graph.to_dict().values())


def test_a_bucket_reader_fused_into_its_reader_makes_the_fused_task_queued():
    b = StageBuilder()
    scan = b.add("scan-range", [Task(k.make_range, (i, i + 9), "scan-range") for i in range(2)])
    split = b.add(
        "hash-split",
        [Task(k.split_by_y, (TaskRef(scan.id, i), 8), "hash-split", num_outputs=8) for i in (0, 1)],
    )
    refs = [[TaskRef(split.id, i, output=j) for i in (0, 1)] for j in range(8)]
    join = b.add("concat-buckets", [Task(k.concat_list, (r,), "concat-buckets") for r in refs])
    project = b.add(
        "project", [Task(k.concat, (TaskRef(join.id, j),), "project") for j in range(8)]
    )
    graph = build_graph(
        PhysicalPlan(b.stages, project.id), no_resources, token="f1", workers=[("a", 1), ("b", 1)]
    )
    tasks = graph.graph.to_dict()
    assert graph.output_keys[0] == ("concat-buckets-project-f1-3", 0)
    assert all(tasks[key].data_producer for key in graph.output_keys)


def test_splits_run_in_groups_whose_buckets_hold_every_split_in_order(dask_runner):
    workers = [("tcp://a:1", 1), ("tcp://b:2", 1)]
    plan = k.shuffle_plan(rows=1000, parts=9, buckets=4)
    graph = build_graph(plan, no_resources, token="g0", workers=workers)
    keys = list(graph.graph.to_dict())
    # 9 splits on 2 threads: groups of 2 (at least twice as many groups as threads).
    splits = sorted(key for key in keys if key_split(key) == "scan-range-hash-split")
    assert splits == [("scan-range-hash-split-g0-1", g) for g in range(5)]
    buckets = [key for key in keys if key_split(key) == "scan-range-hash-split-bucket"]
    assert len(buckets) == 5 * 4  # instead of 9 * 4
    assert graph.tasks[splits[4]].describe() == "operator 'hash-split' (stage 1, partition 8)"
    # On the session's cluster (2 x 1 thread, grouped the same): bucket j of every
    # split, in the splits' order.
    got = list(dask_runner.run(plan))
    scans = [k.make_range(*task.args) for task in plan.stages[0].tasks]
    want = [k.concat_list([k.split_by_y(scan, 4)[j] for scan in scans]) for j in range(4)]
    assert [g.equals(w) for g, w in zip(got, want, strict=True)] == [True] * 4


def test_splits_read_other_than_as_whole_buckets_are_not_grouped():
    b = StageBuilder()
    scan = b.add("scan-range", [Task(k.make_range, (i, i + 5), "scan-range") for i in range(8)])
    split = b.add(
        "hash-split",
        [
            Task(k.split_by_y, (TaskRef(scan.id, i), 2), "hash-split", num_outputs=2)
            for i in range(8)
        ],
    )
    # Bucket 0 of every split as one list, but bucket 1 of split 3 alone.
    out = b.add(
        "concat",
        [
            Task(k.concat_list, ([TaskRef(split.id, i, output=0) for i in range(8)],), "concat"),
            Task(k.concat, (TaskRef(split.id, 3, output=1),), "concat"),
        ],
    )
    graph = build_graph(PhysicalPlan(b.stages, out.id), no_resources, token="n0")
    splits = [key for key in graph.graph.to_dict() if key_split(key) == "scan-range-hash-split"]
    assert len(splits) == 8
