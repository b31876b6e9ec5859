"""In-memory sources (from_*) and the eager outputs (to_*, iter_*, count_rows)."""

from __future__ import annotations

import datetime

import pandas as pd
import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import col
from spillframe.testing import assert_df_equal

DATA = {
    "a": [1, 2, 3, 4, 5, 6, 7],
    "s": ["x", None, "z", "w", "v", "u", "t"],
    "f": [0.5, 1.5, None, 3.5, 4.5, 5.5, 6.5],
}
ROWS = [dict(zip(DATA, values)) for values in zip(*DATA.values())]


def _sources():
    return {
        "pydict": lambda n: sf.from_pydict(DATA, num_partitions=n),
        "pylist": lambda n: sf.from_pylist(ROWS, num_partitions=n),
        "pandas": lambda n: sf.from_pandas(pd.DataFrame(DATA), num_partitions=n),
        "arrow-table": lambda n: sf.from_arrow(pa.table(DATA), num_partitions=n),
        "arrow-batch": lambda n: sf.from_arrow(pa.record_batch(DATA), num_partitions=n),
        "arrow-list": lambda n: sf.from_arrow(
            [pa.record_batch(pa.table(DATA).slice(0, 3).to_pydict()), pa.table(DATA).slice(3)],
            num_partitions=n,
        ),
    }


@pytest.mark.parametrize("source", list(_sources()))
@pytest.mark.parametrize("n", [None, 1, 3, 10])
def test_from_sources_and_partition_counts(sf_runner, source, n):
    df = _sources()[source](n)
    assert df.num_partitions() == (n or 1)
    parts = list(df.iter_partitions())
    assert len(parts) == (n or 1)
    assert sum(p.num_rows for p in parts) == len(ROWS)
    assert_df_equal(df, DATA, check_row_order=True, check_dtype=False)


def test_from_pandas_drops_the_index_and_metadata(sf_runner):
    pdf = pd.DataFrame(DATA, index=[10 * i for i in range(7)])
    df = sf.from_pandas(pdf, num_partitions=2)
    assert df.column_names == ["a", "s", "f"]
    assert not df.schema().metadata
    assert df.to_arrow().schema == df.schema()
    assert df.to_pandas()["a"].tolist() == DATA["a"]


@pytest.mark.parametrize("num_partitions", [0, -1, 1.5, "2"])
def test_bad_num_partitions(num_partitions):
    with pytest.raises(ValueError, match="num_partitions must be an int >= 1"):
        sf.from_pydict(DATA, num_partitions=num_partitions)


@pytest.mark.parametrize(
    ("fn", "arg", "pattern"),
    [
        (sf.from_pydict, [1, 2], "from_pydict takes a dict of columns, got list"),
        (sf.from_pylist, {"a": 1}, "from_pylist takes a list of dicts, got dict"),
        (sf.from_pandas, {"a": [1]}, "from_pandas takes a pandas DataFrame, got dict"),
        (sf.from_arrow, [], "from_arrow takes a pyarrow Table, RecordBatch or a non-empty list"),
        (sf.from_pydict, {"a": [1, 2], "b": [1]}, "from_pydict: cannot build columns"),
    ],
)
def test_bad_inputs(fn, arg, pattern):
    with pytest.raises((TypeError, ValueError), match=pattern):
        fn(arg)


@pytest.mark.parametrize("n", [1, 3])
def test_outputs_agree(sf_runner, n):
    df = sf.from_pydict(DATA, num_partitions=n).where(col("a") > 2)
    expected = [r for r in ROWS if r["a"] > 2]
    assert df.to_pylist() == expected
    assert df.to_pydict() == {k: [r[k] for r in expected] for k in DATA}
    assert list(df.iter_rows()) == expected
    assert df.count_rows() == len(expected) == len(df)
    table = df.to_arrow()
    assert table.schema == df.schema() and table.to_pylist() == expected
    pdf = df.to_pandas()
    assert list(pdf.columns) == ["a", "s", "f"]
    pd.testing.assert_frame_equal(
        pdf.reset_index(drop=True),
        pd.DataFrame(expected).astype(pdf.dtypes.to_dict()),
        check_dtype=False,
    )


def test_iter_partitions_follow_partition_order(sf_runner):
    df = sf.from_pydict({"a": list(range(12))}, num_partitions=4)
    parts = [p.column("a").to_pylist() for p in df.iter_partitions()]
    assert [v for p in parts for v in p] == list(range(12))
    assert all(parts)


def test_empty_result_keeps_the_schema(sf_runner):
    df = sf.from_pydict(DATA, num_partitions=3).where(col("a") > 100)
    table = df.to_arrow()
    assert table.num_rows == 0 and table.schema == df.schema()
    assert df.to_pylist() == [] and df.count_rows() == 0
    assert list(df.to_pandas().columns) == ["a", "s", "f"]


def test_collect_caches_and_later_queries_start_from_it(sf_runner):
    calls = []

    def track(v):
        calls.append(v)
        return v

    df = (
        sf.from_pydict({"a": [1, 2, 3]}, num_partitions=2)
        .with_column("b", col("a").apply(track, pa.int64()))
        .collect()
    )
    assert len(calls) == 3 or sf_runner.name != "py"
    assert df.where(col("b") > 1).to_pydict() == {"a": [2, 3], "b": [2, 3]}
    assert len(calls) == 3 or sf_runner.name != "py"


def test_round_trip_of_rich_types(sf_runner):
    table = pa.table(
        {
            "day": [datetime.date(2024, 1, 1), None],
            "ts": pa.array([datetime.datetime(2024, 1, 1, 12), None], pa.timestamp("ns", tz="UTC")),
            "l": [[1, 2], None],
            "st": [{"x": 1}, None],
        }
    )
    df = sf.from_arrow(table, num_partitions=2)
    assert df.to_arrow().equals(table)
    assert df.to_pylist() == table.to_pylist()
