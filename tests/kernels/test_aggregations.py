"""The aggregation registry: every class is registered and keeps its declarations."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from spillframe.kernels.aggregate import aggregate, final_aggregate, partial_aggregate
from spillframe.kernels.aggregations import (
    AGG_OPS,
    AGGREGATIONS,
    Aggregation,
    AggSpec,
    aggregation,
)
from spillframe.kernels.exchange import concat_tables

TABLE = pa.table(
    {
        "k": ["a", "b", "a", "b", "a", None, "a"],
        "v": pa.array([3, None, 1, 4, None, 2, 3], pa.int64()),
        "s": ["x", None, "y", "z", "w", "u", None],
    }
)


def _column(op: str) -> str | None:
    """The column ``op`` aggregates here: strings for string_agg, else ``v``."""
    if not aggregation(op).needs_column:
        return None
    return "s" if op == "string_agg" else "v"


def _concrete(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        if not sub.__name__.startswith("_"):
            found.append(sub)
        found.extend(_concrete(sub))
    return found


def test_every_aggregation_class_is_registered_under_its_name():
    classes = _concrete(Aggregation)
    assert sorted(c.name for c in classes) == sorted(AGGREGATIONS)
    assert all(type(AGGREGATIONS[c.name]) is c for c in classes)
    assert tuple(AGGREGATIONS) == AGG_OPS


def test_an_unknown_aggregation_names_the_choices():
    with pytest.raises(ValueError, match="unknown aggregation 'median'; choose one of sum, mean"):
        aggregation("median")
    with pytest.raises(ValueError, match="unknown aggregation 'median'"):
        AggSpec("median", "v", "m")


def _by_key(table: pa.Table, name: str) -> dict:
    return dict(zip(table.column("k").to_pylist(), table.column(name).to_pylist()))


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    return a == b


@pytest.mark.parametrize("op", AGG_OPS)
def test_declared_type_and_both_phases_agree(op):
    """Each aggregation's output type is the declared one, and partial -> combine ->
    finalize over three partitions gives what one phase gives."""
    agg = aggregation(op)
    spec = AggSpec(op, _column(op), "out")
    one = aggregate(TABLE, ["k"], [spec])
    parts = [TABLE.slice(0, 2), TABLE.slice(2, 3), TABLE.slice(5)]
    partials = concat_tables([partial_aggregate(p, ["k"], [spec]) for p in parts])
    two = final_aggregate(partials, ["k"], [spec])
    column = _column(op)
    declared = agg.output_type(TABLE.schema.field(column).type) if column else pa.int64()
    assert one.schema.field("out").type == declared
    assert two.schema == one.schema
    one_rows, two_rows = _by_key(one, "out"), _by_key(two, "out")
    assert one_rows.keys() == two_rows.keys()
    for key, value in one_rows.items():
        if op == "any_value":  # some value of the group: either phase may pick another
            present = {
                v for k, v in zip(TABLE["k"].to_pylist(), TABLE[column].to_pylist()) if k == key
            }
            assert {value, two_rows[key]} <= present
        else:
            assert _same(value, two_rows[key]), (key, value, two_rows[key])


@pytest.mark.parametrize("op", AGG_OPS)
def test_a_global_aggregation_of_no_rows_is_zero_or_null(op):
    agg = aggregation(op)
    spec = AggSpec(op, _column(op), "out")
    empty = TABLE.slice(0, 0)
    expected = 0 if agg.zero_when_empty else None
    assert aggregate(empty, [], [spec]).column("out").to_pylist() == [expected]
    partials = partial_aggregate(empty, [], [spec])
    assert final_aggregate(partials, [], [spec]).column("out").to_pylist() == [expected]
