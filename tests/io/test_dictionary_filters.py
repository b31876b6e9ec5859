"""Pushed predicates on dictionary-encoded string columns are tested on the distinct
values only: the rows kept must be exactly those the predicate keeps, nulls included."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import spillframe as sf
from spillframe import col
from spillframe.io.scan import split_dictionary_filters
from spillframe.testing import assert_df_equal

MODES = ["AIR", "MAIL", "SHIP", None, "RAIL", "TRUCK", "AIR REG"]


@pytest.fixture(scope="module")
def path(tmp_path_factory) -> str:
    n = 7000
    table = pa.table(
        {
            "mode": [MODES[i % 7] for i in range(n)],
            "how": [["IN PERSON", "COD", None][i % 3] for i in range(n)],
            "other": [f"x{i % 5}" for i in range(n)],
            "q": list(range(n)),
        }
    )
    out = tmp_path_factory.mktemp("dict") / "t.parquet"
    pq.write_table(table, out, row_group_size=1000)  # one dictionary per row group
    assert pq.ParquetFile(out).metadata.row_group(0).column(0).has_dictionary_page
    return str(out)


PREDICATES = {
    "equal": col("mode") == "AIR",
    "is_in": col("mode").is_in(["AIR", "AIR REG"]),
    "or": (col("mode") == "AIR") | (col("mode") == "SHIP"),
    "not": ~(col("mode") == "AIR"),
    "not_equal_and_range": (col("mode") != "RAIL") & (col("q") < 3000),
    "two_columns": col("mode").is_in(["AIR", "MAIL"]) & (col("how") == "COD"),
    "is_null": col("mode").is_null() & (col("q") > 10),
    "is_in_with_null": col("mode").is_in(["AIR", None]),
    "column_vs_column": (col("mode") == col("other")) | (col("mode") == "TRUCK"),
}


@pytest.mark.parametrize("name", list(PREDICATES))
def test_rows_match_the_predicate(sf_runner, path, name):
    predicate = PREDICATES[name]
    result = sf.read_parquet(path).where(predicate).select("q", "mode").to_arrow()
    in_memory = sf.from_arrow(pq.read_table(path))  # the same rows, filtered after reading
    keep = in_memory.where(predicate).select("q", "mode").to_arrow()
    assert result.num_rows == keep.num_rows > 0
    assert_df_equal(result, keep)


def test_limit_counts_rows_after_the_filter(sf_runner, path):
    result = sf.read_parquet(path).where(col("mode") == "SHIP").limit(5).to_arrow()
    assert result.column("mode").to_pylist() == ["SHIP"] * 5


def test_only_null_safe_single_column_terms_use_the_dictionary():
    predicate = (
        (col("mode") == "AIR")
        & (col("q") > 3)
        & col("how").is_null()
        & (col("other") == col("how"))
    )
    chosen, rest = split_dictionary_filters(predicate, {"mode", "how", "other"})
    assert [name for name, _ in chosen] == ["mode"]
    assert len(rest) == 3  # q is not a string; how has is_null; other meets how
