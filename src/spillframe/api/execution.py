"""From a logical plan to rows: optimize, lower, run on the active runner."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from spillframe.config import Config, with_defaults
from spillframe.expr.expression import Column, Expression, col
from spillframe.io.write import write_files
from spillframe.logical import nodes as L
from spillframe.logical.nodes import LogicalPlan
from spillframe.optimizer import optimize
from spillframe.physical.lowering import lower_plan
from spillframe.physical.plan import PhysicalPlan, Stage
from spillframe.runners.base import Runner, get_runner
from spillframe.runners.stats import QueryRecorder, QueryStats


def physical_plan(
    plan: LogicalPlan, name: str = "query", config: Config | None = None
) -> PhysicalPlan:
    """The physical plan every runner executes for ``plan``."""
    return lower_plan(optimize(plan), name, config)


def runner_config(runner: Runner) -> Config:
    """The planner settings for ``runner``: the user's, then the runner's suggestions."""
    return with_defaults(runner.planning_defaults())


def query_name(plan: LogicalPlan) -> str:
    """A short name for dashboards: the root operator and the sources."""
    sources = [
        type(n).__name__.replace("Source", "").lower() for n in plan.walk() if not n.children()
    ]
    return f"spillframe-{type(plan).__name__.lower()}-from-{'-'.join(sorted(set(sources)))}"


StatsSink = Callable[[QueryStats], None]


def execute(plan: LogicalPlan, on_stats: StatsSink | None = None) -> Iterator[pa.Table]:
    """Run ``plan`` on the active runner; yields its partitions in order.

    A final ``limit`` is enforced here for every runner: once enough rows arrived
    the runner's stream is closed, which stops the work still outstanding. When the
    stream ends (exhausted, closed early or failed) ``on_stats`` receives the query's
    :class:`QueryStats`.
    """
    runner = get_runner()
    physical = physical_plan(plan, query_name(plan), runner_config(runner))
    return run_physical(physical, runner, on_stats)


def run_physical(
    physical: PhysicalPlan, runner: Runner, on_stats: StatsSink | None = None
) -> Iterator[pa.Table]:
    """Run an already lowered plan on ``runner`` (see :func:`execute`)."""
    recorder = QueryRecorder(physical, runner.name)
    recorded = runner.records_stats
    # Runners that set records_stats take stats= (an extension of Runner.run's contract).
    stream = runner.run(physical, stats=recorder) if recorded else runner.run(physical)  # type: ignore[call-arg]
    remaining = physical.limit
    complete = False
    try:
        last = time.time()
        for table in stream:
            if not recorded:  # what the core sees: the output partitions
                now = time.time()
                recorder.task_finished(
                    physical.output_stage, last, now, table.num_rows, table.nbytes, 0
                )
                last = now
            if remaining is not None:
                table = table.slice(0, remaining)
                remaining -= table.num_rows
            yield table
            if remaining is not None and remaining <= 0:
                break
        else:
            complete = True
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
        stats = recorder.finish(complete)
        if on_stats is not None:
            on_stats(stats)


def write(
    plan: LogicalPlan,
    file_format: str,
    root_dir: str,
    write_mode: str,
    partition_cols: list[str | Expression] | None,
    options: dict[str, Any],
    on_stats: StatsSink | None = None,
) -> list[str]:
    """Write the rows of ``plan`` under ``root_dir``: the plan with a :class:`Write`
    node on top runs through :func:`execute` like every eager call (``on_stats`` as
    there), into the staging directory of :func:`spillframe.io.write.write_files`.
    Returns the paths written."""
    names = []
    for c in partition_cols or []:
        expr = col(c) if isinstance(c, str) else c
        if not isinstance(expr, Column):
            raise TypeError(f"partition_cols takes column names, got {c!r}")
        names.append(expr.name)
    # Built before anything is written: raises SchemaError naming a missing column.
    L.Write(plan, file_format=file_format, partition_cols=tuple(names))

    def write_into(staging: str) -> list[str]:
        node = L.Write(
            plan,
            file_format=file_format,
            staging=staging,
            partition_cols=tuple(names),
            options=tuple(options.items()),
        )
        return [p for t in execute(node, on_stats) for p in t.column("path").to_pylist()]

    return write_files(plan.schema, file_format, root_dir, write_mode, write_into)


def explain_text(plan: LogicalPlan, show_all: bool) -> str:
    """The text ``DataFrame.explain`` prints."""
    optimized = optimize(plan)
    physical = lower_plan(optimized, config=runner_config(get_runner()))
    return _explain_sections(plan, optimized, physical, None, show_all)


def analyze_text(plan: LogicalPlan, show_all: bool) -> tuple[str, QueryStats]:
    """Run ``plan`` (dropping its rows) and return the text of
    ``explain(analyze=True)`` and the query's stats."""
    runner = get_runner()
    optimized = optimize(plan)
    physical = lower_plan(optimized, query_name(plan), runner_config(runner))
    received: list[QueryStats] = []
    for _ in run_physical(physical, runner, received.append):
        pass
    stats = received[0]
    return _explain_sections(plan, optimized, physical, stats, show_all), stats


def _explain_sections(
    plan: LogicalPlan,
    optimized: LogicalPlan,
    physical: PhysicalPlan,
    stats: QueryStats | None,
    show_all: bool,
) -> str:
    sections = []
    if show_all:
        sections.append("== Unoptimized logical plan ==\n" + logical_text(plan))
    sections.append("== Optimized logical plan ==\n" + logical_text(optimized))
    if stats is None:
        sections.append("== Physical plan ==\n" + physical_text(physical))
    else:
        sections.append(
            "== Physical plan, analyzed ==\n"
            + f"Ran {stats.summary()}\n"
            + physical_text(physical, stats)
        )
    return "\n\n".join(sections)


def logical_text(plan: LogicalPlan, depth: int = 0) -> str:
    lines = ["  " * depth + ("* " if depth else "") + plan.describe()]
    lines.extend(logical_text(c, depth + 1) for c in plan.children())
    return "\n".join(lines)


def physical_text(plan: PhysicalPlan, stats: QueryStats | None = None) -> str:
    """One line per stage (and, with ``stats``, an ``actual:`` line under it)."""
    lines = []
    for stage in plan.topological_stages():
        inputs = sorted({r.stage_id for t in stage.tasks for r in t.refs()})
        size = _bytes(stage.estimated_bytes)
        rows = f", ~{stage.estimated_rows} rows" if stage.estimated_rows is not None else ""
        reads = f" <- stages {inputs}" if inputs else ""
        detail = f" ({stage.detail})" if stage.detail else ""
        marker = " [output]" if stage.id == plan.output_stage else ""
        extra = _task_resources(stage)
        lines.append(
            f"Stage {stage.id}: {stage.name}, {stage.num_partitions} partitions, "
            f"est. {size}{rows}{detail}{reads}{extra}{marker}"
        )
        if stats is not None:
            lines.append("    actual: " + _actuals(stats, stage.id))
    if plan.limit is not None:
        lines.append(f"Output stops after {plan.limit} rows")
    return "\n".join(lines)


def _actuals(stats: QueryStats, stage_id: int) -> str:
    """``4/4 tasks, 0.120 s, 98 rows, 11.2 MiB out, peak reserved 80.0 MiB, ...``."""
    try:
        s = stats.stage(stage_id)
    except KeyError:
        return "not run (not needed for the output)"
    text = (
        f"{s.tasks}/{s.planned_tasks} tasks, {s.wall_seconds:.3f} s, {s.rows_out} rows, "
        f"{_bytes(s.bytes_out)} out, peak reserved {_bytes(s.peak_reserved_bytes)}, "
        f"spilled {_bytes(s.spilled_bytes)} ({s.spilled_objects} objects)"
    )
    if stats.runner != "py":
        text += f", {s.worker_restarts} worker restarts"
    return text


def _task_resources(stage: Stage) -> str:
    """``, per task: memory 42.0 MiB`` (the largest reservation of the stage's tasks:
    declared requests plus the planner's working-memory estimate), with CPUs and GPUs
    when a task declares other than one CPU."""
    if not stage.tasks:
        return ""
    largest = max((t.reservation() for t in stage.tasks), key=lambda r: r.memory_bytes)
    text = f", per task: memory {_bytes(largest.memory_bytes)}"
    declared = max(t.resources.memory_bytes for t in stage.tasks)
    if declared:
        text += f" (declared {_bytes(declared)})"
    if largest.num_gpus or largest.num_cpus != 1:
        text += f", cpus={largest.num_cpus:g} gpus={largest.num_gpus:g}"
    return text


def _bytes(n: int | None) -> str:
    if n is None:
        return "unknown size"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"
