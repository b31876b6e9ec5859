"""A join of two Parquet scans stored in order of the join key reads, next to each part
of one side, the other side's row groups that overlap its key range: no exchange,
the answer of a hash join."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import spillframe as sf
from spillframe import col
from spillframe.api.execution import physical_plan
from spillframe.config import configure
from spillframe.testing import assert_df_equal

# Small partitions (several row groups per side) and no broadcasts: the hash join's
# exchange is what an aligned join replaces.
SMALL = {"partition_bytes": 8 * 1024, "broadcast_join_bytes": 0}


def _write_ranges(directory, name, bounds, repeat, rng, row_group_size, missing=()):
    """Files holding keys ``bounds[i]..bounds[i+1]-1`` each, every key ``repeat``
    times, except the ``missing`` ones."""
    directory.mkdir()
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        keys = np.repeat([k for k in range(lo, hi) if k not in missing], repeat)
        table = pa.table(
            {
                "k": pa.array(keys, pa.int64()),
                f"{name}_v": rng.normal(size=len(keys)),
                f"{name}_s": [f"{name}{j % 5}" for j in range(len(keys))],
            }
        )
        pq.write_table(table, directory / f"{name}-{i}.parquet", row_group_size=row_group_size)
    return str(directory)


@pytest.fixture
def sides(tmp_path):
    rng = np.random.default_rng(7)
    # The big side: four files of 300 keys, three rows each, in row groups of 200 rows.
    big = _write_ranges(tmp_path / "big", "big", [0, 300, 600, 900, 1200], 3, rng, 200)
    # The small side: other file boundaries, one row per key, and some keys absent
    # (among them a whole row group's range of the big side: 0..99).
    missing = {*range(0, 100), *range(400, 450)}
    small = _write_ranges(tmp_path / "small", "small", [0, 500, 1000, 1300], 1, rng, 250, missing)
    return big, small


def _stage_names(df) -> list[str]:
    return [s.name for s in physical_plan(df._builder).stages.values()]


def _exchanges(df) -> int:
    stages = physical_plan(df._builder).stages.values()
    return sum(any(t.num_outputs > 1 for t in s.tasks) for s in stages)


@pytest.mark.parametrize("how", ["inner", "left", "semi", "anti"])
def test_sides_stored_in_key_order_are_joined_without_an_exchange(sf_runner, sides, how):
    big, small = sides
    with configure(**SMALL):
        left, right = sf.read_parquet(big), sf.read_parquet(small)
        aligned = left.join(right, on="k", how=how)
        hashed = left.join(right, on="k", how=how, strategy="hash")
        assert _exchanges(aligned) == 0
        assert any(name.endswith("aligned-join") for name in _stage_names(aligned))
        assert _exchanges(hashed) == 2
        expected = hashed.to_arrow()
        assert expected.num_rows > 0
        assert_df_equal(aligned.to_arrow(), expected)


def test_an_inner_join_is_driven_by_its_larger_side(sf_runner, sides):
    big, small = sides
    with configure(**SMALL):
        query = sf.read_parquet(small).join(sf.read_parquet(big), on="k")
        [stage] = physical_plan(query._builder).stages.values()
        # Tasks over the big (right) side's 24 row groups, at least one per part of its
        # scan; the small side has 6 row groups.
        big_parts = physical_plan(sf.read_parquet(big)._builder).output.num_partitions
        assert big_parts <= stage.num_partitions <= 24
        result = query.to_arrow()
        expected = sf.read_parquet(small).join(sf.read_parquet(big), on="k", strategy="hash")
        assert_df_equal(result, expected.to_arrow())
        assert result.num_rows == 3 * (1200 - 150)


def test_an_aligned_join_sizes_its_parts_by_its_output(sf_runner, sides):
    big, small = sides
    left, right = sf.read_parquet(big), sf.read_parquet(small)
    with configure(partition_bytes=64 * 1024, broadcast_join_bytes=0):
        scan_parts = physical_plan(left._builder).output.num_partitions
        query = left.join(right, on="k")
        [stage] = physical_plan(query._builder).stages.values()
        # The output is about twice the big side: twice the parts of its scan.
        assert stage.num_partitions >= 2 * scan_parts
        assert_df_equal(query.to_arrow(), left.join(right, on="k", strategy="hash").to_arrow())


def test_filters_and_a_renamed_key_keep_the_join_aligned(sf_runner, sides):
    big, small = sides
    with configure(**SMALL):
        right = (
            sf.read_parquet(small)
            .where(col("small_v") > 0)
            .select(col("k").alias("rk"), "small_v", "small_s")
        )
        left = sf.read_parquet(big).where(col("big_s") != "big1")
        query = left.join(right, left_on="k", right_on="rk", how="left")
        assert _exchanges(query) == 0
        expected = left.join(right, left_on="k", right_on="rk", how="left", strategy="hash")
        assert_df_equal(query.to_arrow(), expected.to_arrow())


@pytest.mark.parametrize("how", ["right", "outer"])
def test_joins_keeping_unmatched_rows_of_the_other_side_keep_the_exchange(sf_runner, sides, how):
    big, small = sides
    with configure(**SMALL):
        left, right = sf.read_parquet(big), sf.read_parquet(small)
        query = left.join(right, on="k", how=how)
        assert _exchanges(query) == 2
        expected = left.to_pandas().merge(right.to_pandas(), on="k", how=how)
        assert_df_equal(query.to_arrow(), expected, check_dtype=False)


def test_a_side_not_stored_in_key_order_keeps_the_exchange(sf_runner, sides, tmp_path):
    _, small = sides
    rng = np.random.default_rng(8)
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    keys = rng.permutation(np.repeat(np.arange(1200), 2))
    for i, chunk in enumerate(np.array_split(keys, 4)):
        table = pa.table({"k": pa.array(chunk, pa.int64()), "x": rng.normal(size=len(chunk))})
        pq.write_table(table, shuffled / f"s-{i}.parquet", row_group_size=200)
    with configure(**SMALL):
        query = sf.read_parquet(str(shuffled)).join(sf.read_parquet(small), on="k")
        assert _exchanges(query) == 2
        expected = (
            sf.read_parquet(str(shuffled)).to_pandas().merge(sf.read_parquet(small).to_pandas())
        )
        assert_df_equal(query.to_arrow(), expected, check_dtype=False)
