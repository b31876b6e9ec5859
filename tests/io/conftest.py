"""Files for I/O tests and helpers that look into the physical plan."""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spillframe.api.execution import physical_plan


def make_table(n: int = 600) -> pa.Table:
    """``id`` (sorted), ``grp`` (0..2), ``name`` and ``price`` columns."""
    ids = list(range(n))
    return pa.table(
        {
            "id": ids,
            "grp": [i % 3 for i in ids],
            "name": [f"n{i % 11}" for i in ids],
            "price": [i * 0.25 for i in ids],
        }
    )


def scan_tasks(df: Any) -> list[Any]:
    """The scan of every task of the physical plan (objects with ``read()``)."""
    found = []
    for stage in physical_plan(df._plan).topological_stages():
        for task in stage.tasks:
            found.extend(a for a in task.args if hasattr(a, "read"))
    return found


def scanned_row_groups(df: Any) -> list[tuple[str, tuple[int, ...] | None]]:
    """``(file name, row groups)`` of every Parquet piece the plan will read."""
    return [
        (os.path.basename(p.path), p.row_groups)
        for scan in scan_tasks(df)
        for p in getattr(scan, "pieces", ())
    ]


@pytest.fixture
def table() -> pa.Table:
    return make_table()


@pytest.fixture
def one_file(tmp_path, table) -> str:
    """One Parquet file of 600 rows in 6 row groups of 100, sorted by ``id``."""
    path = os.path.join(tmp_path, "one.parquet")
    pq.write_table(table, path, row_group_size=100)
    return path


@pytest.fixture
def three_files(tmp_path, table) -> str:
    """A directory of three Parquet files of 200 rows (2 row groups each)."""
    root = os.path.join(tmp_path, "three")
    os.makedirs(root)
    for i in range(3):
        pq.write_table(
            table.slice(i * 200, 200), os.path.join(root, f"part-{i}.parquet"), row_group_size=100
        )
    return root


@pytest.fixture
def hive_dir(tmp_path, table) -> str:
    """``grp=0/``, ``grp=1/``, ``grp=2/`` directories, the column left out of the files."""
    root = os.path.join(tmp_path, "hive")
    for g in range(3):
        os.makedirs(os.path.join(root, f"grp={g}"))
        part = table.filter(pa.compute.equal(table["grp"], g)).drop_columns(["grp"])
        pq.write_table(part, os.path.join(root, f"grp={g}", "data.parquet"), row_group_size=50)
    return root


class IOHelpers:
    """Plan inspection helpers, handed to tests as the ``io`` fixture."""

    make_table = staticmethod(make_table)
    scan_tasks = staticmethod(scan_tasks)
    row_groups = staticmethod(scanned_row_groups)


@pytest.fixture
def io() -> IOHelpers:
    return IOHelpers()
