"""The DataFrame API on the Dask runner: answers, dashboard names, failures."""

from __future__ import annotations

import pandas as pd
import pytest
import sfdask_kernels as k

import spillframe as sf
from spillframe.api.execution import physical_plan
from spillframe.runners.base import set_active_runner
from spillframe.testing import assert_df_equal


@pytest.fixture
def on_dask(dask_runner):
    previous = set_active_runner(dask_runner)
    yield dask_runner
    set_active_runner(previous)


def frame(n: int = 2000) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k": [i % 17 for i in range(n)],
            "v": [float(i) for i in range(n)],
            "s": [f"s{(i * 7919) % 1000:04d}" for i in range(n)],
        }
    )


def test_groupby_sort_and_join_match_pandas(on_dask):
    pdf = frame()
    df = sf.from_pandas(pdf, num_partitions=4)
    grouped = df.groupby("k").agg(sf.col("v").sum(), sf.col("s").max()).sort("k").to_pandas()
    expected = pdf.groupby("k", as_index=False).agg(v=("v", "sum"), s=("s", "max"))
    assert_df_equal(grouped, expected, check_dtype=False)

    ordered = df.sort("s").to_pandas()
    assert ordered["s"].tolist() == sorted(pdf["s"])

    other = sf.from_pandas(pd.DataFrame({"k": range(17), "name": [f"n{i}" for i in range(17)]}))
    joined = df.join(other, on="k").to_pandas()
    assert len(joined) == len(pdf)
    assert (joined["name"] == "n" + joined["k"].astype(str)).all()


def test_dashboard_prefixes_are_the_plans_operator_words(on_dask, scheduler):
    df = sf.from_pandas(frame(), num_partitions=4).groupby("k").agg(sf.col("v").max())
    words = {task.name for stage in physical_plan(df._plan).stages.values() for task in stage.tasks}
    df.collect()
    prefixes = set(scheduler(lambda s: list(s.task_prefixes)))
    assert words <= prefixes, words - prefixes


def test_show_and_limit_stop_early(on_dask):
    df = sf.from_pandas(frame(), num_partitions=8)
    assert df.limit(5).to_pydict()["k"] == [0, 1, 2, 3, 4]
    df.show(3)


def test_worker_killed_by_a_udf_is_replaced_and_the_answer_is_right(on_dask, tmp_path):
    double = k.exit_once_udf(str(tmp_path / "died"))
    df = sf.from_pydict({"x": list(range(100))}, num_partitions=4)
    out = df.with_column("y", double(sf.col("x"))).sort("x").to_pydict()
    assert (tmp_path / "died").exists()
    assert out["y"] == [2 * x for x in range(100)]


def test_udf_memory_request_larger_than_any_worker_fails_naming_it(on_dask):
    @sf.udf(return_dtype=sf.DataType.int64(), memory_bytes=8 * 1024**3)
    def hungry(x):
        return x.to_arrow()

    df = sf.from_pydict({"x": [1, 2, 3]}).with_column("y", hungry(sf.col("x")))
    with pytest.raises(sf.ResourceError, match=r"hungry.*8.00 GiB.*largest worker.*1.00 GiB"):
        df.collect()
