"""read_csv and read_json (newline-delimited): options, several files, byte-range splits."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import SourceError, col
from spillframe.config import configure
from spillframe.testing import assert_df_equal

ROWS = [{"id": i, "name": f"name-{'x' * (i % 5)}{i}", "score": i * 0.5} for i in range(300)]


def _write_csv(path, rows, header=True, delimiter=",", newline="\n"):
    with open(path, "w", newline="") as f:
        if header:
            f.write(delimiter.join(rows[0]) + newline)
        for r in rows:
            f.write(delimiter.join(str(v) for v in r.values()) + newline)
    return str(path)


def _write_json(path, rows):
    with open(path, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    return str(path)


def test_csv_with_headers_infers_types(sf_runner, tmp_path):
    df = sf.read_csv(_write_csv(tmp_path / "a.csv", ROWS))
    assert df.schema() == pa.schema(
        [("id", pa.int64()), ("name", pa.string()), ("score", pa.float64())]
    )
    result = df.to_arrow()
    assert result.schema == df.schema()
    assert result.to_pylist() == ROWS


def test_csv_without_headers_names_columns(sf_runner, tmp_path):
    df = sf.read_csv(_write_csv(tmp_path / "a.csv", ROWS[:3], header=False), has_headers=False)
    assert df.column_names == ["column_1", "column_2", "column_3"]
    assert df.to_pydict()["column_1"] == [0, 1, 2]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_csv_delimiter(sf_runner, tmp_path, delimiter):
    path = _write_csv(tmp_path / "a.csv", ROWS[:5], delimiter=delimiter)
    assert sf.read_csv(path, delimiter=delimiter).to_pylist() == ROWS[:5]


def test_csv_bad_delimiter_raises():
    with pytest.raises(ValueError, match="delimiter must be one character, got ';;'"):
        sf.read_csv("whatever.csv", delimiter=";;")


def test_csv_explicit_schema(sf_runner, tmp_path):
    schema = pa.schema([("id", pa.int32()), ("name", pa.large_string()), ("score", pa.float32())])
    df = sf.read_csv(_write_csv(tmp_path / "a.csv", ROWS[:4]), schema=schema)
    result = df.to_arrow()
    assert result.schema == schema == df.schema()
    assert result.column("id").to_pylist() == [0, 1, 2, 3]


def test_csv_explicit_schema_without_headers(sf_runner, tmp_path):
    schema = pa.schema([("k", pa.int64()), ("v", pa.string()), ("s", pa.float64())])
    path = _write_csv(tmp_path / "a.csv", ROWS[:3], header=False)
    assert sf.read_csv(path, schema=schema, has_headers=False).to_pydict()["k"] == [0, 1, 2]


def test_csv_several_files_in_order(sf_runner, tmp_path):
    paths = [_write_csv(tmp_path / f"p{i}.csv", ROWS[i * 100 : (i + 1) * 100]) for i in range(3)]
    assert sf.read_csv(paths).to_pylist() == ROWS
    assert sf.read_csv(str(tmp_path)).to_pylist() == ROWS
    assert sf.read_csv(str(tmp_path / "p*.csv")).to_pylist() == ROWS


def test_csv_header_mismatch_names_the_file(tmp_path):
    good = _write_csv(tmp_path / "a.csv", ROWS[:2])
    bad = tmp_path / "b.csv"
    bad.write_text("id,title,score\n1,x,2.0\n")
    with pytest.raises(
        SourceError,
        match=r"CSV file '.*b\.csv' has header \['id', 'title', "
        r"'score'\] but '.*a\.csv' has",
    ):
        sf.read_csv([good, str(bad)])


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("partition_bytes", [64, 333, 1000])
def test_csv_split_into_byte_ranges_gives_the_same_rows(
    sf_runner, tmp_path, newline, partition_bytes
):
    path = _write_csv(tmp_path / "a.csv", ROWS, newline=newline)
    whole = sf.read_csv(path).to_arrow()
    with configure(partition_bytes=partition_bytes):
        df = sf.read_csv(path)
        n = df.num_partitions()
        parts = list(df.iter_partitions())
    assert n == len(parts) > 1
    assert sum(p.num_rows for p in parts) == len(ROWS)
    assert_df_equal(pa.concat_tables(parts), whole, check_row_order=True)


@pytest.mark.parametrize("partition_bytes", [50, 400])
def test_csv_split_with_projection_and_filter(sf_runner, tmp_path, partition_bytes):
    path = _write_csv(tmp_path / "a.csv", ROWS)
    with configure(partition_bytes=partition_bytes):
        df = sf.read_csv(path).where(col("id") % 7 == 0).select("name")
        assert df.to_pydict()["name"] == [r["name"] for r in ROWS if r["id"] % 7 == 0]


def test_json_newline_delimited(sf_runner, tmp_path):
    df = sf.read_json(_write_json(tmp_path / "a.jsonl", ROWS))
    result = df.to_arrow()
    assert result.schema == df.schema()
    assert result.to_pylist() == ROWS


def test_json_several_files_and_schema(sf_runner, tmp_path):
    paths = [_write_json(tmp_path / f"p{i}.jsonl", ROWS[i * 150 : (i + 1) * 150]) for i in range(2)]
    schema = pa.schema([("id", pa.int32()), ("score", pa.float64())])
    df = sf.read_json(paths, schema=schema)
    assert df.to_arrow().schema == schema
    assert df.to_pydict()["id"] == [r["id"] for r in ROWS]


@pytest.mark.parametrize("partition_bytes", [40, 500, 2048])
def test_json_split_into_byte_ranges_gives_the_same_rows(sf_runner, tmp_path, partition_bytes):
    path = _write_json(tmp_path / "a.jsonl", ROWS)
    with configure(partition_bytes=partition_bytes):
        df = sf.read_json(path)
        n = df.num_partitions()
        parts = list(df.iter_partitions())
    assert n == len(parts) > 1
    assert pa.concat_tables(parts).to_pylist() == ROWS


def test_json_nested_values(sf_runner, tmp_path):
    rows = [{"k": 1, "tags": ["a", "b"], "pos": {"x": 1.5}}, {"k": 2, "tags": [], "pos": None}]
    df = sf.read_json(_write_json(tmp_path / "n.jsonl", rows))
    assert df.where(col("k") == 1).select(col("tags").list.get(-1)).to_pydict() == {"tags": ["b"]}
    assert df.to_pylist() == rows


def test_unparseable_csv_names_the_file(sf_runner, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(SourceError, match=r"bad\.csv"):
        sf.read_csv(str(path)).to_arrow()


def test_unparseable_json_names_the_file(sf_runner, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(SourceError, match=r"bad\.jsonl"):
        sf.read_json(str(path)).to_arrow()


def test_text_sources_are_lazy(tmp_path):
    path = _write_csv(tmp_path / "a.csv", ROWS[:3])
    df = sf.read_csv(path)
    os.unlink(path)  # schema was read; rows are only read by a query
    assert df.column_names == ["id", "name", "score"]


def test_json_keys_of_later_files_become_columns(sf_runner, tmp_path):
    first = _write_json(tmp_path / "a.jsonl", [{"a": 1}])
    second = _write_json(tmp_path / "b.jsonl", [{"a": 2, "b": "x"}])
    df = sf.read_json([first, second])
    assert df.column_names == ["a", "b"]
    assert df.to_pydict() == {"a": [1, 2], "b": [None, "x"]}


def test_json_types_that_cannot_be_unified_name_the_file(tmp_path):
    first = _write_json(tmp_path / "a.jsonl", [{"a": 1}])
    second = _write_json(tmp_path / "b.jsonl", [{"a": {"nested": True}}])
    with pytest.raises(
        SourceError,
        match=r"JSON file '.*b\.jsonl' cannot be unified with "
        r"'.*a\.jsonl'.*schema=",
    ):
        sf.read_json([first, second])


def test_empty_text_files_name_the_file(tmp_path):
    (tmp_path / "e.csv").write_text("")
    (tmp_path / "e.jsonl").write_text("")
    with pytest.raises(SourceError, match=r"e\.csv"):
        sf.read_csv(str(tmp_path / "e.csv"))
    with pytest.raises(SourceError, match=r"e\.jsonl"):
        sf.read_json(str(tmp_path / "e.jsonl"))
