"""A sort over re-readable input samples and splits without materializing it."""

from __future__ import annotations

import pyarrow.compute as pc

import spillframe as sf
from spillframe import col
from spillframe.api.execution import physical_plan
from spillframe.config import configure


def _stages(df):
    return [s.name for s in physical_plan(df._builder).topological_stages()]


def test_a_sorted_parquet_scan_is_read_by_the_samplers_and_the_splits(parquet_dir):
    with configure(partition_bytes=4 << 10):
        df = sf.read_parquet(parquet_dir).sort("name", desc=True)
        stages = _stages(df)
        sampler = physical_plan(df._builder).stages[0].tasks[0].args[0]
        result = df.to_arrow()
    # No stage that only holds the scan's output for the samplers and the splits.
    assert stages == ["sort-sample", "sort-range", "sort-local"], stages
    names = result.column("name")
    assert result.num_rows == 900
    assert pc.all(pc.greater_equal(names.slice(0, 899), names.slice(1))).as_py()
    assert sampler.columns == ("name",)  # the samplers read the key column only


def test_a_sort_over_a_udf_still_materializes_its_input(parquet_dir):
    calls = []

    @sf.udf(return_dtype=sf.DataType.int64())
    def tagged(x):
        calls.append(len(x))
        return x.to_pylist()

    with configure(partition_bytes=4 << 10):
        df = sf.read_parquet(parquet_dir).with_column("t", tagged(col("id"))).sort("t")
        assert _stages(df)[0] != "sort-sample"  # computed once, then sampled and split
        assert df.to_pydict()["t"] == list(range(900))
    assert sum(calls) == 900  # each row through the UDF once
