"""read_parquet: paths, hive partitioning, pushdown into the scan, partition sizing."""

from __future__ import annotations

import glob
import io as _io
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import spillframe as sf
from spillframe import col
from spillframe.config import configure
from spillframe.testing import assert_df_equal


def _paths(root):
    return sorted(glob.glob(os.path.join(root, "*.parquet")))


@pytest.mark.parametrize("kind", ["file", "directory", "glob", "list", "list-of-globs"])
def test_paths(sf_runner, one_file, three_files, table, kind):
    path = {
        "file": one_file,
        "directory": three_files,
        "glob": os.path.join(three_files, "part-*.parquet"),
        "list": _paths(three_files),
        "list-of-globs": [
            os.path.join(three_files, "part-0*"),
            os.path.join(three_files, "part-[12].parquet"),
        ],
    }[kind]
    df = sf.read_parquet(path)
    result = df.to_arrow()
    assert result.schema == df.schema() == table.schema
    assert_df_equal(result, table, check_row_order=True)


def test_directory_skips_hidden_and_underscore_files(sf_runner, three_files, table):
    open(os.path.join(three_files, "_SUCCESS"), "w").close()
    pq.write_table(table.slice(0, 5), os.path.join(three_files, ".hidden.parquet"))
    assert sf.read_parquet(three_files).count_rows() == table.num_rows


def test_explicit_schema(sf_runner, one_file):
    schema = pa.schema([("id", pa.int32()), ("price", pa.float32())])
    df = sf.read_parquet(one_file, schema=schema)
    result = df.where(col("id") < 3).to_arrow()
    assert result.schema == schema == df.schema()
    assert result.to_pydict() == {"id": [0, 1, 2], "price": [0.0, 0.25, 0.5]}


def test_hive_partitioning_adds_the_partition_column(sf_runner, hive_dir, table):
    df = sf.read_parquet(hive_dir, hive_partitioning=True)
    assert "grp" in df.column_names
    result = df.to_arrow()
    assert result.schema == df.schema()
    expected = table.select(["id", "name", "price", "grp"])
    assert_df_equal(result, expected, sort_by="id", check_dtype=False)


def test_without_hive_partitioning_the_directory_column_is_absent(sf_runner, hive_dir):
    assert "grp" not in sf.read_parquet(hive_dir).column_names


@pytest.mark.parametrize(
    "predicate", [col("grp") == 1, col("grp").is_in([1]), (col("grp") > 0) & (col("grp") < 2)]
)
def test_filter_on_partition_column_prunes_files(sf_runner, hive_dir, table, io, predicate):
    df = sf.read_parquet(hive_dir, hive_partitioning=True).where(predicate)
    files = {name for name, _ in io.row_groups(df)}
    assert files == {"data.parquet"}
    paths = {p.path for scan in io.scan_tasks(df) for p in scan.pieces}
    assert paths == {os.path.join(hive_dir, "grp=1", "data.parquet")}
    assert df.count_rows() == sum(1 for g in table["grp"].to_pylist() if g == 1)
    assert set(df.to_pydict()["grp"]) == {1}


def test_projection_pushdown_reads_only_needed_columns(sf_runner, one_file, io):
    df = sf.read_parquet(one_file).where(col("id") < 10).select((col("price") * 2).alias("p"))
    text = _io.StringIO()
    df.explain(file=text)
    assert "columns=[price]" in text.getvalue()
    # The filter on ``id`` runs inside the Parquet scanner, so only ``price`` is output.
    assert [scan.columns for scan in io.scan_tasks(df)] == [("price",)]
    assert df.to_pydict() == {"p": [i * 0.5 for i in range(10)]}


def test_predicate_pushdown_skips_row_groups_by_statistics(sf_runner, one_file, io):
    everything = sf.read_parquet(one_file)
    assert len(io.row_groups(everything)) == 6
    df = everything.where((col("id") >= 150) & (col("id") < 260))
    assert io.row_groups(df) == [("one.parquet", (1,)), ("one.parquet", (2,))]
    text = _io.StringIO()
    df.explain(file=text)
    assert "predicate=" in text.getvalue()
    assert df.to_pydict()["id"] == list(range(150, 260))


def test_predicate_matching_nothing_plans_no_row_groups(sf_runner, one_file, io):
    df = sf.read_parquet(one_file).where(col("id") > 10_000)
    assert io.row_groups(df) == []
    assert df.count_rows() == 0
    assert df.to_arrow().schema == df.schema()


@pytest.mark.parametrize("partition_bytes", [1, 3000, 6000, 1 << 30])
def test_partition_bytes_sets_the_number_of_scan_partitions(
    sf_runner, one_file, table, partition_bytes
):
    with configure(partition_bytes=partition_bytes):
        df = sf.read_parquet(one_file)
        n = df.num_partitions()
        parts = list(df.iter_partitions())
    assert n == len(parts)
    if partition_bytes == 1:
        assert n == 6  # one row group per task at most
    if partition_bytes == 1 << 30:
        assert n == 1
    assert_df_equal(pa.concat_tables(parts), table, check_row_order=True)


def test_smaller_partition_bytes_gives_more_partitions(sf_runner, three_files):
    counts = []
    for size in (1 << 30, 8000, 1):
        with configure(partition_bytes=size):
            counts.append(sf.read_parquet(three_files).num_partitions())
    assert counts[0] < counts[1] < counts[2] == 6


def test_num_partitions_is_exact_after_pushdown(sf_runner, one_file):
    with configure(partition_bytes=1):
        df = sf.read_parquet(one_file).where(col("id") < 250).select("id")
        assert df.num_partitions() == 3 == len(list(df.iter_partitions()))


@pytest.mark.parametrize("which", ["one-partition-dir", "one-partition-file", "glob"])
def test_hive_column_kept_when_every_file_is_in_one_partition(sf_runner, tmp_path, which):
    root = os.path.join(tmp_path, "ds")
    for day in ("2024-01-01", "2024-01-02"):
        os.makedirs(os.path.join(root, f"day={day}"))
        pq.write_table(pa.table({"x": [1, 2]}), os.path.join(root, f"day={day}", "p.parquet"))
    path = {
        "one-partition-dir": os.path.join(root, "day=2024-01-01"),
        "one-partition-file": os.path.join(root, "day=2024-01-01", "p.parquet"),
        "glob": os.path.join(root, "day=2024-01-0[1]", "*.parquet"),
    }[which]
    df = sf.read_parquet(path, hive_partitioning=True)
    assert df.column_names == ["x", "day"]
    result = df.to_arrow()
    assert result.schema == df.schema()
    assert result.column("day").to_pylist() == ["2024-01-01", "2024-01-01"]


def test_nested_hive_directories(sf_runner, tmp_path):
    root = os.path.join(tmp_path, "ds")
    for y in (2023, 2024):
        for m in (1, 2):
            os.makedirs(os.path.join(root, f"year={y}", f"month={m}"))
            pq.write_table(
                pa.table({"v": [y * 100 + m]}),
                os.path.join(root, f"year={y}", f"month={m}", "p.parquet"),
            )
    df = sf.read_parquet(root, hive_partitioning=True)
    assert df.column_names == ["v", "year", "month"]
    got = df.where((col("year") == 2024) & (col("month") == 2)).to_pydict()
    assert got == {"v": [202402], "year": [2024], "month": [2]}


def test_a_rewritten_file_is_planned_anew(sf_runner, tmp_path):
    """Planning caches what it reads from footers per file version: a file written
    again (new size or modification time) is read again, never from the cache."""
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": list(range(10))}), path)
    assert sf.read_parquet(str(path)).where(sf.col("x") >= 5).count_rows() == 5
    pq.write_table(pa.table({"x": list(range(100))}), path, row_group_size=30)
    assert sf.read_parquet(str(path)).where(sf.col("x") >= 5).count_rows() == 95


def test_a_partition_of_many_row_groups_keeps_the_file_order(tmp_path):
    """pyarrow's make_fragment(row_groups=[6, 7, 8]) reads 8, 6, 7 (it passes them
    through a set); a scan and an agg_list must see the file's order."""
    path = tmp_path / "ordered.parquet"
    n = 20_000
    table = pa.table({"k": [i % 3 for i in range(n)], "v": list(range(n)), "s": [0.5] * n})
    pq.write_table(table, path, row_group_size=500)
    with configure(partition_bytes=40_000):  # 3 or 4 row groups per partition: 6, 7, 8...
        df = sf.read_parquet(str(path))
        assert df.num_partitions() > 8
        assert df.where(col("v") >= 0).to_pydict()["v"] == list(range(n))
        lists = df.groupby("k").agg(col("v").agg_list(), col("v").sum().alias("s")).sort("k")
        assert [lst == sorted(lst) for lst in lists.to_pydict()["v"]] == [True] * 3
