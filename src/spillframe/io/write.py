"""Writing Parquet and CSV files: all or nothing.

Every task writes its partition into a hidden staging directory under the target;
only when every task succeeded are the files moved into place (and, with
``write_mode="overwrite"``, the old files removed). A failure removes the staging
directory, so no partial file is ever visible.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from spillframe.errors import SchemaError, SourceError
from spillframe.kernels.narrow import Step, run_pipeline

WRITE_MODES = ("append", "overwrite")
STAGING_PREFIX = ".spillframe-staging-"


def write_partition(
    source: Any,
    steps: tuple[Step, ...],
    staging: str,
    index: int,
    file_format: str,
    partition_cols: tuple[str, ...],
    options: tuple[tuple[str, Any], ...],
) -> pa.Table:
    """Write one partition into ``staging``; returns the relative paths written."""
    table = run_pipeline(source, steps)
    written: list[str] = []
    if table.num_rows == 0:
        return pa.table({"path": pa.array([], pa.string())})
    opts = dict(options)
    if file_format == "parquet":
        file_options = ds.ParquetFileFormat().make_write_options(
            compression=opts.get("compression", "snappy")
        )
    else:
        file_options = ds.CsvFileFormat().make_write_options()
    ds.write_dataset(
        table,
        staging,
        format=file_format,
        file_options=file_options,
        partitioning=list(partition_cols) or None,
        partitioning_flavor="hive",
        basename_template=f"part-{index:05d}-{uuid.uuid4().hex[:8]}-{{i}}.{file_format}",
        existing_data_behavior="overwrite_or_ignore",
        file_visitor=lambda f: written.append(os.path.relpath(f.path, staging)),
        max_rows_per_group=1 << 20,
    )
    return pa.table({"path": pa.array(sorted(written), pa.string())})


def write_files(
    schema: pa.Schema,
    file_format: str,
    root_dir: str,
    write_mode: str,
    write: Callable[[str], Iterable[str]],
) -> list[str]:
    """Write files of ``schema`` under ``root_dir``, all or nothing.

    ``write(staging)`` writes the files into a fresh staging directory under
    ``root_dir`` (the API runs the query's plan with a ``Write`` node on top) and
    returns their paths relative to it; only when it returns are they moved into place
    (with ``write_mode="overwrite"``, after the old files are removed). Returns the
    final paths.
    """
    if write_mode not in WRITE_MODES:
        raise ValueError(f"write_mode must be one of {list(WRITE_MODES)}, got {write_mode!r}")
    if file_format == "csv":
        _check_csv_types(schema)
    root_dir = os.fspath(root_dir)
    if os.path.exists(root_dir) and not os.path.isdir(root_dir):
        raise SourceError(f"cannot write to {root_dir!r}: it is a file, not a directory")
    created = _missing_ancestors(root_dir)
    os.makedirs(root_dir, exist_ok=True)
    staging = os.path.join(root_dir, f"{STAGING_PREFIX}{uuid.uuid4().hex}")
    os.makedirs(staging)
    published = False
    try:
        relative = list(write(staging))
        if write_mode == "overwrite":
            _remove_old_files(root_dir, staging)
        paths = _publish(staging, root_dir, relative)
        published = True
        return paths
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not published:
            for directory in created:  # a failed write leaves no directory it made
                with contextlib.suppress(OSError):
                    os.rmdir(directory)


def _missing_ancestors(path: str) -> list[str]:
    """``path`` and its parents that do not exist yet, deepest first."""
    missing = []
    path = os.path.abspath(path)
    while not os.path.exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def _check_csv_types(schema: pa.Schema) -> None:
    """CSV holds flat values only; refuse nested columns before anything runs."""
    nested = [f"{f.name} ({f.type})" for f in schema if pa.types.is_nested(f.type)]
    if nested:
        raise SchemaError(
            f"write_csv cannot write nested column(s) {', '.join(nested)}; use write_parquet, "
            "or flatten them first (e.g. .list.join(',') or .apply(str, DataType.string()))"
        )


def _remove_old_files(root_dir: str, staging: str) -> None:
    for entry in os.listdir(root_dir):
        path = os.path.join(root_dir, entry)
        if path == staging or entry.startswith(STAGING_PREFIX):
            continue
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


def _publish(staging: str, root_dir: str, relative: list[str]) -> list[str]:
    final = []
    for rel in relative:
        target = os.path.join(root_dir, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(os.path.join(staging, rel), target)
        final.append(target)
    return final
