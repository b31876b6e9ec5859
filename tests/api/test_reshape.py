"""pivot, unpivot and melt against pandas (pivot_table / melt), on 1 and 3 partitions."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

import spillframe as sf
from spillframe.testing import assert_df_equal

LONG = {
    "g": ["a", "a", "b", "b", "b", "c"],
    "p": ["x", "y", "x", "x", None, "y"],
    "v": [1, 2, 3, 4, 5, 6],
}
WIDE = {"id": [1, 2, 3], "jan": [10, None, 30], "feb": [1.5, 2.5, None]}


@pytest.fixture(params=[1, 3], ids=["1part", "3parts"])
def parts(request):
    return request.param


@pytest.mark.parametrize("agg", ["sum", "mean", "min", "max", "count"])
def test_pivot_matches_pandas(sf_runner, make_df, parts, agg):
    df = make_df(LONG, num_partitions=parts)
    result = df.pivot("g", "p", "v", agg)
    assert result.column_names == ["g", "x", "y"]
    table = result.to_arrow()
    assert table.schema == result.schema()
    pdf = pd.DataFrame(LONG)
    expected = pdf.pivot_table(index="g", columns="p", values="v", aggfunc=agg).reset_index()
    expected = expected.reindex(columns=["g", "x", "y"])
    if agg == "count":  # pandas leaves groups without rows NaN; a count is 0
        expected[["x", "y"]] = expected[["x", "y"]].fillna(0)
    got = table.to_pandas().astype({"x": "float64", "y": "float64"})
    assert_df_equal(got, expected.astype({"x": "float64", "y": "float64"}), sort_by=["g"])


def test_pivot_with_names_and_non_string_pivot(sf_runner, make_df):
    df = make_df({"k": [1, 1, 2], "year": [2020, 2021, 2021], "v": [5, 6, 7]})
    out = df.pivot(["k"], "year", "v", "max", names=["2021", "2020"]).sort("k")
    assert out.to_pydict() == {"k": [1, 2], "2021": [6, 7], "2020": [5, None]}


def test_pivot_errors(make_df):
    df = make_df(LONG)
    with pytest.raises(ValueError, match="unknown aggregation 'median'"):
        df.pivot("g", "p", "v", "median")
    with pytest.raises(ValueError, match="non-empty list of column names"):
        df.pivot("g", "p", "v", "sum", names=[])


@pytest.mark.parametrize("method", ["unpivot", "melt"])
def test_unpivot_matches_pandas(sf_runner, make_df, parts, method):
    df = make_df(WIDE, num_partitions=parts)
    result = getattr(df, method)("id", ["jan", "feb"], variable_name="month", value_name="n")
    table = result.to_arrow()
    assert table.schema == result.schema()
    assert table.schema.field("n").type == pa.float64()  # int64 and float64 unify
    expected = pd.DataFrame(WIDE).melt("id", ["jan", "feb"], var_name="month", value_name="n")
    assert_df_equal(table, expected, sort_by=["id", "month"], check_dtype=False)
    # Daft's order: each input row, then its value columns in order
    assert table.column("month").to_pylist()[:2] == ["jan", "feb"]


def test_unpivot_defaults_to_every_other_column(sf_runner, make_df):
    out = make_df(WIDE).unpivot(["id"])
    assert out.column_names == ["id", "variable", "value"]
    assert out.count_rows() == 6


def test_unpivot_errors(make_df):
    df = make_df({"id": [1], "a": [1], "s": ["x"]})
    with pytest.raises(sf.SchemaError, match="no common type"):
        df.unpivot("id")
    with pytest.raises(sf.SchemaError, match="no column 'b'"):
        df.unpivot("id", ["b"])
    with pytest.raises(sf.SchemaError, match="duplicate column"):
        df.unpivot("id", ["a"], variable_name="id")
