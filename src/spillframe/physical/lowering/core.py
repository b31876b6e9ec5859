"""The lowering's core: pending partitions, the dispatch by node class, materialization.

Narrow operators do not create stages: they append steps to each pending partition
(:class:`Pending`), and the steps run fused in whichever task finally materializes the
partition (a pipeline stage, an exchange's split task, or a join). Wide operators
materialize their inputs through exchanges. Each logical node class has one lowering
function, registered with :func:`lowers` in the module of its kind (``narrow``,
``aggregate``, ``sort``, ``join``, ``exchange``); :class:`Lowering` dispatches on the
node's class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa

from spillframe.config import Config, get_config
from spillframe.expr.expression import Alias, Column, Expression
from spillframe.expr.predicates import conjuncts
from spillframe.kernels.inputs import with_inputs
from spillframe.kernels.narrow import Step, run_pipeline
from spillframe.logical import nodes as L
from spillframe.physical.memory import PIPELINE_FACTOR, pipeline_factor, working_memory
from spillframe.physical.plan import PhysicalPlan, StageBuilder, Task, TaskRef
from spillframe.physical.shared import shared_subplans
from spillframe.physical.steps import ExplodeStep, ProjectStep
from spillframe.resources import ResourceRequest


@dataclass(frozen=True)
class Part:
    """One pending partition: where its data comes from and the steps still to run."""

    source: Any  # TaskRef, list of TaskRefs, pa.Table, or a scan with .read()
    steps: tuple[Step, ...] = ()
    #: Estimated bytes a scan source reads (other sources are sized from the plan).
    scan_bytes: int = 0
    #: Other stages' outputs the steps read whole, as ``(key, refs)`` (a fused
    #: broadcast join's small side, keyed by the id of the stage computing it).
    inputs: tuple[tuple[int, tuple[TaskRef, ...]], ...] = ()

    def then(self, step: Step, input_: tuple[int, tuple[TaskRef, ...]] | None = None) -> Part:
        inputs = self.inputs
        if input_ is not None and all(key != input_[0] for key, _ in inputs):
            inputs = (*inputs, input_)
        return Part(self.source, (*self.steps, step), self.scan_bytes, inputs)


#: Assumed bytes per value of a variable-width column (strings, lists) where a row's
#: width is guessed from its schema alone.
VARIABLE_WIDTH_BYTES = 64


def row_bytes(schema: pa.Schema) -> int:
    """A row's bytes guessed from ``schema``: fixed-width types exactly (with their
    validity bit), variable-width ones at :data:`VARIABLE_WIDTH_BYTES`."""
    total = 0
    for schema_field in schema:
        try:
            total += -(-(schema_field.type.bit_width + 1) // 8)
        except ValueError:  # not fixed width
            total += VARIABLE_WIDTH_BYTES
    return max(1, total)


@dataclass(frozen=True)
class Pending:
    """The partitions of an operator's output before they are materialized."""

    parts: tuple[Part, ...]
    schema: pa.Schema
    estimated_bytes: int | None
    estimated_rows: int | None = None
    words: tuple[str, ...] = ()
    resources: ResourceRequest = field(default_factory=ResourceRequest)
    labels: tuple[str, ...] = ()
    #: Rows with equal values of these columns are in the same part: the parts are the
    #: buckets of a hash split on these columns, in this order (``None``: unknown).
    #: Wide operators on a superset of these keys need no exchange of this side.
    partitioning: tuple[str, ...] | None = None
    #: Expected share of ``estimated_bytes`` left after the filters applied so far.
    #: ``estimated_bytes`` stays an upper bound (it sizes partitions, where an
    #: underestimate costs memory); the expected size only chooses broadcast joins.
    selectivity: float = 1.0

    @property
    def expected_bytes(self) -> int | None:
        if self.estimated_bytes is None:
            return None
        return int(self.estimated_bytes * self.selectivity)

    @property
    def num_partitions(self) -> int:
        return len(self.parts)

    def at_most(self, rows: int) -> Pending:
        """This output when a limit or top-k keeps at most ``rows`` of its rows: the
        byte estimate shrinks in proportion (by the estimated row width), so the task
        that reads it reserves memory for ``rows`` rows rather than for the input."""
        if self.estimated_rows is not None and self.estimated_rows <= rows:
            return self
        nbytes = self.estimated_bytes
        if nbytes is not None and self.estimated_rows:
            nbytes = min(nbytes, -(-nbytes * rows // self.estimated_rows))
        elif nbytes is not None:  # rows unknown (after an aggregation): the schema's width
            nbytes = min(nbytes, rows * row_bytes(self.schema))
        return dataclasses.replace(self, estimated_rows=rows, estimated_bytes=nbytes)

    def then(
        self, step: Step, word: str, schema: pa.Schema | None = None, **changes: Any
    ) -> Pending:
        words = self.words if word in self.words else (*self.words, word)
        if self.partitioning is not None and "partitioning" not in changes:
            changes["partitioning"] = partitioning_after(
                step, self.partitioning, schema or self.schema
            )
        return dataclasses.replace(
            self,
            parts=tuple(p.then(step) for p in self.parts),
            words=words,
            schema=schema or self.schema,
            **changes,
        )

    @property
    def task_name(self) -> str:
        return "-".join(self.words) or "collect"

    def is_materialized(self) -> bool:
        return all(not p.steps and isinstance(p.source, TaskRef) for p in self.parts)


#: Share of rows one filter condition is expected to keep (DuckDB and Spark guess alike
#: without column statistics). It only decides broadcasts; see ``Pending.selectivity``.
FILTER_SELECTIVITY = 0.2


def predicate_selectivity(predicate: Expression) -> float:
    """Expected share of rows kept by ``predicate``: each ``&``-ed condition keeps a
    fifth, with exponential backoff (the k-th condition counts with exponent 1/2**k),
    since conditions are rarely independent (a range is two of them)."""
    share = 1.0
    for k in range(min(len(conjuncts(predicate)), 8)):
        share *= FILTER_SELECTIVITY ** (1 / 2**k)
    return share


def partitioning_after(
    step: Step, keys: tuple[str, ...], schema: pa.Schema
) -> tuple[str, ...] | None:
    """What is left of a hash partitioning on ``keys`` once ``step`` ran on every part.

    A projection keeps it when every key column passes through unchanged (renamed is
    fine); an explode of a key column loses it; other steps keep rows' key values.
    """
    if isinstance(step, ProjectStep):
        renamed: dict[str, str] = {}
        for expr in step.exprs:
            inner = expr.child if isinstance(expr, Alias) else expr
            if isinstance(inner, Column):
                renamed.setdefault(inner.name, expr.output_name())
        if all(k in renamed for k in keys):
            return tuple(renamed[k] for k in keys)
        return None
    if isinstance(step, ExplodeStep) and set(step.columns) & set(keys):
        return None
    return keys if all(k in schema.names for k in keys) else None


Node = TypeVar("Node", bound=L.LogicalPlan)
LowerFn = Callable[["Lowering", Any], "Pending"]

#: The lowering of each logical node class (filled by :func:`lowers`).
LOWERINGS: dict[type[L.LogicalPlan], LowerFn] = {}


def lowers(
    node_class: type[Node],
) -> Callable[[Callable[[Lowering, Node], Pending]], Callable[[Lowering, Node], Pending]]:
    """Register the decorated function as the lowering of ``node_class``."""

    def register(fn: Callable[[Lowering, Node], Pending]) -> Callable[[Lowering, Node], Pending]:
        if node_class in LOWERINGS:
            raise ValueError(f"{node_class.__name__} already has a lowering")
        LOWERINGS[node_class] = fn
        return fn

    return register


class Lowering:
    """Turns logical nodes into stages; one instance lowers one query."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or get_config()
        self.builder = StageBuilder()
        self.streaming_limit: L.Limit | None = None
        self._shared_roots: set[Any] = set()
        self._shared: dict[Any, Pending] = {}

    # -- entry point ------------------------------------------------------------------
    def lower(self, plan: L.LogicalPlan, name: str = "query") -> PhysicalPlan:
        # A final limit (under row-wise projections) streams: local limits per partition,
        # and the consumer stops reading, and the runner scheduling, once it has n rows.
        node = plan
        while isinstance(node, L.Project):
            node = node.child
        self.streaming_limit = node if isinstance(node, L.Limit) else None
        limit = self.streaming_limit.n if self.streaming_limit is not None else None
        self._shared_roots = shared_subplans(plan)
        pending = self.visit(plan)
        stage = self.stage_for(pending)
        physical = PhysicalPlan(dict(self.builder.stages), stage, name, limit)
        # Stages nothing reads (an optional reduction that was not worth it) are dropped,
        # so that no runner counts their reads when it frees intermediate outputs.
        needed = {stage_id for stage_id, _ in physical.reachable()}
        if len(needed) < len(physical.stages):
            physical = PhysicalPlan(
                {i: st for i, st in physical.stages.items() if i in needed}, stage, name, limit
            )
        return physical

    def visit(self, node: L.LogicalPlan) -> Pending:
        if self._shared_roots:
            key = node.key
            if key in self._shared_roots:
                # A repeated subplan: computed by one stage that every use reads.
                if key not in self._shared:
                    self._shared[key] = self.computed(self._lower(node))
                return self._shared[key]
        return self._lower(node)

    def _lower(self, node: L.LogicalPlan) -> Pending:
        try:
            lower = LOWERINGS[type(node)]
        except KeyError:
            raise NotImplementedError(f"no lowering for {type(node).__name__}") from None
        return lower(self, node)

    # -- stages -----------------------------------------------------------------------------
    def stage_for(self, pending: Pending, name: str | None = None) -> int:
        """The id of a stage computing every pending partition: a new one, unless the
        partitions are exactly the outputs of one stage already (and no ``name`` asks
        for a stage of its own)."""
        if pending.is_materialized() and name is None:
            stage_ids = {p.source.stage_id for p in pending.parts}
            if len(stage_ids) == 1:
                stage_id = stage_ids.pop()
                stage = self.builder.stages[stage_id]
                if [p.source.index for p in pending.parts] == list(range(stage.num_partitions)):
                    return stage_id
        tasks = [
            self.task(
                run_pipeline,
                (p.source, p.steps),
                name or pending.task_name,
                pending,
                parts=(p,),
                factor=pipeline_factor(p.steps),
            )
            for p in pending.parts
        ]
        stage = self.builder.add(
            name or pending.task_name, tasks, pending.estimated_bytes, pending.estimated_rows
        )
        return stage.id

    def computed(self, pending: Pending, name: str | None = None) -> Pending:
        """The same partitions as references to the outputs of :meth:`stage_for`."""
        stage_id = self.stage_for(pending, name)
        stage = self.builder.stages[stage_id]
        parts = tuple(Part(TaskRef(stage_id, i)) for i in range(stage.num_partitions))
        return dataclasses.replace(
            pending, parts=parts, words=(), resources=ResourceRequest(), labels=()
        )

    def task(
        self,
        kernel: Any,
        args: tuple[Any, ...],
        name: str,
        pending: Pending,
        num_outputs: int = 1,
        parts: tuple[Part, ...] = (),
        factor: float = PIPELINE_FACTOR,
    ) -> Task:
        """A task of ``kernel(*args)`` with the resources ``pending`` declares and the
        working memory of ``factor`` times its inputs (``parts``' scans and the task
        outputs ``args`` reference; see :mod:`spillframe.physical.memory`)."""
        label = ", ".join(pending.labels) or name
        inputs = dict(pair for p in parts for pair in p.inputs)
        held = []
        if inputs:  # the steps read other stages' outputs: see kernels.inputs
            listed = [(key, list(refs)) for key, refs in inputs.items()]
            kernel, args = with_inputs, (listed, kernel, args)
            for key, refs in inputs.items():
                # What the steps reading the input build over it (BroadcastJoinStep).
                factors = [
                    float(getattr(s, "input_factor"))  # noqa: B009 - steps are plain callables
                    for p in parts
                    for s in p.steps
                    if getattr(s, "input_key", None) == key
                ]
                held.append((refs, max(factors)))
        memory = working_memory(
            args, sum(p.scan_bytes for p in parts), factor, self.builder.stages, held
        )
        return Task(kernel, args, name, pending.resources, num_outputs, label, memory)

    def exchange_partitions(self, estimated_bytes: int | None, fallback: int) -> int:
        """Partitions for an exchange: estimated bytes / partition_bytes, bounded."""
        if estimated_bytes is None:
            return max(1, fallback)
        return self.config.partitions_for(estimated_bytes)
