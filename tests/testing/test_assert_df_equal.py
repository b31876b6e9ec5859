"""assert_df_equal: what it accepts and how it reports differences."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

import spillframe as sf
from spillframe.testing import assert_df_equal


def test_order_insensitive_by_default(sf_runner):
    assert_df_equal(sf.from_pydict({"a": [3, 1, 2]}, num_partitions=2), {"a": [1, 2, 3]})


def test_row_order_checked_when_asked():
    with pytest.raises(AssertionError, match="rows differ at position 0"):
        assert_df_equal(pa.table({"a": [2, 1]}), {"a": [1, 2]}, check_row_order=True)


def test_reports_first_differing_row():
    with pytest.raises(AssertionError, match=r"(?s)column\(s\) \['b'\].*actual: .*'b': 'x'"):
        assert_df_equal({"a": [1, 2], "b": ["x", "y"]}, {"a": [1, 2], "b": ["z", "y"]})


def test_tolerance_and_dtype():
    assert_df_equal({"x": [0.1 + 0.2]}, {"x": [0.3]})
    with pytest.raises(AssertionError, match="has type int32, expected int64"):
        assert_df_equal(pa.table({"x": pa.array([1], pa.int32())}), {"x": [1]})
    assert_df_equal(pa.table({"x": pa.array([1], pa.int32())}), {"x": [1]}, check_dtype=False)


def test_accepts_pandas_and_compares_nulls():
    assert_df_equal(pd.DataFrame({"a": [1.0, None]}), {"a": [None, 1.0]})
    with pytest.raises(AssertionError, match="row counts differ"):
        assert_df_equal({"a": [1]}, {"a": [1, 1]})
    with pytest.raises(AssertionError, match="column names differ"):
        assert_df_equal({"a": [1]}, {"b": [1]})
    with pytest.raises(TypeError, match="must be a spillframe DataFrame"):
        assert_df_equal([1], {"a": [1]})
