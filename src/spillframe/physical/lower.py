"""Lowering: an optimized logical plan becomes the partitioned physical plan.

Narrow operators do not create stages: they append steps to each pending
partition (:class:`Pending`), and the steps run fused in whichever task finally
materializes the partition (a pipeline stage, an exchange's split task, or a
join). Wide operators (see :mod:`spillframe.physical.wide`) materialize their
inputs through exchanges.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from spillframe.config import Config, get_config
from spillframe.expr.expression import Alias, Column, Expression
from spillframe.expr.predicates import conjuncts
from spillframe.io.write import write_partition
from spillframe.kernels.narrow import Step, run_pipeline, slice_partition
from spillframe.logical import nodes as L
from spillframe.physical.memory import PIPELINE_FACTOR, pipeline_factor, working_memory
from spillframe.physical.plan import PhysicalPlan, StageBuilder, Task, TaskRef
from spillframe.physical.shared import shared_subplans
from spillframe.physical.steps import ExplodeStep, FilterStep, LimitStep, ProjectStep, SampleStep
from spillframe.resources import ResourceRequest


@dataclass(frozen=True)
class Part:
    """One pending partition: where its data comes from and the steps still to run."""

    source: Any  # TaskRef, list of TaskRefs, pa.Table, or a scan with .read()
    steps: tuple[Step, ...] = ()
    #: Estimated bytes a scan source reads (other sources are sized from the plan).
    scan_bytes: int = 0

    def then(self, step: Step) -> Part:
        return Part(self.source, (*self.steps, step), self.scan_bytes)


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


class Lowering:
    """Turns logical nodes into stages; one instance lowers one query."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or get_config()
        self.builder = StageBuilder()
        self.streaming_limit: L.Limit | None = None
        self._shared_keys: Any = None
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
        self._shared_keys, self._shared_roots = shared_subplans(plan)
        pending = self.visit(plan)
        stage = self.materialize(pending)
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
            key = self._shared_keys.of(node)
            if key in self._shared_roots:
                # A repeated subplan: computed by one stage that every use reads.
                if key not in self._shared:
                    self._shared[key] = self.materialized(self._lower(node))
                return self._shared[key]
        return self._lower(node)

    def _lower(self, node: L.LogicalPlan) -> Pending:
        method = getattr(self, f"lower_{type(node).__name__}", None)
        if method is None:
            from spillframe.physical import wide

            method = getattr(wide, f"lower_{type(node).__name__}")
            return method(self, node)
        return method(node)

    # -- materialization ------------------------------------------------------------------
    def materialize(self, pending: Pending, name: str | None = None) -> int:
        """Add a stage computing every pending partition; returns its stage id."""
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

    def materialized(self, pending: Pending, name: str | None = None) -> Pending:
        """The same partitions, computed by a stage, as references."""
        stage_id = self.materialize(pending, name)
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
        memory = working_memory(args, sum(p.scan_bytes for p in parts), factor, self.builder.stages)
        return Task(kernel, args, name, pending.resources, num_outputs, label, memory)

    def exchange_partitions(self, estimated_bytes: int | None, fallback: int) -> int:
        """Partitions for an exchange: estimated bytes / partition_bytes, bounded."""
        if estimated_bytes is None:
            return max(1, fallback)
        return self.config.partitions_for(estimated_bytes)

    # -- sources ------------------------------------------------------------------------------
    def lower_InMemorySource(self, node: L.InMemorySource) -> Pending:
        parts = tuple(Part(t) for t in node.partitions) or (Part(node.schema.empty_table()),)
        return Pending(
            parts,
            node.schema,
            sum(t.nbytes for t in node.partitions),
            sum(t.num_rows for t in node.partitions),
            ("from-memory",),
        )

    def lower_ScanSource(self, node: L.ScanSource) -> Pending:
        planned = node.scan_format.plan(node, self.config)
        rows = [p.estimated_rows for p in planned]
        return Pending(
            tuple(Part(p.scan, (), p.estimated_bytes) for p in planned),
            node.schema,
            sum(p.estimated_bytes for p in planned),
            None if None in rows else sum(rows),  # type: ignore[arg-type]
            (f"scan-{node.format}",),
            selectivity=1.0 if node.predicate is None else predicate_selectivity(node.predicate),
        )

    # -- narrow operators ------------------------------------------------------------------------
    def lower_Project(self, node: L.Project) -> Pending:
        child = self.visit(node.child)
        ratio = len(node.schema) / max(1, len(node.child.schema))
        estimate = None if child.estimated_bytes is None else int(child.estimated_bytes * ratio)
        word = "udf" if node.udf_labels() else "project"
        return child.then(
            ProjectStep(node.exprs, node.schema),
            word,
            node.schema,
            estimated_bytes=estimate,
            resources=child.resources.max(node.resources()),
            labels=(*child.labels, *node.udf_labels()),
        )

    def lower_Filter(self, node: L.Filter) -> Pending:
        assert node.predicate is not None  # Filter refuses to be built without one
        child = self.visit(node.child)
        return child.then(
            FilterStep(node.predicate),
            "filter",
            estimated_rows=None,
            selectivity=child.selectivity * predicate_selectivity(node.predicate),
        )

    def lower_Explode(self, node: L.Explode) -> Pending:
        child = self.visit(node.child)
        return child.then(ExplodeStep(node.columns), "explode", node.schema, estimated_rows=None)

    def lower_Sample(self, node: L.Sample) -> Pending:
        child = self.visit(node.child)
        seed = node.seed if node.seed is not None else int.from_bytes(os.urandom(4), "little")
        parts = tuple(
            p.then(SampleStep(node.fraction, seed + i)) for i, p in enumerate(child.parts)
        )
        estimate = (
            None if child.estimated_bytes is None else int(child.estimated_bytes * node.fraction)
        )
        words = (*child.words, "sample")
        return dataclasses.replace(
            child, parts=parts, estimated_bytes=estimate, estimated_rows=None, words=words
        )

    def lower_Limit(self, node: L.Limit) -> Pending:
        """A limit inside a plan: local limits, then one task keeps the first ``n`` rows."""
        child = self.visit(node.child).then(LimitStep(node.n), "limit")
        if node is self.streaming_limit:
            return child
        child = self.materialized(child)
        merged = Part([p.source for p in child.parts], (LimitStep(node.n),))
        return dataclasses.replace(
            child, parts=(merged,), words=("limit",), estimated_rows=node.n, partitioning=None
        )

    def lower_Concat(self, node: L.Concat) -> Pending:
        left, right = self.visit(node.left), self.visit(node.right)
        if left.words != right.words:  # fused tasks of both sides must share one name
            left, right = self.materialized(left), self.materialized(right)
        estimate = (
            None
            if left.estimated_bytes is None or right.estimated_bytes is None
            else left.estimated_bytes + right.estimated_bytes
        )
        return dataclasses.replace(
            left,
            parts=left.parts + right.parts,
            estimated_bytes=estimate,
            estimated_rows=None,
            resources=left.resources.max(right.resources),
            labels=(*left.labels, *right.labels),
            partitioning=None,
        )

    def lower_Write(self, node: L.Write) -> Pending:
        """One ``write-<format>`` task per partition, each writing its rows into the
        staging directory and returning the paths it wrote."""
        child = self.visit(node.child)
        name = f"write-{node.file_format}"
        tasks = [
            self.task(
                write_partition,
                (
                    p.source,
                    p.steps,
                    node.staging,
                    i,
                    node.file_format,
                    node.partition_cols,
                    node.options,
                ),
                name,
                child,
                parts=(p,),
                factor=pipeline_factor(p.steps),
            )
            for i, p in enumerate(child.parts)
        ]
        stage = self.builder.add(name, tasks, child.estimated_bytes, child.estimated_rows)
        return Pending(
            tuple(Part(TaskRef(stage.id, i)) for i in range(len(tasks))), node.schema, None
        )

    def lower_IntoPartitions(self, node: L.IntoPartitions) -> Pending:
        child = self.visit(node.child)
        m, n = child.num_partitions, node.n
        if m == n:
            return child
        child = self.materialized(child)
        refs = [p.source for p in child.parts]
        if n < m:
            parts = tuple(Part(refs[j * m // n : (j + 1) * m // n]) for j in range(n))
        else:
            owners = [j * m // n for j in range(n)]
            counts = [owners.count(i) for i in range(m)]
            parts = tuple(
                Part(refs[i], (_Slice(owners[:j].count(i), counts[i]),))
                for j, i in enumerate(owners)
            )
        return dataclasses.replace(
            child, parts=parts, words=("into-partitions",), partitioning=None
        )


@dataclass(frozen=True, slots=True)
class _Slice:
    """Part ``part`` of ``parts`` equal slices of a partition."""

    part: int
    parts: int

    def __call__(self, table: pa.Table) -> pa.Table:
        return slice_partition(table, self.part, self.parts)


def lower_plan(
    plan: L.LogicalPlan, name: str = "query", config: Config | None = None
) -> PhysicalPlan:
    """Lower an (already optimized) logical plan to the physical plan."""
    return Lowering(config).lower(plan, name)
