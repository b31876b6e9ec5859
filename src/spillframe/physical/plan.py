"""The one partitioned physical plan that every runner executes.

A :class:`PhysicalPlan` is a DAG of :class:`Stage` objects. A stage holds the
tasks of one operator, one :class:`Task` per output partition. A task is a
top-level, picklable, pure ``kernel`` called with ``args``; any argument that is
a :class:`TaskRef` (or a tuple/list of them, nested) is replaced by the output
of the referenced task before the call. A task with ``num_outputs > 1`` returns
a list of that many tables (the buckets of an exchange); a reference picks one
of them with ``TaskRef.output``.

Runners never re-plan and never look inside kernels: they resolve references,
call kernels, store outputs and stream the final stage's outputs in order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from spillframe.resources import ResourceRequest


@dataclass(frozen=True, slots=True)
class WorkingMemory:
    """The planner's estimate of a task's peak working memory (see
    :mod:`spillframe.physical.memory`): ``factor`` bytes per byte of input, where the
    input is ``scan_bytes`` read from files plus ``ref_bytes`` read from other tasks.

    The estimate is soft, unlike a UDF's declared ``memory_bytes``: a runner may
    refine it from the actual size of the referenced outputs (:meth:`peak`), and a
    task whose estimate exceeds every budget still runs, alone, with its kernel in
    its out-of-core form.
    """

    scan_bytes: int = 0
    ref_bytes: int = 0
    factor: float = 0.0
    #: Planned bytes, among ``ref_bytes``, of inputs the task reads whole and keeps as
    #: they are stored (a fused broadcast join's small side): they count
    #: ``held_factor`` times, for the index or hash table built over them, instead of
    #: ``factor`` times, since the store holds (and budgets) the table itself.
    held_bytes: int = 0
    held_factor: float = 0.0

    def peak(self, ref_bytes: int | None = None) -> int:
        """Estimated peak bytes; ``ref_bytes``: the actual size of the task's inputs
        that are outputs of other tasks (the planned size when None). Actual bytes
        beyond the planned held ones count as streamed input (the larger factor)."""
        refs = self.ref_bytes if ref_bytes is None else ref_bytes
        held = min(self.held_bytes, refs)
        return int((self.scan_bytes + refs - held) * self.factor + held * self.held_factor)


@dataclass(frozen=True, slots=True)
class TaskRef:
    """A reference to the output of task ``index`` of stage ``stage_id``.

    ``output`` selects one table of a multi-output task (an exchange bucket).
    """

    stage_id: int
    index: int
    output: int | None = None

    @property
    def key(self) -> tuple[int, int]:
        return (self.stage_id, self.index)


@dataclass(frozen=True, slots=True)
class Task:
    """One unit of work: ``kernel(*args)`` producing one partition (or buckets)."""

    kernel: Callable[..., Any]
    args: tuple[Any, ...]
    name: str
    resources: ResourceRequest = field(default_factory=ResourceRequest)
    num_outputs: int = 1
    # A label a runner may show for errors (the UDF or operator that asked for resources).
    label: str = ""
    #: The planner's working-memory estimate, added to ``resources`` by :meth:`reservation`.
    memory: WorkingMemory = field(default_factory=WorkingMemory)

    def reservation(self, ref_bytes: int | None = None) -> ResourceRequest:
        """What a runner reserves for this task: the declared ``resources`` (a UDF's
        request, a hard minimum) plus the working-memory estimate, refined from the
        actual bytes of its referenced inputs when ``ref_bytes`` is given."""
        r = self.resources
        return ResourceRequest(r.num_cpus, r.num_gpus, r.memory_bytes + self.memory.peak(ref_bytes))

    def refs(self) -> list[TaskRef]:
        """Every TaskRef in ``args``, in order (with repeats)."""
        return list(iter_refs(self.args))


@dataclass(slots=True)
class Stage:
    """The tasks of one operator over all partitions."""

    id: int
    name: str
    tasks: list[Task]
    estimated_bytes: int | None = None
    estimated_rows: int | None = None
    detail: str = ""

    @property
    def num_partitions(self) -> int:
        return len(self.tasks)

    @property
    def num_outputs(self) -> int:
        return self.tasks[0].num_outputs if self.tasks else 1


@dataclass(slots=True)
class PhysicalPlan:
    """A DAG of stages; ``output_stage`` holds the query's final partitions."""

    stages: dict[int, Stage]
    output_stage: int
    name: str = "query"
    # The consumer stops after this many rows; runners compute output partitions in
    # order so that work past the limit is never started.
    limit: int | None = None

    @property
    def output(self) -> Stage:
        return self.stages[self.output_stage]

    def num_partitions(self) -> int:
        return self.output.num_partitions

    def topological_stages(self) -> list[Stage]:
        """Stages in an order where every stage follows the stages it reads."""
        return [self.stages[i] for i in sorted(self.stages)]

    def dependents(self) -> dict[tuple[int, int], int]:
        """How many task arguments read each task output (for freeing outputs)."""
        counts: dict[tuple[int, int], int] = {}
        for stage in self.stages.values():
            for task in stage.tasks:
                for ref in task.refs():
                    counts[ref.key] = counts.get(ref.key, 0) + 1
        return counts

    def reachable(self, indices: list[int] | None = None) -> list[tuple[int, int]]:
        """Task keys needed to compute the given output partitions (all by default)."""
        wanted = range(self.output.num_partitions) if indices is None else indices
        stack = [(self.output_stage, i) for i in wanted]
        seen: set[tuple[int, int]] = set()
        while stack:
            key = stack.pop()
            if key in seen:
                continue
            seen.add(key)
            task = self.stages[key[0]].tasks[key[1]]
            stack.extend(ref.key for ref in task.refs())
        return sorted(seen)

    def first_output(self) -> dict[tuple[int, int], int]:
        """For each needed task, the first output partition that depends on it.

        Runners schedule by it: partition 0's work first, so a consumer that stops
        early (``show``, ``limit``) leaves later partitions' work unstarted.
        """
        first: dict[tuple[int, int], int] = {}
        for index in range(self.output.num_partitions):
            stack = [(self.output_stage, index)]
            while stack:
                key = stack.pop()
                if key in first:
                    continue  # claimed by an earlier partition, with all it reads
                first[key] = index
                stack.extend(ref.key for ref in self.task(key).refs())
        return first

    def task(self, key: tuple[int, int]) -> Task:
        return self.stages[key[0]].tasks[key[1]]


def iter_refs(value: Any) -> Iterator[TaskRef]:
    """Yield every TaskRef inside nested tuples/lists."""
    if isinstance(value, TaskRef):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from iter_refs(item)


def resolve_args(
    value: Any,
    lookup: Callable[[TaskRef], Any],
    lookup_list: Callable[[list[TaskRef]], Any] | None = None,
) -> Any:
    """Replace every TaskRef in nested tuples/lists by ``lookup(ref)``; a non-empty list
    of nothing but references by ``lookup_list(refs)`` when given (a runner may pass
    merged partitions as a lazy sequence instead of loading them all)."""
    if isinstance(value, TaskRef):
        return lookup(value)
    if isinstance(value, tuple):
        return tuple(resolve_args(v, lookup, lookup_list) for v in value)
    if isinstance(value, list):
        if lookup_list is not None and value and all(isinstance(v, TaskRef) for v in value):
            return lookup_list(value)
        return [resolve_args(v, lookup, lookup_list) for v in value]
    return value


class StageBuilder:
    """Allocates stage ids while a plan is lowered."""

    def __init__(self) -> None:
        self._ids = itertools.count()
        self.stages: dict[int, Stage] = {}

    def add(
        self,
        name: str,
        tasks: list[Task],
        estimated_bytes: int | None = None,
        estimated_rows: int | None = None,
        detail: str = "",
    ) -> Stage:
        stage = Stage(next(self._ids), name, tasks, estimated_bytes, estimated_rows, detail)
        self.stages[stage.id] = stage
        return stage
