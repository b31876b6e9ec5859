"""write_parquet / write_csv: partition_cols, write modes, all-or-nothing output."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import SchemaError, col
from spillframe.runners.py_runner import PyRunner
from spillframe.testing import assert_df_equal

DATA = {
    "k": ["a", "b", "a", "c", "b", "a"],
    "v": [1, 2, 3, 4, 5, 6],
    "x": [0.5, None, 1.5, 2.5, 3.5, 4.5],
}


def _files(root):
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, names in os.walk(root) for f in names
    )


def _read_back(fmt, root, hive=False):
    if fmt == "parquet":
        return sf.read_parquet(root, hive_partitioning=hive)
    return sf.read_csv(root)


def _write(df, fmt, root, **kwargs):
    return getattr(df, f"write_{fmt}")(root, **kwargs)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_write_and_read_back(sf_runner, make_df, tmp_path, fmt):
    root = str(tmp_path / "out")
    written = _write(make_df(DATA, num_partitions=3), fmt, root)
    paths = written.to_pydict()["path"]
    assert len(paths) == 3 and all(os.path.isfile(p) and p.startswith(root) for p in paths)
    assert_df_equal(_read_back(fmt, root), DATA, sort_by="v")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_partition_cols_write_hive_directories(sf_runner, make_df, tmp_path, fmt):
    root = str(tmp_path / "out")
    _write(make_df(DATA, num_partitions=2), fmt, root, partition_cols=["k"])
    dirs = {f.split(os.sep)[0] for f in _files(root)}
    assert dirs == {"k=a", "k=b", "k=c"}
    if fmt == "parquet":
        back = sf.read_parquet(root, hive_partitioning=True)
        assert_df_equal(back.select("k", "v", "x"), DATA, sort_by="v", check_dtype=False)
        assert sorted(back.where(col("k") == "a").to_pydict()["v"]) == [1, 3, 6]
    else:
        back = sf.read_csv(os.path.join(root, "k=a"))
        assert sorted(back.to_pydict()["v"]) == [1, 3, 6]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_append_adds_files(sf_runner, make_df, tmp_path, fmt):
    root = str(tmp_path / "out")
    df = make_df(DATA, num_partitions=2)
    _write(df, fmt, root)
    _write(df, fmt, root, write_mode="append")
    assert len(_files(root)) == 4
    assert _read_back(fmt, root).count_rows() == 2 * len(DATA["v"])


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_overwrite_replaces_everything(sf_runner, make_df, tmp_path, fmt):
    root = str(tmp_path / "out")
    _write(make_df(DATA, num_partitions=2), fmt, root, partition_cols=["k"])
    small = make_df({"k": ["z"], "v": [9], "x": [9.5]})
    _write(small, fmt, root, write_mode="overwrite")
    assert len(_files(root)) == 1
    assert _read_back(fmt, root).to_pydict() == {"k": ["z"], "v": [9], "x": [9.5]}


def test_written_parquet_keeps_types(sf_runner, make_df, tmp_path):
    import datetime
    import decimal

    table = pa.table(
        {
            "d": pa.array([decimal.Decimal("1.25")], pa.decimal128(8, 2)),
            "day": [datetime.date(2024, 1, 1)],
            "l": [[1, 2]],
            "s": pa.array(["x"], pa.large_string()),
        }
    )
    root = str(tmp_path / "out")
    make_df(table).write_parquet(root)
    back = sf.read_parquet(root).to_arrow()
    assert back.schema == table.schema
    assert back.to_pylist() == table.to_pylist()


def test_bad_write_mode_is_rejected(make_df, tmp_path):
    with pytest.raises(ValueError, match=r"write_mode must be one of \['append', 'overwrite'\]"):
        make_df(DATA).write_parquet(str(tmp_path), write_mode="replace")


def test_unknown_partition_column_is_rejected_before_writing(make_df, tmp_path):
    root = tmp_path / "out"
    with pytest.raises(SchemaError, match=r"no column 'kk'.*did you mean 'k'"):
        make_df(DATA).write_parquet(str(root), partition_cols=["kk"])
    assert not root.exists() or _files(str(root)) == []


def _explode_on(value):
    def fn(v):
        if v == value:
            raise RuntimeError(f"boom on {v}")
        return v

    return fn


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("partition_cols", [None, ["k"]])
def test_failing_query_leaves_no_file_and_no_staging(
    sf_runner, make_df, tmp_path, fmt, partition_cols
):
    root = str(tmp_path / "out")
    df = make_df(DATA, num_partitions=3).with_column(
        "v", col("v").apply(_explode_on(5), pa.int64())
    )
    with pytest.raises(Exception, match="boom on 5"):
        _write(df, fmt, root, partition_cols=partition_cols)
    assert not os.path.exists(root), "the failed write left the directory it created"


def test_failing_overwrite_keeps_the_old_files(sf_runner, make_df, tmp_path):
    root = str(tmp_path / "out")
    make_df(DATA).write_parquet(root)
    before = _files(root)
    bad = make_df(DATA, num_partitions=2).with_column(
        "v", col("v").apply(_explode_on(1), pa.int64())
    )
    with pytest.raises(Exception, match="boom on 1"):
        bad.write_parquet(root, write_mode="overwrite")
    assert _files(root) == before
    assert sf.read_parquet(root).count_rows() == len(DATA["v"])


def test_writing_an_empty_result(sf_runner, make_df, tmp_path):
    root = str(tmp_path / "out")
    written = make_df(DATA, num_partitions=2).where(col("v") > 100).write_parquet(root)
    assert written.to_pydict() == {"path": []}
    assert os.listdir(root) == []


def test_root_dir_that_is_a_file_is_an_error(make_df, tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(sf.SourceError, match="it is a file, not a directory"):
        make_df(DATA).write_parquet(str(path))


def test_write_csv_of_nested_column_fails_before_writing(make_df, tmp_path):
    root = tmp_path / "out"
    df = make_df({"a": [1], "l": [[1, 2]], "st": [{"x": 1}]})
    with pytest.raises(
        SchemaError,
        match=r"write_csv cannot write nested column\(s\) "
        r"l \(list<item: int64>\), st .*use write_parquet",
    ):
        df.write_csv(str(root))
    assert not root.exists() or os.listdir(root) == []


def test_write_csv_after_flattening_a_list(sf_runner, make_df, tmp_path):
    root = str(tmp_path / "out")
    df = make_df({"l": [["a", "b"], ["c"]]}).select(col("l").list.join("|"))
    df.write_csv(root)
    assert sorted(sf.read_csv(root).to_pydict()["l"]) == ["a|b", "c"]


def test_null_partition_values_round_trip(sf_runner, make_df, tmp_path):
    root = str(tmp_path / "out")
    make_df({"k": ["a", None, "b"], "v": [1, 2, 3]}, num_partitions=2).write_parquet(
        root, partition_cols=["k"]
    )
    back = sf.read_parquet(root, hive_partitioning=True).sort("v").to_pydict()
    assert back == {"v": [1, 2, 3], "k": ["a", None, "b"]}


class _RecordingRunner(PyRunner):
    """A PyRunner that suggests tiny partitions and keeps the plans it runs."""

    def __init__(self, **options):
        super().__init__(**options)
        self.plans = []

    def planning_defaults(self):
        return {"partition_bytes": 1024}

    def run(self, plan, stats=None):
        self.plans.append(plan)
        return super().run(plan, stats)


@pytest.fixture
def recording_runner():
    runner = _RecordingRunner(num_threads=2)
    previous = sf.runners.base.set_active_runner(runner)
    yield runner
    sf.runners.base.set_active_runner(previous)
    runner.close()


def test_a_write_is_planned_like_every_query(recording_runner, parquet_dir, tmp_path):
    df = sf.read_parquet(parquet_dir)
    expected = df.num_partitions()  # under the runner's planning defaults
    assert expected > 1
    df.write_parquet(str(tmp_path / "out"))
    (plan,) = recording_runner.plans
    assert plan.output.name == "write-parquet"
    assert plan.output.num_partitions == expected
    assert sf.read_parquet(str(tmp_path / "out")).count_rows() == 900


def test_a_subquery_used_twice_is_written_from_one_computation(
    recording_runner, parquet_dir, tmp_path
):
    from spillframe.io.scan import ParquetScan

    totals = sf.read_parquet(parquet_dir).groupby("grp").agg(col("price").sum().alias("t"))
    best = totals.agg(col("t").max().alias("best"))
    query = totals.join(best, how="cross").where(col("t") == col("best")).select("grp", "t")
    scans = sf.read_parquet(parquet_dir).num_partitions()
    query.write_parquet(str(tmp_path / "out"))
    (plan,) = recording_runner.plans
    reads = sum(
        isinstance(arg, ParquetScan)
        for stage in plan.stages.values()
        for task in stage.tasks
        for arg in task.args
    )
    assert reads == scans  # the aggregation's input was read once, not once per use
    assert sf.read_parquet(str(tmp_path / "out")).to_pydict()["grp"] == [4]
