"""Structural keys of logical plans: computed once per node, equal for equal subtrees."""

from __future__ import annotations

import pyarrow as pa

import spillframe as sf
from spillframe import col
from spillframe.logical import nodes as L
from spillframe.optimizer.rules.pushdown_projections import pushdown_projections
from spillframe.optimizer.rules.reduce_grouped_sides import reduce_grouped_sides
from spillframe.physical.shared import shared_subplans


def _query() -> L.LogicalPlan:
    df = sf.from_pydict({"k": [1, 2, 2], "v": [1.0, 2.0, 3.0]})
    totals = df.groupby("k").agg(col("v").sum().alias("t"))
    return totals.join(totals.where(col("t") > 1), on="k")._builder


def test_every_user_reads_one_key_per_node(monkeypatch):
    """The rules and the lowering ask for keys of the same nodes; each is computed once."""
    computed: list[L.LogicalPlan] = []
    prop = L.LogicalPlan.__dict__["key"]
    original = prop.func

    def counting(node: L.LogicalPlan):
        computed.append(node)
        return original(node)

    monkeypatch.setattr(prop, "func", counting)
    plan = _query()
    assert shared_subplans(plan)  # the aggregation is used twice
    nodes = {id(n) for n in plan.walk()}
    assert sorted(id(n) for n in computed) == sorted(nodes)
    before = len(computed)
    shared_subplans(plan)
    reduce_grouped_sides(plan)
    pushdown_projections(plan)
    # Later walks key only nodes the rules built anew, never the plan's nodes again.
    assert not {id(n) for n in computed[before:]} & nodes


def test_equal_subtrees_have_equal_keys_and_functions_have_none():
    df = sf.from_pydict({"a": [1, 2]})
    one = df.where(col("a") > 1)._builder
    two = df.where(col("a") > 1)._builder
    other = df.where(col("a") > 2)._builder
    assert one is not two and one.key == two.key
    assert one.key != other.key
    udf = df.with_column("b", col("a").apply(lambda v: v, return_dtype=pa.int64()))._builder
    assert udf.key is None
    assert udf.child.key == df._builder.key  # the part without the function keeps its key
