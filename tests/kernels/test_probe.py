"""The indexed small side of a broadcast join gives hash_join's answer, piece by piece."""

from __future__ import annotations

import datetime

import numpy as np
import pyarrow as pa
import pytest

from spillframe.kernels.join import hash_join
from spillframe.kernels.probe import STREAMS_PAST, index_unique_keys
from spillframe.testing import assert_df_equal


def _rows(table: pa.Table) -> list[tuple]:
    return sorted((tuple(r.values()) for r in table.to_pylist()), key=lambda r: tuple(map(repr, r)))


@pytest.fixture(scope="module")
def sides() -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(7)
    keys = rng.permutation(np.arange(100, 400))[:250]  # unique, dense, shuffled
    small_keys = pa.array(keys, pa.int32(), mask=np.arange(250) % 50 == 0)
    small = pa.table({"k": small_keys, "name": [f"n{i}" for i in range(250)]})
    big_keys = pa.array(rng.integers(50, 450, 3000), mask=rng.random(3000) < 0.05)
    big = pa.table({"k": big_keys, "x": rng.normal(size=3000)})
    return big, small


@pytest.mark.parametrize("how", STREAMS_PAST["right"])
def test_small_side_on_the_right_matches_hash_join(sides, how):
    big, small = sides
    index = index_unique_keys(small, ["k"], big.schema.field("k").type)
    assert index is not None
    pieces = [big.slice(i, 700) for i in range(0, big.num_rows, 700)]
    got = pa.concat_tables(index.join(p, "k", how) for p in pieces)
    want = hash_join(big, small, ["k"], ["k"], how)
    assert got.schema.equals(want.schema)
    assert _rows(got) == _rows(want)


@pytest.mark.parametrize("how", STREAMS_PAST["left"])
def test_small_side_on_the_left_matches_hash_join(sides, how):
    big, small = sides
    small = small.rename_columns(["key", "name"])
    index = index_unique_keys(small, ["key"], big.schema.field("k").type, side="left")
    assert index is not None
    got = pa.concat_tables(index.join(big.slice(i, 900), "k", how) for i in range(0, 3000, 900))
    want = hash_join(small, big, ["key"], ["k"], how)
    assert got.schema.equals(want.schema)
    assert _rows(got) == _rows(want)


def test_a_right_join_with_the_same_key_name_coalesces_the_key(sides):
    big, small = sides
    index = index_unique_keys(small, ["k"], big.schema.field("k").type, side="left")
    got = index.join(big, "k", "right")
    want = hash_join(small, big, ["k"], ["k"], "right")
    assert got.column("k").null_count == big.column("k").null_count
    assert_df_equal(got, want)


def test_date_keys_are_indexed():
    days = [datetime.date(2024, 1, 1) + datetime.timedelta(days=i) for i in range(30)]
    small = pa.table({"d": days, "v": list(range(30))})
    big = pa.table({"d": [days[3], days[29], datetime.date(2023, 1, 1), None]})
    index = index_unique_keys(small, ["d"], pa.date32())
    assert index is not None
    assert index.join(big, "d", "left").column("v").to_pylist() == [3, 29, None, None]


@pytest.mark.parametrize(
    ("small", "why"),
    [
        (pa.table({"k": [1, 2, 2], "v": [1, 2, 3]}), "a key held by two rows"),
        (pa.table({"k": [1.0, 2.0], "v": [1, 2]}), "float keys"),
        (pa.table({"k": ["a", "b"], "v": [1, 2]}), "string keys"),
        (pa.table({"k": [0, 10**12], "v": [1, 2]}), "a lookup array far larger than the side"),
        (pa.table({"k": pa.array([None, None], pa.int64()), "v": [1, 2]}), "no key at all"),
    ],
)
def test_sides_that_are_not_indexed(small, why):
    assert index_unique_keys(small, ["k"], small.schema.field("k").type) is None, why


def test_several_keys_are_not_indexed():
    small = pa.table({"a": [1, 2], "b": [3, 4]})
    assert index_unique_keys(small, ["a", "b"], pa.int64()) is None


def test_key_types_are_unified():
    small = pa.table({"k": pa.array([1, 2, 3], pa.int16()), "v": ["a", "b", "c"]})
    big = pa.table({"k": pa.array([3, 1, 7], pa.int64())})
    index = index_unique_keys(small, ["k"], pa.int64())
    out = index.join(big, "k", "inner")
    assert out.schema.field("k").type == pa.int64()
    assert out.to_pylist() == [{"k": 3, "v": "c"}, {"k": 1, "v": "a"}]


def test_semi_and_anti_joins_index_duplicate_keys_for_membership():
    small = pa.table({"k": [5, 5, 7, None, 9, 9]})
    big = pa.table({"k": [5, 6, 7, 9, None], "x": [1, 2, 3, 4, 5]})
    assert index_unique_keys(small, ["k"], pa.int64()) is None
    index = index_unique_keys(small, ["k"], pa.int64(), membership=True)
    assert index.join(big, "k", "semi").column("x").to_pylist() == [1, 3, 4]
    assert index.join(big, "k", "anti").column("x").to_pylist() == [2, 5]
    with pytest.raises(ValueError, match="membership"):
        index.join(big, "k", "inner")


@pytest.mark.parametrize(
    ("how", "side"), [("inner", "right"), ("left", "right"), ("inner", "left")]
)
def test_an_unindexable_side_over_the_grant_is_joined_out_of_core(tmp_path, how, side):
    """A side broadcast for its integer key whose keys repeat cannot be indexed; when a
    hash table over it would not fit the task's grant, the fused step joins the whole
    partition once by a grace hash join, which goes to disk, and answers as hash_join."""
    from spillframe.kernels.budget import MemoryGrant, granted
    from spillframe.kernels.inputs import with_inputs
    from spillframe.kernels.narrow import stream_partitions
    from spillframe.physical.steps import BroadcastJoinStep, JoinSpec

    rng = np.random.default_rng(11)
    small = pa.table({"k": rng.integers(0, 1_000, 2_000), "w": rng.normal(size=2_000)})
    big = pa.table({"k": rng.integers(0, 1_200, 3_000), "x": rng.normal(size=3_000)})
    left, right = (big, small) if side == "right" else (small, big)
    want = hash_join(left, right, ["k"], ["k"], how)
    spec = JoinSpec(("k",), ("k",), how, "right.", None, want.schema, broadcast=side)
    step = BroadcastJoinStep(spec, input_key=0, indexed=True)
    pieces = [big.slice(i, 500) for i in range(0, big.num_rows, 500)]
    grant = MemoryGrant(small.nbytes, str(tmp_path))  # a hash table needs about 2x

    def run() -> pa.Table:
        return pa.concat_tables(stream_partitions(pieces, (step,)))

    with granted(grant):
        got = with_inputs([(0, [small])], run, ())
    assert grant.spilled_objects > 0
    assert _rows(got) == _rows(want)
