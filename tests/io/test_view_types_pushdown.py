"""Parquet files with string_view columns (as tpchgen writes them) filter correctly."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import spillframe as sf
from spillframe import col


@pytest.fixture
def view_file(tmp_path):
    path = str(tmp_path / "views.parquet")
    table = pa.table({"s": pa.array(["a", "b", None], pa.string_view()), "x": [1, 2, 3]})
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize(
    "predicate, expected",
    [
        (col("x") > 1, [2, 3]),
        (col("s").is_in(["a"]), [1]),
        (col("s") == "b", [2]),
        (col("s").is_null(), [3]),
        ((col("s") != "a") & (col("x") < 3), [2]),
    ],
)
def test_filters_on_view_typed_files(sf_runner, view_file, predicate, expected):
    df = sf.read_parquet(view_file)
    assert df.schema().field("s").type == pa.string()
    assert df.where(predicate).to_pydict()["x"] == expected


def test_size_estimate_is_the_decoded_size(tmp_path):
    """Dictionary-encoded strings are far larger in memory than on disk: the plan's
    estimate (which sizes partitions) must follow the decoded size."""
    path = str(tmp_path / "dict.parquet")
    values = [f"a fairly long repeated comment number {i % 10}" for i in range(20_000)]
    table = pa.table({"s": values, "i": list(range(20_000))})
    pq.write_table(table, path)
    from spillframe.api.execution import physical_plan

    estimate = physical_plan(sf.read_parquet(path)._plan).output.estimated_bytes
    assert 0.8 * table.nbytes <= estimate <= 1.25 * table.nbytes
