"""Each file format answers the planner's pushdown questions through its ScanFormat."""

from __future__ import annotations

import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import col
from spillframe.io.scan import CsvFormat, JsonFormat, ParquetFormat, scan_format
from spillframe.logical import nodes as L
from spillframe.optimizer import optimize


def _source(fmt: str, schema: pa.Schema) -> L.ScanSource:
    return L.ScanSource(fmt, ("x",), schema, (("physical_schema", schema),))


@pytest.mark.parametrize(
    ("name", "kind"), [("parquet", ParquetFormat), ("csv", CsvFormat), ("json", JsonFormat)]
)
def test_each_format_has_one_object(name, kind):
    assert isinstance(scan_format(name), kind)
    assert _source(name, pa.schema([("a", pa.int64())])).scan_format is scan_format(name)


def test_an_unknown_format_names_the_choices():
    with pytest.raises(ValueError, match="unknown scan format 'orc'; choose one of parquet, csv"):
        L.ScanSource("orc", ("x",), pa.schema([("a", pa.int64())]))


@pytest.mark.parametrize(
    ("kind", "condition", "pushed"),
    [
        (pa.int64(), col("a") > 1, True),
        (pa.int64(), col("a").is_null(), True),
        (pa.string_view(), col("a") == "x", False),  # the scanner cannot compare views
        (pa.int64(), (col("a") + 1) > 1, False),  # arithmetic is not pushed
    ],
)
def test_parquet_pushes_comparisons_of_columns_with_literals(kind, condition, pushed):
    source = _source("parquet", pa.schema([("a", kind)]))
    assert ParquetFormat().can_push_filter(condition, source) is pushed


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_text_formats_push_no_filter(fmt):
    source = _source(fmt, pa.schema([("a", pa.int64())]))
    assert scan_format(fmt).can_push_filter(col("a") > 1, source) is False


def test_the_optimizer_asks_the_format(tmp_path):
    """A filter over a CSV scan stays above it; over Parquet it moves into the scan."""
    sf.from_pydict({"a": [1, 2, 3]}).write_csv(str(tmp_path / "csv"))
    sf.from_pydict({"a": [1, 2, 3]}).write_parquet(str(tmp_path / "pq"))
    csv = optimize(sf.read_csv(str(tmp_path / "csv")).where(col("a") > 1)._builder)
    parquet = optimize(sf.read_parquet(str(tmp_path / "pq")).where(col("a") > 1)._builder)
    assert isinstance(csv, L.Filter) and csv.child.predicate is None
    assert isinstance(parquet, L.ScanSource) and parquet.predicate is not None
