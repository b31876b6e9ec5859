"""Tests of spillframe.kernels.external."""

from __future__ import annotations

import weakref

import numpy as np
import pyarrow as pa
import pytest

from spillframe.kernels.aggregate import AggSpec, aggregate, final_aggregate, partial_aggregate
from spillframe.kernels.budget import MemoryGrant
from spillframe.kernels.exchange import concat_tables
from spillframe.kernels.external import (
    external_sort,
    grace_hash_join,
    partition_to_disk,
    spilling_aggregate,
)
from spillframe.kernels.join import hash_join
from spillframe.kernels.sort import sort_table

TINY = 64 << 10
HUGE = 1 << 40


def parts(table, rows):
    """``table`` as a lazy stream of slices of ``rows`` rows."""
    return (table.slice(start, rows) for start in range(0, table.num_rows, rows))


def leftovers(tmp_path):
    return list(tmp_path.glob("spillframe-kernel-*"))


def canonical(table):
    """``table`` in one fixed row order, for order-insensitive comparison."""
    names = table.column_names
    return sort_table(table, names, [False] * len(names), [True] * len(names)).combine_chunks()


def assert_same_rows(actual, expected):
    assert actual.schema == expected.schema
    assert actual.num_rows == expected.num_rows
    assert canonical(actual).equals(canonical(expected))


def with_nulls(values, rng, fraction, kind):
    return pa.array(values, kind, mask=rng.random(len(values)) < fraction)


# ---------------------------------------------------------------------------- sort


def sort_data(n, seed=0):
    rng = np.random.default_rng(seed)
    floats = rng.integers(0, 40, n).astype(float)
    floats[rng.random(n) < 0.05] = np.nan
    return pa.table(
        {
            "i": with_nulls(rng.integers(0, 30, n), rng, 0.05, pa.int64()),
            "f": with_nulls(floats, rng, 0.05, pa.float64()),
            "s": with_nulls([f"s{v}" for v in rng.integers(0, 50, n)], rng, 0.05, pa.string()),
            "row": pa.array(np.arange(n)),
        }
    )


@pytest.mark.parametrize(
    ("keys", "descending", "nulls_first"),
    [
        (["i", "f"], [False, True], [True, False]),
        (["f", "s"], [True, False], [False, True]),
        (["s", "i", "f"], [False, False, True], [True, True, False]),
    ],
)
def test_external_sort_equals_stable_in_memory_sort(tmp_path, keys, descending, nulls_first):
    table = sort_data(20_000)
    grant = MemoryGrant(TINY, spill_dir=str(tmp_path))
    result = external_sort(parts(table, 400), keys, descending, nulls_first, grant)
    expected = sort_table(table, keys, descending, nulls_first)
    assert result.schema == table.schema
    # The row ids pin the whole permutation, stability included (keys repeat a lot).
    assert result.column("row").to_pylist() == expected.column("row").to_pylist()
    assert grant.spilled_bytes > table.nbytes  # runs, then a second merge pass
    assert not leftovers(tmp_path)


def test_external_sort_in_memory_under_budget(tmp_path):
    table = sort_data(5_000)
    grant = MemoryGrant(HUGE, spill_dir=str(tmp_path))
    result = external_sort(parts(table, 500), ["i", "s"], [True, False], [False, True], grant)
    expected = sort_table(table, ["i", "s"], [True, False], [False, True])
    assert result.column("row").equals(expected.column("row"))
    assert grant.spilled_bytes == 0
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("kind", ["dictionary", "string_view", "large_string"])
def test_external_sort_string_kinds(tmp_path, kind):
    rng = np.random.default_rng(1)
    words = pa.array([f"w{v:03d}" for v in rng.integers(0, 200, 8_000)])
    keys = {
        "dictionary": words.dictionary_encode(),
        "string_view": words.cast(pa.string_view()),
        "large_string": words.cast(pa.large_string()),
    }[kind]
    table = pa.table({"k": keys, "row": np.arange(len(words))})
    grant = MemoryGrant(TINY, spill_dir=str(tmp_path))
    result = external_sort(parts(table, 300), ["k"], [True], [False], grant)
    expected = sort_table(table, ["k"], [True], [False])
    assert result.schema == table.schema
    assert result.equals(expected)
    assert grant.spilled_bytes > 0


def test_external_sort_unifies_input_schemas_like_concat(tmp_path):
    first = pa.table({"k": pa.nulls(3_000, pa.null()), "s": pa.array(["a"] * 3_000)})
    rng = np.random.default_rng(2)
    second = pa.table(
        {
            "k": pa.array(rng.integers(0, 9, 3_000)),
            "s": pa.array([f"x{v}" for v in rng.integers(0, 9, 3_000)], pa.large_string()),
        }
    )
    tables = [*parts(first, 500), *parts(second, 500)]
    grant = MemoryGrant(TINY // 2, spill_dir=str(tmp_path))
    result = external_sort(iter(tables), ["k", "s"], [False, True], [False, False], grant)
    expected = sort_table(concat_tables(tables), ["k", "s"], [False, True], [False, False])
    assert grant.spilled_bytes > 0
    assert result.schema == expected.schema
    assert result.equals(expected)


def test_external_sort_of_no_table_needs_a_schema(tmp_path):
    schema = pa.schema([("k", pa.int64())])
    grant = MemoryGrant(TINY, spill_dir=str(tmp_path))
    assert external_sort([], ["k"], [False], [True], grant, schema).equals(schema.empty_table())
    with pytest.raises(ValueError, match="'schema'"):
        external_sort([], ["k"], [False], [True], grant)
    with pytest.raises(KeyError, match="no sort key column 'x'"):
        external_sort([], ["x"], [False], [True], grant, schema)


def test_external_sort_releases_each_input(tmp_path):
    alive = []

    def tracked():
        for part in parts(sort_data(20_000), 200):
            alive.append(weakref.ref(part))
            held = sum(ref() is not None for ref in alive)
            # A run is about limit // 3 bytes: ~12 tables of 200 rows; none held beyond it.
            assert held <= 14, held
            yield part

    grant = MemoryGrant(TINY, spill_dir=str(tmp_path))
    external_sort(tracked(), ["i"], [False], [True], grant)
    assert grant.spilled_bytes > 0


def failing(tables, after):
    for count, table in enumerate(tables):
        if count == after:
            raise RuntimeError("input failed")
        yield table


def test_external_sort_removes_its_files_on_error(tmp_path):
    grant = MemoryGrant(TINY, spill_dir=str(tmp_path))
    with pytest.raises(RuntimeError, match="input failed"):
        external_sort(failing(parts(sort_data(20_000), 400), 40), ["i"], [False], [True], grant)
    assert grant.spilled_bytes > 0
    assert not leftovers(tmp_path)


# ---------------------------------------------------------------------------- join


def join_sides(left_rows, right_rows, num_keys, seed=0):
    """Duplicate and null keys; int32 keys on the left, int64 on the right."""
    rng = np.random.default_rng(seed)
    left = pa.table(
        {
            "k": with_nulls(rng.integers(0, num_keys, left_rows), rng, 0.05, pa.int32()),
            "a": with_nulls(rng.integers(0, 3, left_rows), rng, 0.05, pa.int64()),
            "x": pa.array([f"l{i}" for i in range(left_rows)]),
        }
    )
    right = pa.table(
        {
            "k": with_nulls(rng.integers(0, num_keys, right_rows), rng, 0.05, pa.int64()),
            "b": with_nulls(rng.integers(0, 3, right_rows), rng, 0.05, pa.int16()),
            "x": pa.array(rng.random(right_rows)),
        }
    )
    return left, right


HOWS = ["inner", "left", "right", "outer", "semi", "anti"]
KEY_PAIRS = [(["k"], ["k"]), (["k", "a"], ["k", "b"])]


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize(("left_on", "right_on"), KEY_PAIRS, ids=["one_key", "two_keys"])
def test_grace_hash_join_equals_in_memory_join(tmp_path, how, left_on, right_on):
    left, right = join_sides(6_000, 5_000, 2_000)
    grant = MemoryGrant(TINY, spill_dir=str(tmp_path))
    result = grace_hash_join(
        parts(left, 300), parts(right, 250), left_on, right_on, how, "right.", None, grant
    )
    expected = hash_join(left, right, left_on, right_on, how, "right.", None)
    assert_same_rows(result, expected)
    assert grant.spilled_bytes > 0
    assert not leftovers(tmp_path)


def test_grace_hash_join_output_holds_only_its_rows(tmp_path):
    """Acero sizes every output batch for 32768 rows; the many small bucket joins of a
    spilled join must not each keep such buffers alive in the result."""
    left, right = join_sides(6_000, 5_000, 2_000)
    grant = MemoryGrant(TINY, spill_dir=str(tmp_path))
    result = grace_hash_join(
        parts(left, 300), parts(right, 250), ["k"], ["k"], "inner", "right.", None, grant
    )
    assert grant.spilled_bytes > 0 and result.column(0).num_chunks > 4
    assert result.get_total_buffer_size() <= 2 * result.nbytes  # 83x before


@pytest.mark.parametrize("how", ["inner", "outer", "anti", "cross"])
def test_grace_hash_join_in_memory_under_budget(tmp_path, how):
    left, right = join_sides(300, 200, 50)
    on = [] if how == "cross" else ["k"]
    grant = MemoryGrant(HUGE, spill_dir=str(tmp_path))
    result = grace_hash_join(parts(left, 40), parts(right, 30), on, on, how, "r_", "_r", grant)
    assert result.equals(hash_join(left, right, on, on, how, "r_", "_r"))
    assert grant.spilled_bytes == 0
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("how", ["outer", "semi"])
def test_grace_hash_join_partitions_a_large_bucket_again(tmp_path, how):
    left, right = join_sides(4_000, 4_000, 2_000, seed=3)
    grant = MemoryGrant(8 << 10, spill_dir=str(tmp_path))
    result = grace_hash_join(
        parts(left, 200), parts(right, 200), ["k"], ["k"], how, "right.", None, grant
    )
    assert_same_rows(result, hash_join(left, right, ["k"], ["k"], how))
    # More than the input was written: some buckets were partitioned a second time.
    assert grant.spilled_bytes > left.nbytes + right.nbytes
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("how", ["inner", "outer"])
def test_grace_hash_join_one_hot_key(tmp_path, how):
    """A key hashing cannot split is joined in memory after the last level."""
    left = pa.table({"k": pa.array([7] * 400 + [None] * 100), "v": np.arange(500)})
    right = pa.table({"k": pa.array([7] * 150, pa.int32()), "w": np.arange(150)})
    grant = MemoryGrant(4 << 10, spill_dir=str(tmp_path))
    result = grace_hash_join(
        parts(left, 50), parts(right, 50), ["k"], ["k"], how, "r.", None, grant
    )
    assert_same_rows(result, hash_join(left, right, ["k"], ["k"], how, "r."))
    assert grant.spilled_bytes > 0


def test_grace_hash_join_empty_side_uses_its_schema(tmp_path):
    left, right = join_sides(5_000, 10, 100)
    grant = MemoryGrant(TINY, spill_dir=str(tmp_path))
    result = grace_hash_join(
        parts(left, 300), [], ["k"], ["k"], "left", "right.", None, grant, right_schema=right.schema
    )
    assert_same_rows(result, hash_join(left, right.slice(0, 0), ["k"], ["k"], "left"))
    assert grant.spilled_bytes > 0
    with pytest.raises(ValueError, match="'right_schema'"):
        grace_hash_join([left], [], ["k"], ["k"], "left", "right.", None, grant)


def test_grace_hash_join_rejects_bad_arguments(tmp_path):
    grant = MemoryGrant(TINY, spill_dir=str(tmp_path))
    with pytest.raises(ValueError, match="unknown join type 'sideways'"):
        grace_hash_join([], [], ["k"], ["k"], "sideways", "r.", None, grant)
    with pytest.raises(ValueError, match="same positive number"):
        grace_hash_join([], [], ["k"], [], "inner", "r.", None, grant)


def test_grace_hash_join_removes_its_files_on_error(tmp_path):
    left, right = join_sides(6_000, 5_000, 2_000)
    grant = MemoryGrant(TINY, spill_dir=str(tmp_path))
    with pytest.raises(RuntimeError, match="input failed"):
        grace_hash_join(
            parts(left, 300),
            failing(parts(right, 250), 10),
            ["k"],
            ["k"],
            "inner",
            "right.",
            None,
            grant,
        )
    assert grant.spilled_bytes > 0
    assert not leftovers(tmp_path)


# ---------------------------------------------------------------------------- aggregate


SPECS = [
    AggSpec("sum", "v", "v_sum"),
    AggSpec("min", "v", "v_min"),
    AggSpec("max", "f", "f_max"),
    AggSpec("count", "v", "v_count"),
    AggSpec("count_all", None, "rows"),
    AggSpec("mean", "v", "v_mean"),
    AggSpec("count_distinct", "s", "s_distinct"),
    AggSpec("any_value", "s", "s_any"),
    AggSpec("agg_list", "v", "v_list"),
]


def agg_data(n, num_groups, seed=0):
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "k": with_nulls(rng.integers(0, num_groups, n), rng, 0.03, pa.int64()),
            "g": with_nulls([f"g{v}" for v in rng.integers(0, 3, n)], rng, 0.03, pa.string()),
            "v": with_nulls(rng.integers(-100, 100, n), rng, 0.1, pa.int32()),
            "f": with_nulls(rng.random(n), rng, 0.1, pa.float64()),
            "s": with_nulls([f"s{v}" for v in rng.integers(0, 20, n)], rng, 0.1, pa.string()),
        }
    )


def partials_of(table, keys, rows):
    return [partial_aggregate(part, keys, SPECS) for part in parts(table, rows)]


def assert_same_groups(actual, expected, keys):
    assert actual.schema == expected.schema
    by_key = lambda t: sort_table(t, keys, [False] * len(keys), [True] * len(keys))  # noqa: E731
    assert by_key(actual).to_pylist() == by_key(expected).to_pylist()


@pytest.mark.parametrize("keys", [["k"], ["k", "g"]])
def test_spilling_aggregate_single_phase(tmp_path, keys):
    table = agg_data(20_000, 1_500)
    grant = MemoryGrant(TINY, spill_dir=str(tmp_path))
    result = spilling_aggregate(parts(table, 500), keys, SPECS, "single", grant)
    expected = aggregate(table, keys, SPECS)
    assert_same_groups(result, expected, keys)
    # One group per null key combination: k null with g in g0, g1, g2 and null.
    assert result.filter(result.column("k").is_null()).num_rows == (4 if len(keys) > 1 else 1)
    assert grant.spilled_bytes > 0
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("keys", [["k"], ["g", "k"]])
def test_spilling_aggregate_final_phase(tmp_path, keys):
    partials = partials_of(agg_data(20_000, 1_500, seed=1), keys, 2_000)
    grant = MemoryGrant(TINY, spill_dir=str(tmp_path))
    result = spilling_aggregate(iter(partials), keys, SPECS, "final", grant)
    expected = final_aggregate(concat_tables(partials), keys, SPECS)
    assert_same_groups(result, expected, keys)
    assert grant.spilled_bytes > 0
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("phase", ["single", "final"])
def test_spilling_aggregate_in_memory_under_budget_or_without_keys(tmp_path, phase):
    table = agg_data(5_000, 100)
    for keys, limit in ((["k"], HUGE), ([], TINY // 8)):
        inputs = partials_of(table, keys, 1_000) if phase == "final" else list(parts(table, 500))
        kernel = final_aggregate if phase == "final" else aggregate
        grant = MemoryGrant(limit, spill_dir=str(tmp_path))
        result = spilling_aggregate(iter(inputs), keys, SPECS, phase, grant)
        assert result.equals(kernel(concat_tables(inputs), keys, SPECS))
        assert grant.spilled_bytes == 0
    assert not leftovers(tmp_path)


def test_spilling_aggregate_partitions_a_large_bucket_again(tmp_path):
    table = agg_data(8_000, 3_000, seed=2)
    grant = MemoryGrant(8 << 10, spill_dir=str(tmp_path))
    result = spilling_aggregate(parts(table, 200), ["k"], SPECS, "single", grant)
    assert_same_groups(result, aggregate(table, ["k"], SPECS), ["k"])
    assert grant.spilled_bytes > table.nbytes
    assert not leftovers(tmp_path)


def test_spilling_aggregate_one_hot_group(tmp_path):
    table = agg_data(4_000, 1)
    grant = MemoryGrant(8 << 10, spill_dir=str(tmp_path))
    result = spilling_aggregate(parts(table, 200), ["k"], SPECS, "single", grant)
    assert_same_groups(result, aggregate(table, ["k"], SPECS), ["k"])
    assert result.num_rows == 2  # 0 and null


def test_spilling_aggregate_of_no_table_and_bad_phase(tmp_path):
    schema = agg_data(1, 1).schema
    grant = MemoryGrant(TINY, spill_dir=str(tmp_path))
    result = spilling_aggregate([], ["k"], SPECS, "single", grant, schema)
    assert result.equals(aggregate(schema.empty_table(), ["k"], SPECS))
    with pytest.raises(ValueError, match="'schema'"):
        spilling_aggregate([], ["k"], SPECS, "single", grant)
    with pytest.raises(ValueError, match="unknown aggregation phase 'partial'"):
        spilling_aggregate([], ["k"], SPECS, "partial", grant, schema)


# ---------------------------------------------------------------------------- partitioning


@pytest.mark.parametrize("spread", [False, True])
def test_partition_to_disk_keeps_keys_together_and_empty_buckets(tmp_path, spread):
    table = pa.table({"k": pa.array([1, None, 2, None, 1] * 20), "row": np.arange(100)})
    grant = MemoryGrant(TINY, spill_dir=str(tmp_path))
    with grant.scratch_dir() as directory:
        runs = partition_to_disk(
            parts(table, 7), ["k"], 16, 1, directory, grant, spread_null_keys=spread
        )
        assert len(runs) == 16
        tables = [run.read(table.schema) for run in runs]
    assert sum(t.num_rows for t in tables) == 100
    assert sum(run.num_rows for run in runs) == 100
    if not spread:
        assert any(not run.paths and t.num_rows == 0 for run, t in zip(runs, tables))
    holding = {
        value: sum(value in t.column("k").to_pylist() for t in tables) for value in (1, 2, None)
    }
    assert holding[1] == holding[2] == 1
    assert holding[None] == (16 if spread else 1)
    for t in tables:  # input order inside a bucket
        assert t.column("row").to_pylist() == sorted(t.column("row").to_pylist())
    assert not leftovers(tmp_path)
