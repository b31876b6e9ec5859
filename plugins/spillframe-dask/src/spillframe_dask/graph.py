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

Final partitions stream back in order, so each task gets the user priority
``-i`` of the first output partition ``i`` that needs it: partition 0's work
runs first, and a consumer that stops early (``show``, ``limit``) leaves the
later partitions' work unstarted. Tasks every partition needs (the splits of
an exchange) share priority 0 and keep Dask's own memory-aware order; bucket
selection outranks everything.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dask._task_spec import Task as DaskTask
from dask._task_spec import TaskRef as DaskTaskRef
from dask._task_spec import parse_input
from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

from spillframe.physical.plan import PhysicalPlan, TaskRef
from spillframe.resources import ResourceRequest
from spillframe_dask.partitions import execute_kernel, select_bucket

Key = tuple[Any, ...]
BUCKET_PRIORITY = 1  # output partitions get 0, -1, -2...; bucket selection outranks them
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

    def describe(self) -> str:
        """``operator 'hash-join' (stage 4, partition 7)``."""
        what = f"operator {self.name!r}"
        if self.label and self.label != self.name:
            what += f" ({self.label})"
        where = f"stage {self.stage_id}, partition {self.partition}"
        if self.bucket is not None:
            where += f", bucket {self.bucket}"
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


def build_graph(plan: PhysicalPlan, annotate: Annotator, token: str | None = None) -> DaskGraph:
    """Translate the tasks needed for ``plan``'s output into one Dask graph.

    Parameters
    ----------
    plan : PhysicalPlan
        The query's physical plan; only tasks reachable from its output are kept.
    annotate : callable
        ``ResourceRequest -> dict | None``: the Dask ``resources`` annotation.
    token : str, optional
        The per-query token in every key; a fresh one by default.
    """
    token = token or new_token()
    needed = plan.reachable()
    # -i for the first output partition i that needs the task (partition 0 runs first).
    priority = {key: -index for key, index in plan.first_output().items()}
    infos: dict[Key, TaskInfo] = {}
    layers: dict[str, dict[Key, DaskTask]] = {}
    annotations: dict[str, dict[str, Any]] = {}
    priorities: dict[str, dict[Key, int]] = {}
    deps: dict[str, set[str]] = {}
    key_layer: dict[Key, str] = {}

    def ref_key(ref: TaskRef) -> Key:
        stage = plan.stages[ref.stage_id]
        task = stage.tasks[ref.index]
        if task.num_outputs == 1 or ref.output is None:
            return task_key(task.name, token, ref.stage_id, ref.index)
        key = bucket_key(task.name, token, ref.stage_id, ref.index, ref.output)
        if key not in infos:
            layer = f"{task.name}-bucket-{token}-{ref.stage_id}"
            parent = task_key(task.name, token, ref.stage_id, ref.index)
            layers.setdefault(layer, {})[key] = DaskTask(
                key, select_bucket, DaskTaskRef(parent), ref.output
            )
            # Above every other task: selecting the buckets as soon as the split is
            # done frees the list, whose bytes the worker would otherwise count (and
            # spill) twice, once in the list and once in each bucket.
            priorities.setdefault(layer, {})[key] = BUCKET_PRIORITY
            deps.setdefault(layer, set()).add(key_layer[parent])
            key_layer[key] = layer
            infos[key] = TaskInfo(task.name, task.label, ref.stage_id, ref.index, ref.output)
        return key

    # One reservation per stage, its largest task's (one graph layer per annotation).
    reservations = {
        sid: functools.reduce(
            ResourceRequest.max, (t.reservation() for t in plan.stages[sid].tasks)
        )
        for sid in {sid for sid, _ in needed}
    }
    # Plan stages are numbered so that a stage follows the stages it reads.
    for stage_id, index in sorted(needed):
        task = plan.stages[stage_id].tasks[index]
        key = task_key(task.name, token, stage_id, index)
        reservation = reservations[stage_id]
        resources = annotate(task.resources, reservation)
        layer = f"{task.name}-{token}-{stage_id}"
        if resources:
            layer += "-" + "-".join(f"{k}{v}" for k, v in sorted(resources.items()))
            annotations[layer] = {"resources": resources}
        priorities.setdefault(layer, {})[key] = priority[(stage_id, index)]
        args = [parse_input(_translate(arg, ref_key)) for arg in task.args]
        layers.setdefault(layer, {})[key] = DaskTask(
            key,
            execute_kernel,
            task.kernel,
            task.num_outputs,
            reservation.memory_bytes,
            (task.name, stage_id, index),
            *args,
        )
        layer_deps = deps.setdefault(layer, set())
        layer_deps.update(key_layer[ref_key(ref)] for ref in task.refs())
        key_layer[key] = layer
        infos[key] = TaskInfo(task.name, task.label, stage_id, index)

    for name, by_key in priorities.items():
        # A bound dict lookup pickles with its dict: Dask calls it once per key.
        annotations.setdefault(name, {})["priority"] = by_key.__getitem__
    graph = HighLevelGraph(
        {
            name: MaterializedLayer(tasks, annotations=annotations.get(name))
            for name, tasks in layers.items()
        },
        {name: deps.get(name, set()) - {name} for name in layers},
    )
    output = plan.output
    outputs = [task_key(t.name, token, output.id, i) for i, t in enumerate(output.tasks)]
    return DaskGraph(graph, outputs, infos, token)


def _translate(value: Any, ref_key: Callable[[TaskRef], Key]) -> Any:
    """Replace plan TaskRefs in nested tuples/lists by Dask task references."""
    if isinstance(value, TaskRef):
        return DaskTaskRef(ref_key(value))
    if isinstance(value, tuple):
        return tuple(_translate(v, ref_key) for v in value)
    if isinstance(value, list):
        return [_translate(v, ref_key) for v in value]
    return value
