"""limit(n) and show() read only what they need from a many-file dataset."""

from __future__ import annotations

import io as _io
import os
import threading

import pyarrow.parquet as pq
import pytest

import spillframe as sf
import spillframe.io.scan as scan_module
from spillframe import col
from spillframe.config import configure


@pytest.fixture
def many_files(tmp_path, io):
    """40 Parquet files of 25 rows each (ids in file order)."""
    table = io.make_table(1000)
    root = os.path.join(tmp_path, "many")
    os.makedirs(root)
    for i in range(40):
        pq.write_table(table.slice(i * 25, 25), os.path.join(root, f"f{i:02d}.parquet"))
    return root


@pytest.fixture
def read_counter(monkeypatch, sf_runner):
    """Counts Parquet files the scan kernel opens (in-process runners only)."""
    if sf_runner.name != "py":
        pytest.skip("counts reads in this process; the runner executes elsewhere")
    opened: list[str] = []
    lock = threading.Lock()

    def counting(original):
        def read(pieces, *args, **kwargs):
            with lock:
                opened.extend(p.path for p in pieces)
            return original(pieces, *args, **kwargs)

        return read

    # Whole partitions, or batch by batch (a scan that feeds filters and projections).
    for name in ("read_parquet_pieces", "iter_parquet_pieces"):
        monkeypatch.setattr(scan_module, name, counting(getattr(scan_module, name)))
    return opened


def test_limit_pushes_into_the_scan(sf_runner, many_files):
    df = sf.read_parquet(many_files).limit(5)
    text = _io.StringIO()
    df.explain(file=text)
    assert "limit=5" in text.getvalue()
    assert df.to_pydict()["id"] == [0, 1, 2, 3, 4]


def test_limit_reads_few_files(sf_runner, many_files, read_counter):
    with configure(partition_bytes=1):
        df = sf.read_parquet(many_files)
        assert df.num_partitions() == 40
        assert df.limit(30).to_pydict()["id"] == list(range(30))
    # Two files hold the rows; the runner may start a few more tasks in parallel.
    assert 2 <= len(read_counter) <= 8


def test_show_reads_few_files(sf_runner, many_files, read_counter):
    with configure(partition_bytes=1):
        out = _io.StringIO()
        sf.read_parquet(many_files).show(3, file=out)
    assert "(showing 3 rows)" in out.getvalue()
    assert 1 <= len(read_counter) <= 8


def test_full_read_opens_every_file(sf_runner, many_files, read_counter):
    with configure(partition_bytes=1):
        assert sf.read_parquet(many_files).count_rows() == 1000
    assert len(set(read_counter)) == 40


def test_limit_after_filter(sf_runner, many_files):
    with configure(partition_bytes=1):
        df = sf.read_parquet(many_files).where(col("grp") == 2).limit(4)
        assert df.to_pydict()["id"] == [2, 5, 8, 11]


@pytest.mark.parametrize("n", [0, 1, 25, 26, 999, 1000, 5000])
def test_limit_row_counts(sf_runner, many_files, n):
    with configure(partition_bytes=1):
        assert sf.read_parquet(many_files).limit(n).count_rows() == min(n, 1000)


def test_limit_on_split_csv(sf_runner, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("a\n" + "".join(f"{i}\n" for i in range(500)))
    with configure(partition_bytes=64):
        assert sf.read_csv(str(path)).limit(7).to_pydict() == {"a": list(range(7))}
