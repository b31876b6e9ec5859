"""Translate a spillframe PhysicalPlan into one Dask HighLevelGraph.

Every plan task becomes one Dask task keyed ``(f"{name}-{token}-{stage}", i)``:
``name`` is the operator word, so the dashboard's task prefixes read
``scan-parquet``, ``hash-split``, ``hash-join``...; ``token`` is unique per query;
the stage id keeps two stages of the same operator (the two sides of a join)
apart. A bucket ``j`` of a multi-output task ``i`` that some task reads becomes
a small task ``(f"{name}-bucket-{token}-{stage}", i, j)`` that selects it. Tasks
are ``dask.task_spec`` objects, so literal tuples in kernel arguments are never
mistaken for tasks or keys. One graph layer per (stage, resource annotation)
carries the ``resources`` annotation of the tasks that asked for some.

A task whose only input is the output of one other task, read by it alone (a
split after the join that feeds it, a projection after a join), runs inside that
reader's Dask task: one task instead of two, with no scheduler round trip and no
stored output in between. The fused task's key joins both operator words
(``broadcast-join-hash-split``); each plan task still reports its own stage's
progress and stats, and reserves the larger of the two reservations.

An exchange's splits run in groups of up to :data:`SPLIT_GROUP` consecutive tasks, one
Dask task per group, whose buckets are concatenated bucket by bucket before they are
selected: ``n`` splits into ``B`` buckets make ``n / k`` times ``B`` bucket tasks
instead of ``n`` times ``B``. Distributed spends about half a millisecond per task on
its scheduler and workers, data or not: 80 splits into 120 buckets, 9,800 tasks of
no data, took 4.9 s on 2 one-thread workers, 20 splits 1.5 s. A stage is grouped when
every task that reads it reads bucket ``j`` of all its splits, in order, as one list
(a join, a final aggregation, a local sort), when it has at least twice as many groups
as the cluster has threads, and at most :data:`SPLIT_GROUP_BYTES` reserved per group.

Final partitions stream back in order, so each task gets the user priority
``-i`` of the first output partition ``i`` that needs it: partition 0's work
runs first, and a consumer that stops early (``show``, ``limit``) leaves the
later partitions' work unstarted. Tasks every partition needs (the splits of
an exchange) share priority 0 and keep Dask's own memory-aware order; bucket
selection outranks everything.

A task that reads buckets of an exchange (a join, a final aggregation, a local sort)
becomes ready as soon as the exchange's splits are done. Distributed hands every ready
task to a worker at once, unless it is a root task, and a worker fetches the inputs of
every task it was handed, storing them until each task runs. The tasks of such a stage
with more tasks than twice the cluster's threads are therefore marked as data producers,
which distributed queues on the scheduler like root tasks: it hands a worker thread
its next one only when it has fewer than ``worker-saturation`` (1.1) tasks per thread,
so a worker holds the inputs of the task it runs and of the next one. Measured on
TPC-H SF1 lineitem joined with orders on 2 workers x 512 MiB (120 joins of 8 MiB
partitions): unqueued, each worker fetched the buckets of ~60 joins ahead (471 at a
time, 48 MiB in flight) and the peer unspilled them to send them; both copies were
spilled again, 2.4 disk writes per bucket, 3.9 GB spilled in all.

Distributed places a task on a worker that holds its inputs, so the partitions of a
broadcast join, whose only input is the small side, would all run where that side
was computed while the other workers idle. A task that reads other tasks' outputs,
in a stage of at most twice as many tasks as the cluster has threads, therefore
prefers worker thread ``i mod threads`` for its partition ``i`` (a loose
restriction: another worker takes it when that one is gone, or steals it when it
is busier), which also keeps a partition's successive tasks on one worker. Tasks
that read nothing, and larger stages, are left to distributed, which queues them
as root tasks: restricting them would hand them all to the workers at once.
Bucket selections may run on any worker (a loose restriction to all of them):
without it distributed takes a large group of buckets of few splits for root
tasks and runs them wherever a thread is free, moving each whole bucket list.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dask._task_spec import Task as DaskTask
from dask._task_spec import TaskRef as DaskTaskRef
from dask._task_spec import parse_input
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

from spillframe.physical.plan import PhysicalPlan, TaskRef
from spillframe.resources import ResourceRequest
from spillframe_dask.partitions import execute_kernel, merge_buckets, select_bucket

Key = tuple[Any, ...]
PlanKey = tuple[int, int]
BUCKET_PRIORITY = 1  # output partitions get 0, -1, -2...; bucket selection outranks them
#: Most consecutive split tasks of an exchange run as one Dask task (module docstring).
SPLIT_GROUP = 4
#: Most bytes the tasks of one such group reserve together (their plan estimates).
SPLIT_GROUP_BYTES = 128 << 20
# Maps a task's declared request and its reservation to Dask worker resources (None:
# no restriction); see spillframe_dask.resources.annotator.
Annotator = Callable[..., "dict[str, float] | None"]


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """What a Dask key stands for, to name it in errors."""

    name: str
    label: str
    stage_id: int
    partition: int
    bucket: int | None = None
    #: Plan tasks that run inside this one (their only reader), first to run first.
    fused: tuple[TaskInfo, ...] = ()

    def describe(self) -> str:
        """``operator 'hash-join' (stage 4, partition 7)``; a task that also ran its
        input adds ``, run with its input 'broadcast-join' of stage 3``."""
        what = f"operator {self.name!r}"
        if self.label and self.label != self.name:
            what += f" ({self.label})"
        where = f"stage {self.stage_id}, partition {self.partition}"
        if self.bucket is not None:
            where += f", bucket {self.bucket}"
        for info in self.fused:
            where += f", run with its input {info.name!r} of stage {info.stage_id}"
        return f"{what} ({where})"


@dataclass(frozen=True, slots=True)
class DaskGraph:
    """A plan translated for Dask: the graph, its output keys in order, key names."""

    graph: HighLevelGraph
    output_keys: list[Key]
    tasks: dict[Key, TaskInfo]
    token: str


def new_token() -> str:
    """A per-query token; it always holds a digit so ``key_split`` drops it."""
    return uuid.uuid4().hex[:15] + "0"


def task_key(name: str, token: str, stage_id: int, index: int) -> Key:
    return (f"{name}-{token}-{stage_id}", index)


def bucket_key(name: str, token: str, stage_id: int, index: int, bucket: int) -> Key:
    return (f"{name}-bucket-{token}-{stage_id}", index, bucket)


def fusable(plan: PhysicalPlan, needed: Sequence[PlanKey]) -> set[PlanKey]:
    """The needed tasks that run inside their reader's Dask task: single-output tasks
    read by exactly one argument of one task whose only input they are.

    Reading one input, the reader could not have started any sooner, so running both
    in one Dask task loses no parallelism; the output stage's tasks are never fused
    (each is a result the client gathers).
    """
    readers: dict[PlanKey, list[PlanKey]] = {}
    for key in needed:
        for ref in plan.task(key).refs():
            readers.setdefault(ref.key, []).append(key)
    fused = set()
    for key, by in readers.items():
        if len(by) != 1 or key[0] == plan.output_stage or plan.task(key).num_outputs != 1:
            continue
        reader = plan.task(by[0])
        if all(ref.key == key and ref.output is None for ref in reader.refs()):
            fused.add(key)
    return fused


def reads_buckets(plan: PhysicalPlan, stage_id: int) -> bool:
    """Whether the tasks of a stage read buckets of multi-output (split) tasks."""
    tasks = plan.stages[stage_id].tasks
    return bool(tasks) and any(ref.output is not None for ref in tasks[0].refs())


def _whole_bucket(value: Any, stage_id: int, size: int) -> int | None:
    """``j`` when ``value`` is the list of bucket ``j`` of every task of the stage, in
    order; else None."""
    if not isinstance(value, list) or len(value) != size or not value:
        return None
    first = value[0]
    if not isinstance(first, TaskRef) or first.output is None:
        return None
    for i, ref in enumerate(value):
        if not (
            isinstance(ref, TaskRef)
            and ref.stage_id == stage_id
            and ref.index == i
            and ref.output == first.output
        ):
            return None
    return first.output


def split_groups(plan: PhysicalPlan, needed: Sequence[PlanKey], threads: int) -> dict[int, int]:
    """``{stage: tasks per group}`` for the split stages whose tasks run in groups (see
    the module docstring); a stage absent runs one Dask task per split. Splits are
    never fused into a reader (:func:`fusable` takes single-output tasks only)."""
    sizes = {sid: plan.stages[sid].num_partitions for sid, _ in needed}
    candidates = {
        sid
        for sid, size in sizes.items()
        if size > 1 and plan.stages[sid].tasks[0].num_outputs > 1 and sid != plan.output_stage
    }

    def check(value: Any) -> None:
        # A whole-bucket list keeps its stage a candidate; any other reference drops it.
        if isinstance(value, list):
            for sid in list(candidates):
                if _whole_bucket(value, sid, sizes[sid]) is not None:
                    return
        if isinstance(value, TaskRef):
            candidates.discard(value.stage_id)
        elif isinstance(value, (tuple, list)):
            for v in value:
                check(v)

    for key in needed:
        for arg in plan.task(key).args:
            check(arg)
    groups = {}
    for sid in candidates:
        reserved = max(t.reservation().memory_bytes for t in plan.stages[sid].tasks)
        k = min(
            SPLIT_GROUP,
            sizes[sid] // (2 * max(1, threads)),
            SPLIT_GROUP_BYTES // max(1, reserved),
        )
        if k >= 2:
            groups[sid] = k
    return groups


def worker_slots(workers: Sequence[tuple[str, float]]) -> list[str]:
    """One entry per worker thread, ``[(address, threads), ...]`` -> addresses, sorted so
    that every query maps partition ``i`` to the same worker."""
    return [address for address, threads in sorted(workers) for _ in range(max(1, int(threads)))]


def build_graph(
    plan: PhysicalPlan,
    annotate: Annotator,
    token: str | None = None,
    workers: Sequence[tuple[str, float]] = (),
) -> DaskGraph:
    """Translate the tasks needed for ``plan``'s output into one Dask graph.

    Parameters
    ----------
    plan : PhysicalPlan
        The query's physical plan; only tasks reachable from its output are kept.
    annotate : callable
        ``ResourceRequest -> dict | None``: the Dask ``resources`` annotation.
    token : str, optional
        The per-query token in every key; a fresh one by default.
    workers : sequence of (address, threads), optional
        The cluster's workers: partition ``i`` of a small stage that reads other
        tasks prefers thread ``i mod threads`` of them (see the module docstring).
        With fewer than two workers distributed places every task itself.
    """
    return _GraphBuilder(plan, annotate, token or new_token(), workers).build()


class _GraphBuilder:
    """The state of one translation (see :func:`build_graph`)."""

    def __init__(
        self,
        plan: PhysicalPlan,
        annotate: Annotator,
        token: str,
        workers: Sequence[tuple[str, float]],
    ) -> None:
        self.plan = plan
        self.annotate = annotate
        self.token = token
        slots = worker_slots(workers)
        self.slots = slots if len(set(slots)) > 1 else []
        self.addresses = sorted(set(slots))
        self.needed = plan.reachable()
        self.fused = fusable(plan, self.needed)
        threads = sum(threads for _, threads in workers) or 1
        self.groups = split_groups(plan, sorted(self.needed), int(threads))
        # The Dask tasks of the splits of a group not yet complete, by (stage, group).
        self.members: dict[tuple[int, int], list[DaskTask]] = {}
        # -i for the first output partition i that needs the task (partition 0 runs first).
        self.priority = {key: -index for key, index in plan.first_output().items()}
        # One reservation per stage, its largest task's (one graph layer per annotation).
        self.reservations = {
            sid: functools.reduce(
                ResourceRequest.max, (t.reservation() for t in plan.stages[sid].tasks)
            )
            for sid in {sid for sid, _ in self.needed}
        }
        self.infos: dict[Key, TaskInfo] = {}
        self.layers: dict[str, dict[Key, DaskTask]] = {}
        self.annotations: dict[str, dict[str, Any]] = {}
        self.priorities: dict[str, dict[Key, int]] = {}
        self.placement: dict[str, dict[Key, list[str]]] = {}
        self.deps: dict[str, set[str]] = {}
        self.key_layer: dict[Key, str] = {}
        # For each fused plan task: its Dask task (nested in its reader's), the operator
        # words and infos of its chain, and what the chain declares and reserves.
        self.inner: dict[PlanKey, DaskTask] = {}
        self.words: dict[PlanKey, tuple[str, ...]] = {}
        self.chain_infos: dict[PlanKey, tuple[TaskInfo, ...]] = {}
        self.declared: dict[PlanKey, ResourceRequest] = {}
        self.reserved: dict[PlanKey, ResourceRequest] = {}

    def build(self) -> DaskGraph:
        # Plan stages are numbered so that a stage follows the stages it reads.
        for key in sorted(self.needed):
            self._add(key)
        for name, by_key in self.priorities.items():
            # A bound dict lookup pickles with its dict: Dask calls it once per key.
            self.annotations.setdefault(name, {})["priority"] = by_key.__getitem__
        for name, by_key in self.placement.items():
            self.annotations.setdefault(name, {}).update(
                workers=by_key.get, allow_other_workers=True
            )
        graph = HighLevelGraph(
            {
                name: MaterializedLayer(tasks, annotations=self.annotations.get(name))
                for name, tasks in self.layers.items()
            },
            {name: self.deps.get(name, set()) - {name} for name in self.layers},
        )
        output = self.plan.output
        outputs = [self._key((output.id, i)) for i in range(output.num_partitions)]
        return DaskGraph(graph, outputs, self.infos, self.token)

    def _word(self, key: PlanKey) -> str:
        """The operator word(s) of the Dask task that computes plan task ``key``."""
        return "-".join(self.words[key])

    def _key(self, key: PlanKey) -> Key:
        return task_key(self._word(key), self.token, *key)

    def _ref_key(self, ref: TaskRef) -> Key:
        task = self.plan.task(ref.key)
        word = self._word(ref.key)
        if task.num_outputs == 1 or ref.output is None:
            return self._key(ref.key)
        key = bucket_key(word, self.token, ref.stage_id, ref.index, ref.output)
        # Of a grouped stage, ``ref.index`` is a group's (see _arg).
        grouped = ref.stage_id in self.groups
        parent = self._group_key(*ref.key) if grouped else self._key(ref.key)
        if key not in self.infos:
            layer = f"{word}-bucket-{self.token}-{ref.stage_id}"
            self.layers.setdefault(layer, {})[key] = DaskTask(
                key, select_bucket, DaskTaskRef(parent), ref.output
            )
            # Above every other task: selecting the buckets as soon as the split is
            # done frees the list, whose bytes the worker would otherwise count (and
            # spill) twice, once in the list and once in each bucket.
            self.priorities.setdefault(layer, {})[key] = BUCKET_PRIORITY
            if self.addresses:
                self.annotations[layer] = {
                    "workers": self.addresses,
                    "allow_other_workers": True,
                }
            self.deps.setdefault(layer, set()).add(self.key_layer[parent])
            self.key_layer[key] = layer
            self.infos[key] = TaskInfo(task.name, task.label, ref.stage_id, ref.index, ref.output)
        return key

    def _queued(self, stage_id: int) -> bool:
        """Whether distributed should queue the tasks of a stage (module docstring):
        it reads an exchange's buckets and has more tasks than twice the threads."""
        size = self.plan.stages[stage_id].num_partitions
        return (
            bool(self.slots) and size > 2 * len(self.slots) and reads_buckets(self.plan, stage_id)
        )

    def _arg(self, value: Any) -> Any:
        """Replace plan TaskRefs in nested tuples/lists by Dask task references, or by
        the Dask task of a fused input."""
        if isinstance(value, TaskRef):
            if value.key in self.fused:
                return self.inner[value.key]
            return DaskTaskRef(self._ref_key(value))
        if isinstance(value, tuple):
            return tuple(self._arg(v) for v in value)
        if isinstance(value, list):
            for sid, k in self.groups.items():
                size = self.plan.stages[sid].num_partitions
                j = _whole_bucket(value, sid, size)
                if j is not None:  # bucket j of each group of splits, in order
                    return [
                        DaskTaskRef(self._ref_key(TaskRef(sid, g, j))) for g in range(-(-size // k))
                    ]
            return [self._arg(v) for v in value]
        return value

    def _group_key(self, stage_id: int, group: int) -> Key:
        word = self._word((stage_id, group * self.groups[stage_id]))
        return task_key(word, self.token, stage_id, group)

    def _add_to_group(self, key: PlanKey, node: DaskTask, layer: str) -> None:
        """Keep a grouped split's task for its group's; add the group's once complete."""
        stage_id, index = key
        k, size = self.groups[stage_id], self.plan.stages[stage_id].num_partitions
        group = index // k
        members = self.members.setdefault((stage_id, group), [])
        members.append(node)
        if len(members) < min(k, size - group * k):
            return
        del self.members[(stage_id, group)]
        group_key = self._group_key(stage_id, group)
        task = self.plan.task(key)
        producer = any(m.data_producer for m in members)
        node = DaskTask(group_key, merge_buckets, *members, _data_producer=producer)
        first = group * k
        priority = max(self.priority[(stage_id, i)] for i in range(first, first + len(members)))
        self.priorities.setdefault(layer, {})[group_key] = priority
        self.layers.setdefault(layer, {})[group_key] = node
        self.deps.setdefault(layer, set()).update(self.key_layer[d] for d in node.dependencies)
        self.key_layer[group_key] = layer
        self.infos[group_key] = TaskInfo(task.name, task.label, stage_id, first)

    def _add(self, key: PlanKey) -> None:
        stage_id, index = key
        task = self.plan.task(key)
        inputs = [ref.key for ref in task.refs() if ref.key in self.fused]
        words: list[str] = []
        for part in (*(self.words[k] for k in dict.fromkeys(inputs)), (task.name,)):
            words.extend(w for w in part if not words or words[-1] != w)
        self.words[key] = tuple(words)
        declared, reserved = task.resources, self.reservations[stage_id]
        chain: tuple[TaskInfo, ...] = ()
        for k in dict.fromkeys(inputs):
            declared = declared.max(self.declared[k])
            reserved = reserved.max(self.reserved[k])
            chain += self.chain_infos[k]
        info = TaskInfo(task.name, task.label, stage_id, index)
        # Each plan task reports under its own (stage's) key, fused or not.
        report = task_key(task.name, self.token, stage_id, index)
        args = [parse_input(self._arg(arg)) for arg in task.args]
        dask_key = self._key(key)
        if stage_id in self.groups:
            # Runs inside its group's task (the graph key), never on its own; a group
            # holds the buckets of all its splits.
            dask_key = (*dask_key, "member")
            per_group = self.groups[stage_id]
            reserved = ResourceRequest(
                reserved.num_cpus, reserved.num_gpus, reserved.memory_bytes * per_group
            )
        # The stages of every plan task that runs in this Dask task.
        stages = {stage_id, *(i.stage_id for k in inputs for i in self.chain_infos[k])}
        queued = any(map(self._queued, stages))
        node = DaskTask(
            dask_key,
            execute_kernel,
            task.kernel,
            task.num_outputs,
            task.resources.memory_bytes,
            (task.name, stage_id, index),
            *args,
            report_key=report,
            memory=task.memory,
            _data_producer=queued,
        )
        if key in self.fused:
            self.inner[key] = node
            self.declared[key], self.reserved[key] = declared, reserved
            self.chain_infos[key] = (*chain, info)
            return
        resources = self.annotate(declared, reserved)
        layer = f"{self._word(key)}-{self.token}-{stage_id}"
        if resources:
            layer += "-" + "-".join(f"{k}{v}" for k, v in sorted(resources.items()))
            self.annotations[layer] = {"resources": resources}
        if stage_id in self.groups:
            self._add_to_group(key, node, layer)
            return
        self.priorities.setdefault(layer, {})[dask_key] = self.priority[key]
        size = self.plan.stages[stage_id].num_partitions
        if node.dependencies and self.slots and 1 < size <= 2 * len(self.slots):
            slot = self.slots[index % len(self.slots)]
            self.placement.setdefault(layer, {})[dask_key] = [slot]
        self.layers.setdefault(layer, {})[dask_key] = node
        self.deps.setdefault(layer, set()).update(self.key_layer[d] for d in node.dependencies)
        self.key_layer[dask_key] = layer
        self.infos[dask_key] = TaskInfo(task.name, task.label, stage_id, index, fused=chain)
