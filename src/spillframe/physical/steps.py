"""The steps of a pipeline: what each narrow operator does to one partition.

A step is a picklable, frozen callable ``pa.Table -> pa.Table`` that the lowering
appends to a pending partition; :func:`spillframe.kernels.narrow.run_pipeline` runs
them fused in one task. Steps that evaluate expressions live here, above the
expression layer, so that the kernels never import expressions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from spillframe.expr.evaluate import evaluate, evaluate_column
from spillframe.expr.expression import Expression
from spillframe.kernels.narrow import explode_table


@dataclass(frozen=True, slots=True)
class FilterStep:
    """Keep rows where ``predicate`` is true (null counts as false)."""

    predicate: Expression
    row_wise: ClassVar[bool] = True

    def __call__(self, table: pa.Table) -> pa.Table:
        mask = evaluate(self.predicate, table)
        if isinstance(mask, pa.Scalar):
            return table if mask.as_py() else table.slice(0, 0)
        return table.filter(mask, null_selection_behavior="drop")


@dataclass(frozen=True, slots=True)
class ProjectStep:
    """Compute each expression into a column of the planned ``schema``."""

    exprs: tuple[Expression, ...]
    schema: pa.Schema
    row_wise: ClassVar[bool] = True

    def __call__(self, table: pa.Table) -> pa.Table:
        memo: dict[Any, Any] = {}  # common subexpressions are computed once
        columns = [evaluate_column(e, table, f.type, memo) for e, f in zip(self.exprs, self.schema)]
        return pa.Table.from_arrays(columns, schema=self.schema)


@dataclass(frozen=True, slots=True)
class LimitStep:
    """The first ``n`` rows of this partition."""

    n: int

    def __call__(self, table: pa.Table) -> pa.Table:
        return table.slice(0, self.n)


@dataclass(frozen=True, slots=True)
class ExplodeStep:
    """One row per element of the list ``columns``; empty or null lists give a null row."""

    columns: tuple[str, ...]

    def __call__(self, table: pa.Table) -> pa.Table:
        return explode_table(table, list(self.columns))


@dataclass(frozen=True, slots=True)
class SampleStep:
    """Keep each row with probability ``fraction`` (seeded per partition)."""

    fraction: float
    seed: int

    def __call__(self, table: pa.Table) -> pa.Table:
        rng = np.random.default_rng(self.seed)
        return table.filter(pa.array(rng.random(table.num_rows) < self.fraction))
