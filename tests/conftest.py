"""Shared test data helpers (fixtures come from the spillframe pytest plugin)."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


@pytest.fixture
def parquet_dir(tmp_path):
    """Three Parquet files of 300 rows each, 4 row groups per file, sorted by ``id``."""
    root = tmp_path / "data"
    root.mkdir()
    for f in range(3):
        ids = list(range(f * 300, (f + 1) * 300))
        table = pa.table(
            {
                "id": ids,
                "grp": [i % 5 for i in ids],
                "price": [i * 1.5 for i in ids],
                "name": [f"n{i % 17}" for i in ids],
            }
        )
        pq.write_table(table, os.path.join(root, f"part-{f}.parquet"), row_group_size=75)
    return str(root)
