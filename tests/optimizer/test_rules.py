"""Optimizer rules as tables of (input plan, expected plan); every pair is also executed:
the optimized and unoptimized plans must return the same rows."""

from __future__ import annotations

import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import col
from spillframe.api.dataframe import DataFrame
from spillframe.expr.expression import structural_key
from spillframe.logical import nodes as L
from spillframe.optimizer import optimize
from spillframe.optimizer.driver import OptimizerError
from spillframe.optimizer.rules.pushdown_limit import pushdown_limit
from spillframe.optimizer.rules.pushdown_predicates import pushdown_predicates
from spillframe.optimizer.rules.pushdown_projections import pushdown_projections
from spillframe.physical.lowering import lower_plan
from spillframe.testing import assert_df_equal


def shape(plan: L.LogicalPlan) -> tuple:
    """A comparable description of a plan: node types, expressions and scan pushdowns."""
    fields = [type(plan).__name__]
    if isinstance(plan, L.ScanSource):
        fields += [
            plan.columns,
            None if plan.predicate is None else structural_key(plan.predicate),
            plan.limit,
        ]
    for attr in ("exprs", "keys", "aggs"):
        if hasattr(plan, attr):
            fields.append(tuple(structural_key(e) for e in getattr(plan, attr)))
    if isinstance(plan, L.Filter):
        fields.append(structural_key(plan.predicate))
    for attr in ("n", "k"):
        if hasattr(plan, attr):
            fields.append(getattr(plan, attr))
    return (*fields, tuple(shape(c) for c in plan.children()))


def scan(parquet_dir: str, **pushed) -> L.ScanSource:
    base = sf.read_parquet(parquet_dir)._plan
    return base.replace(**pushed) if pushed else base


def mem() -> L.LogicalPlan:
    return sf.from_pydict({"a": [1, 2, 3, 4], "b": ["w", "x", "y", "z"]}, num_partitions=2)._plan


# Each case: (rule, build input plan, build expected plan); builders take the data dir.
CASES = {
    "filter-into-parquet-scan": (
        pushdown_predicates,
        lambda d: L.Filter(scan(d), predicate=col("id") > 500),
        lambda d: scan(d, predicate=col("id") > 500),
    ),
    "filter-splits-pushable-conjuncts": (
        pushdown_predicates,
        lambda d: L.Filter(scan(d), predicate=(col("id") > 500) & col("name").str.startswith("n1")),
        lambda d: L.Filter(
            scan(d, predicate=col("id") > 500), predicate=col("name").str.startswith("n1")
        ),
    ),
    "filter-through-renaming-project": (
        pushdown_predicates,
        lambda d: L.Filter(
            L.Project(scan(d), exprs=(col("id").alias("key"), col("price"))),
            predicate=col("key") < 100,
        ),
        lambda d: L.Project(
            scan(d, predicate=col("id") < 100), exprs=(col("id").alias("key"), col("price"))
        ),
    ),
    "filter-stays-above-computed-column": (
        pushdown_predicates,
        lambda d: L.Filter(
            L.Project(scan(d), exprs=((col("price") * 2).alias("p2"),)), predicate=col("p2") > 10
        ),
        lambda d: L.Filter(
            L.Project(scan(d), exprs=((col("price") * 2).alias("p2"),)), predicate=col("p2") > 10
        ),
    ),
    "filters-merge": (
        pushdown_predicates,
        lambda d: L.Filter(L.Filter(mem(), predicate=col("a") > 1), predicate=col("a") < 4),
        lambda d: L.Filter(mem(), predicate=(col("a") > 1) & (col("a") < 4)),
    ),
    "filter-into-join-left-side": (
        pushdown_predicates,
        lambda d: L.Filter(L.Join(scan(d), mem(), ("grp",), ("a",)), predicate=col("id") > 800),
        lambda d: L.Join(scan(d, predicate=col("id") > 800), mem(), ("grp",), ("a",)),
    ),
    "filter-through-sort": (
        pushdown_predicates,
        lambda d: L.Filter(
            L.Sort(mem(), keys=(col("a"),), descending=(False,), nulls_first=(False,)),
            predicate=col("a") > 2,
        ),
        lambda d: L.Sort(
            L.Filter(mem(), predicate=col("a") > 2),
            keys=(col("a"),),
            descending=(False,),
            nulls_first=(False,),
        ),
    ),
    "filter-not-through-limit": (
        pushdown_predicates,
        lambda d: L.Filter(L.Limit(mem(), n=2), predicate=col("a") > 1),
        lambda d: L.Filter(L.Limit(mem(), n=2), predicate=col("a") > 1),
    ),
    "projection-into-scan": (
        pushdown_projections,
        lambda d: L.Project(scan(d), exprs=(col("price"),)),
        lambda d: L.Project(scan(d, columns=("price",)), exprs=(col("price"),)),
    ),
    "projection-keeps-filter-columns": (
        pushdown_projections,
        lambda d: L.Project(L.Filter(scan(d), predicate=col("grp") == 1), exprs=(col("name"),)),
        lambda d: L.Project(
            L.Filter(scan(d, columns=("grp", "name")), predicate=col("grp") == 1),
            exprs=(col("name"),),
        ),
    ),
    "projection-drops-unused-expressions": (
        pushdown_projections,
        lambda d: L.Project(
            L.Project(scan(d), exprs=(col("id"), (col("price") + 1).alias("q"))), exprs=(col("id"),)
        ),
        lambda d: L.Project(
            L.Project(scan(d, columns=("id",)), exprs=(col("id"),)), exprs=(col("id"),)
        ),
    ),
    "projection-through-aggregate": (
        pushdown_projections,
        lambda d: L.Aggregate(scan(d), keys=(col("grp"),), aggs=(col("price").sum(),)),
        lambda d: L.Aggregate(
            scan(d, columns=("grp", "price")), keys=(col("grp"),), aggs=(col("price").sum(),)
        ),
    ),
    "limit-into-scan": (
        pushdown_limit,
        lambda d: L.Limit(scan(d), n=5),
        lambda d: L.Limit(scan(d, limit=5), n=5),
    ),
    "limit-through-project": (
        pushdown_limit,
        lambda d: L.Limit(L.Project(mem(), exprs=(col("a"),)), n=3),
        lambda d: L.Project(L.Limit(mem(), n=3), exprs=(col("a"),)),
    ),
    "sort-then-limit-is-top-k": (
        pushdown_limit,
        lambda d: L.Limit(
            L.Sort(mem(), keys=(col("a"),), descending=(True,), nulls_first=(True,)), n=2
        ),
        lambda d: L.TopK(mem(), keys=(col("a"),), descending=(True,), nulls_first=(True,), k=2),
    ),
    "limits-merge": (
        pushdown_limit,
        lambda d: L.Limit(L.Limit(mem(), n=3), n=2),
        lambda d: L.Limit(mem(), n=2),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_rewrites_plan(case: str, parquet_dir: str) -> None:
    rule, build, build_expected = CASES[case]
    # The rule is applied until it stops changing the plan, as the driver does.
    plan = build(parquet_dir)
    for _ in range(10):
        new = rule(plan)
        if new is plan:
            break
        plan = new
    assert shape(plan) == shape(build_expected(parquet_dir))


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_keeps_results(case: str, parquet_dir: str, sf_runner) -> None:
    rule, build, _ = CASES[case]
    original = build(parquet_dir)
    rewritten = rule(original)
    assert rewritten.schema.equals(original.schema)
    # Both run through the whole optimizer too; compare with the unoptimized rows.
    unoptimized = DataFrame(original)
    assert_df_equal(DataFrame(rewritten), _run_unoptimized(unoptimized))


def _run_unoptimized(df: DataFrame) -> pa.Table:
    """Rows of the plan exactly as written (no optimizer rules)."""
    plan = lower_plan(df._plan)
    table = pa.concat_tables(list(sf.get_runner().run(plan)))
    return table.slice(0, plan.limit) if plan.limit is not None else table


def test_rule_returns_same_object_when_nothing_changes() -> None:
    plan = mem()
    for rule in (pushdown_predicates, pushdown_projections, pushdown_limit):
        assert rule(plan) is plan


def test_optimizer_cap_names_the_rule() -> None:
    def flip(plan: L.LogicalPlan) -> L.LogicalPlan:
        return L.Limit(plan.child, n=plan.n) if isinstance(plan, L.Limit) else plan

    with pytest.raises(OptimizerError, match="flip"):
        optimize(L.Limit(mem(), n=1), rules=(flip,), max_passes=3)
