"""Aggregation over keys in order (spillframe.kernels.runs) gives Acero's answers."""

from __future__ import annotations

import datetime
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spillframe.kernels import runs
from spillframe.kernels.aggregate import AggSpec, aggregate, final_aggregate, partial_aggregate
from spillframe.kernels.aggregations import Step

SPECS = [
    AggSpec("sum", "v", "sum_v"),
    AggSpec("min", "v", "min_v"),
    AggSpec("max", "f", "max_f"),
    AggSpec("mean", "f", "mean_f"),
    AggSpec("count", "v", "count_v"),
    AggSpec("count_all", None, "rows"),
    AggSpec("min", "s", "min_s"),
    AggSpec("max", "s", "max_s"),
    AggSpec("max", "d", "max_d"),
    AggSpec("agg_list", "v", "list_v"),
]


@pytest.fixture
def fast_path_for_any_size(monkeypatch):
    monkeypatch.setattr(runs, "MIN_ROWS", 1)


def _with_min_rows(min_rows, func, *args):
    """``func(*args)`` with the fast path taken from ``min_rows`` rows on (a context,
    not the monkeypatch fixture: hypothesis runs many inputs in one test call)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runs, "MIN_ROWS", min_rows)
        return func(*args)


def _fast(func, *args):
    return _with_min_rows(1, func, *args)


def _acero(func, *args):
    return _with_min_rows(1 << 62, func, *args)


@st.composite
def ordered_tables(draw):
    n = draw(st.integers(1, 60))
    keys = sorted(draw(st.lists(st.integers(-3, 6), min_size=n, max_size=n)))
    maybe = lambda strategy: st.one_of(st.none(), strategy)  # noqa: E731
    values = draw(st.lists(maybe(st.integers(-50, 50)), min_size=n, max_size=n))
    floats = draw(st.lists(maybe(st.floats(-1e3, 1e3)), min_size=n, max_size=n))
    texts = draw(st.lists(maybe(st.text("abcé", max_size=4)), min_size=n, max_size=n))
    days = draw(st.lists(maybe(st.integers(0, 20_000)), min_size=n, max_size=n))
    table = pa.table(
        {
            "k": pa.array(keys, pa.int32()),
            "v": pa.array(values, pa.int64()),
            "f": pa.array(floats, pa.float64()),
            "s": pa.array(texts, pa.string()),
            "d": pa.array(days, pa.int32()).cast(pa.date32()),
        }
    )
    cuts = sorted(set(draw(st.lists(st.integers(0, n), max_size=4))))  # runs across chunks
    pieces = [table.slice(a, b - a) for a, b in zip([0, *cuts], [*cuts, n])]
    return pa.concat_tables(pieces)


def _assert_same(actual: pa.Table, expected: pa.Table) -> None:
    assert actual.schema == expected.schema
    assert actual.column("k").to_pylist() == sorted(expected.column("k").to_pylist())
    by_key = {row["k"]: row for row in expected.to_pylist()}
    for row in actual.to_pylist():
        for name, value in row.items():
            want = by_key[row["k"]][name]
            if isinstance(value, float) and want is not None:
                assert math.isclose(value, want, rel_tol=1e-9, abs_tol=1e-9), (row["k"], name)
            else:
                assert value == want, (row["k"], name, value, want)


@settings(max_examples=60, deadline=None)
@given(ordered_tables())
def test_one_phase_over_runs_matches_acero(table):
    assert runs.run_starts(table.column("k")) is not None
    expected = _acero(aggregate, table, ["k"], SPECS)
    _assert_same(_fast(aggregate, table, ["k"], SPECS), expected)


@settings(max_examples=40, deadline=None)
@given(ordered_tables(), st.integers(1, 4))
def test_two_phases_over_runs_match_acero(table, num_parts):
    step = -(-table.num_rows // num_parts)
    parts = [table.slice(i * step, step) for i in range(num_parts)]

    def two_phase() -> pa.Table:
        partials = pa.concat_tables([partial_aggregate(p, ["k"], SPECS) for p in parts])
        return final_aggregate(partials, ["k"], SPECS)

    _assert_same(_fast(two_phase), _acero(two_phase))


def test_run_starts_across_chunks_and_kinds():
    ints = pa.chunked_array([[1, 1, 2], [2, 2, 5], [5, 9]], pa.int64())
    assert runs.run_starts(ints).tolist() == [0, 2, 5, 7]
    texts = pa.chunked_array([["a", "a"], ["a", "b"], ["c"]])
    assert runs.run_starts(texts).tolist() == [0, 3, 4]
    days = pa.array([datetime.date(2020, 1, d) for d in (1, 1, 3)])
    assert runs.run_starts(days).tolist() == [0, 2]


@pytest.mark.parametrize(
    "key",
    [
        pa.array([1, 3, 2]),  # out of order
        pa.chunked_array([[1, 4], [3, 5]]),  # out of order at a chunk boundary
        pa.array([1, None, 2]),  # nulls
        pa.array([1.0, 2.0]),  # floating: NaNs and -0.0 are Acero's to group
        pa.array(["b", "a"]),
    ],
)
def test_keys_out_of_order_or_unsupported_go_to_acero(key):
    assert runs.run_starts(key) is None


def test_the_fast_path_declines_what_it_does_not_compute(fast_path_for_any_size):
    key = pa.chunked_array([[1, 1, 2]])
    known = Step("x", pa.array([1, 2, 3]), "sum", None, lambda found: found)
    unknown = Step("y", pa.array([1, 2, 3]), "distinct", None, lambda found: found)
    assert runs.aggregate_runs(key, [known]) is not None
    assert runs.aggregate_runs(key, [known, unknown]) is None
    out_of_order = pa.chunked_array([[2, 1, 1]])
    assert runs.aggregate_runs(out_of_order, [known]) is None


def test_ordered_keys_take_the_fast_path_at_size(monkeypatch):
    n = runs.MIN_ROWS * 4
    table = pa.table({"k": np.repeat(np.arange(n // 4), 4), "v": np.arange(n, dtype=np.float64)})
    taken = []
    original = runs.aggregate_runs

    def spy(key, steps):
        found = original(key, steps)
        taken.append(found is not None)
        return found

    monkeypatch.setattr("spillframe.kernels.aggregate.aggregate_runs", spy)
    result = aggregate(table, ["k"], [AggSpec("sum", "v", "total")])
    assert taken == [True]
    assert result.num_rows == n // 4
    assert result.column("total")[1].as_py() == 4 + 5 + 6 + 7
