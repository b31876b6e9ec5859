"""Spilling aggregation: rows or partial states hash-partitioned to disk by the group keys."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from spillframe.kernels.aggregate import AggSpec, aggregate, final_aggregate
from spillframe.kernels.budget import MemoryGrant
from spillframe.kernels.exchange import concat_tables
from spillframe.kernels.external.runs import (
    _MAX_LEVELS,
    _UNBOUNDED,
    SpilledRun,
    _bucket_count,
    _drain,
    _first_bucket_count,
    _hold,
    _Intake,
    _stack,
    partition_to_disk,
)

# ---------------------------------------------------------------------------- aggregate


@dataclass(frozen=True, slots=True)
class _AggSpec:
    """Everything a bucket's aggregation needs."""

    keys: list[str]
    specs: list[AggSpec]
    kernel: Callable[[pa.Table, list[str], list[AggSpec]], pa.Table]
    schema: pa.Schema
    grant: MemoryGrant
    directory: str

    @property
    def budget(self) -> int:
        return max(self.grant.limit // 2, 1)


def _aggregate_bucket(run: SpilledRun, level: int, spec: _AggSpec) -> Iterator[pa.Table]:
    """The groups of one bucket: aggregated in memory, or partitioned once more."""
    if not run.num_rows:
        return
    if run.nbytes <= spec.budget or level >= _MAX_LEVELS:
        yield spec.kernel(run.read(spec.schema), spec.keys, spec.specs)
        run.delete()
        return
    num_buckets = _bucket_count(run.nbytes, spec.budget)
    with contextlib.closing(run.tables(spec.schema)) as tables:
        buckets = partition_to_disk(
            tables, spec.keys, num_buckets, level + 1, spec.directory, spec.grant
        )
    run.delete()
    split = max(b.num_rows for b in buckets) < run.num_rows  # else one group fills it
    for bucket in buckets:
        yield from _aggregate_bucket(bucket, level + 1 if split else _MAX_LEVELS, spec)


def spilling_aggregate(
    inputs: Iterable[pa.Table],
    keys: list[str],
    specs: list[AggSpec],
    phase: str,
    grant: MemoryGrant,
    schema: pa.Schema | None = None,
) -> pa.Table:
    """Grouped aggregation of the concatenated ``inputs`` within ``grant.limit``.

    A global aggregation (no keys), or an input within ``grant.limit // 2`` bytes, is
    computed in memory. Otherwise the input is hash-partitioned to disk by the keys,
    and each bucket (every group lies in one) is aggregated on its own; a bucket still
    over the budget is partitioned again.

    Parameters
    ----------
    inputs : iterable of pa.Table
        Rows (``phase="single"``) or partial states from
        :func:`~spillframe.kernels.aggregate.partial_aggregate` (``phase="final"``),
        consumed once, in order.
    keys : list of str
        Group key columns; null keys form one group.
    specs : list of AggSpec
        Aggregations, in output order.
    phase : str
        ``"single"`` (:func:`~spillframe.kernels.aggregate.aggregate`) or ``"final"``
        (:func:`~spillframe.kernels.aggregate.final_aggregate`).
    grant : MemoryGrant
        The memory budget and scratch space.
    schema : pa.Schema, optional
        Input schema when ``inputs`` holds no table.

    Returns
    -------
    pa.Table
        The groups of the in-memory kernel over the concatenated input, in another
        order when spilled, with exactly its schema.

    Examples
    --------
    >>> parts = [pa.table({"k": ["a", "b"], "v": [1, 2]}), pa.table({"k": ["a"], "v": [3]})]
    >>> spec = AggSpec("sum", "v", "total")
    >>> spilling_aggregate(parts, ["k"], [spec], "single", MemoryGrant(1 << 20)).to_pydict()
    {'k': ['a', 'b'], 'total': [4, 2]}
    """
    kernels = {"single": aggregate, "final": final_aggregate}
    if phase not in kernels:
        raise ValueError(f"unknown aggregation phase {phase!r}; choose one of single, final")
    kernel, intake = kernels[phase], _Intake(inputs)
    budget = max(grant.limit // 2, 1)
    (held,), fits = _hold([intake], budget if keys else _UNBOUNDED)
    if fits:
        table = concat_tables(held, intake.schema(schema, "schema"))
        held.clear()
        return kernel(table, keys, specs)
    num_buckets = _first_bucket_count([intake], budget)
    with grant.scratch_dir() as directory:
        buckets = partition_to_disk(  # level 0: seed 1
            _drain(held, intake), keys, num_buckets, 1, directory, grant
        )
        source = intake.schema(schema, "schema")
        output = kernel(source.empty_table(), keys, specs).schema
        spec = _AggSpec(list(keys), list(specs), kernel, source, grant, directory)
        results = [result for run in buckets for result in _aggregate_bucket(run, 1, spec)]
        return _stack(results, output)
