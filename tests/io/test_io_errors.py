"""Errors while reading name the file: missing, corrupt, or not unifiable."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import spillframe as sf
from spillframe import SourceError


@pytest.mark.parametrize("reader", [sf.read_parquet, sf.read_csv, sf.read_json])
def test_missing_path_names_it(tmp_path, reader):
    missing = os.path.join(tmp_path, "nope.data")
    with pytest.raises(SourceError, match=r"no such file or directory: '.*nope\.data'"):
        reader(missing)


@pytest.mark.parametrize("reader", [sf.read_parquet, sf.read_csv, sf.read_json])
def test_glob_matching_nothing_names_it(tmp_path, reader):
    with pytest.raises(SourceError, match=r"'.*\*\.zzz' matches no files"):
        reader(os.path.join(tmp_path, "*.zzz"))


def test_missing_path_in_a_list_names_it(tmp_path):
    good = os.path.join(tmp_path, "a.parquet")
    pq.write_table(pa.table({"x": [1]}), good)
    with pytest.raises(SourceError, match=r"no such file or directory: '.*b\.parquet'"):
        sf.read_parquet([good, os.path.join(tmp_path, "b.parquet")])


def test_empty_path_list_is_an_error():
    with pytest.raises(SourceError, match="at least one path"):
        sf.read_parquet([])


def test_corrupt_parquet_file_names_it(tmp_path):
    good = os.path.join(tmp_path, "a.parquet")
    pq.write_table(pa.table({"x": [1]}), good)
    with open(os.path.join(tmp_path, "b.parquet"), "wb") as f:
        f.write(os.urandom(64) + b"definitely not parquet")
    with pytest.raises(SourceError, match=r"cannot read Parquet file '.*b\.parquet'"):
        sf.read_parquet(str(tmp_path))


def test_parquet_corrupted_after_planning_names_it(sf_runner, tmp_path):
    path = os.path.join(tmp_path, "a.parquet")
    pq.write_table(pa.table({"x": list(range(100))}), path)
    df = sf.read_parquet(path)
    with open(path, "wb") as f:
        f.write(b"garbage" * 50)
    with pytest.raises(SourceError, match=r"a\.parquet"):
        df.to_arrow()


def test_schemas_that_cannot_be_unified_name_both_files(tmp_path):
    pq.write_table(pa.table({"x": [1, 2]}), os.path.join(tmp_path, "a.parquet"))
    pq.write_table(pa.table({"x": ["one"]}), os.path.join(tmp_path, "b.parquet"))
    with pytest.raises(
        SourceError,
        match=r"Parquet file '.*b\.parquet' cannot be unified with "
        r"'.*a\.parquet'.*int64.*string.*schema=",
    ):
        sf.read_parquet(str(tmp_path))


def test_compatible_schemas_are_unified(sf_runner, tmp_path):
    pq.write_table(pa.table({"x": pa.array([1], pa.int32())}), os.path.join(tmp_path, "a.parquet"))
    pq.write_table(pa.table({"x": [2], "y": ["b"]}), os.path.join(tmp_path, "b.parquet"))
    df = sf.read_parquet(str(tmp_path))
    result = df.to_arrow()
    assert result.schema == df.schema()
    assert result.to_pydict() == {"x": [1, 2], "y": [None, "b"]}


def test_corrupt_parquet_is_a_source_error_and_os_error():
    assert issubclass(SourceError, OSError)
