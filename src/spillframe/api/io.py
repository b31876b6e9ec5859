"""Creating DataFrames: from Python, pandas and Arrow data, and from files."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import pandas as pd
import pyarrow as pa

from spillframe.api.dataframe import DataFrame
from spillframe.io.parquet import discover_parquet_schema
from spillframe.io.paths import expand_paths
from spillframe.io.text import discover_csv_schema, discover_json_schema
from spillframe.io.types import normalize_schema, normalize_table
from spillframe.kernels.narrow import slice_partition
from spillframe.logical import nodes as L

PathLike = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


def _in_memory(table: pa.Table, num_partitions: int | None) -> DataFrame:
    n = 1 if num_partitions is None else num_partitions
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"num_partitions must be an int >= 1, got {num_partitions!r}")
    table = normalize_table(table)
    parts = tuple(slice_partition(table, i, n) for i in range(n))
    return DataFrame(L.InMemorySource(parts, table.schema))


def from_pydict(data: dict[str, Any], num_partitions: int | None = None) -> DataFrame:
    """A DataFrame from ``{column: list of values}`` (or arrays).

    Examples
    --------
    >>> import spillframe as sf
    >>> sf.from_pydict({"a": [1, 2, 3]}, num_partitions=2).num_partitions()
    2
    >>> sf.from_pydict({"o": [object()]}).schema()  # other objects: DataType.python()
    o: extension<spillframe.python<PythonType>>
    """
    if not isinstance(data, dict):
        raise TypeError(f"from_pydict takes a dict of columns, got {type(data).__name__}")
    try:
        table = pa.table(data)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        columns = {name: _column_of(name, values, exc) for name, values in data.items()}
        try:
            table = pa.table(columns)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as again:
            raise ValueError(f"from_pydict: cannot build columns: {again}") from None
    return _in_memory(table, num_partitions)


def _column_of(name: str, values: Any, first_error: Exception) -> Any:
    """One column of ``from_pydict``: Arrow's own type when it has one, else a list of
    Python objects of other classes becomes a ``DataType.python()`` column (as Daft)."""
    from spillframe.datatype import python_array

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        pass
    if isinstance(values, (list, tuple)):
        return python_array(list(values))
    raise ValueError(f"from_pydict: cannot build column {name!r}: {first_error}") from None


def from_pylist(rows: list[dict[str, Any]], num_partitions: int | None = None) -> DataFrame:
    """A DataFrame from a list of row dicts.

    Examples
    --------
    >>> import spillframe as sf
    >>> sf.from_pylist([{"a": 1}, {"a": 2}]).to_pydict()
    {'a': [1, 2]}
    """
    if not isinstance(rows, list):
        raise TypeError(f"from_pylist takes a list of dicts, got {type(rows).__name__}")
    return _in_memory(pa.Table.from_pylist(rows), num_partitions)


def from_pandas(df: pd.DataFrame, num_partitions: int | None = None) -> DataFrame:
    """A DataFrame from a pandas DataFrame (the index is dropped).

    Examples
    --------
    >>> import pandas as pd, spillframe as sf
    >>> sf.from_pandas(pd.DataFrame({"a": [1, 2]})).to_pydict()
    {'a': [1, 2]}
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"from_pandas takes a pandas DataFrame, got {type(df).__name__}")
    return _in_memory(pa.Table.from_pandas(df, preserve_index=False), num_partitions)


def from_arrow(
    data: pa.Table | pa.RecordBatch | list[Any], num_partitions: int | None = None
) -> DataFrame:
    """A DataFrame from a pyarrow Table, RecordBatch, or a list of them.

    Examples
    --------
    >>> import pyarrow as pa, spillframe as sf
    >>> sf.from_arrow(pa.table({"a": [1]})).to_pydict()
    {'a': [1]}
    """
    if isinstance(data, pa.RecordBatch):
        table = pa.Table.from_batches([data])
    elif isinstance(data, pa.Table):
        table = data
    elif isinstance(data, list) and data:
        tables = [pa.Table.from_batches([d]) if isinstance(d, pa.RecordBatch) else d for d in data]
        table = pa.concat_tables(tables, promote_options="permissive")
    else:
        raise TypeError(
            "from_arrow takes a pyarrow Table, RecordBatch or a non-empty list "
            f"of them, got {type(data).__name__}"
        )
    return _in_memory(table, num_partitions)


def read_parquet(
    path: PathLike, schema: pa.Schema | None = None, hive_partitioning: bool = False
) -> DataFrame:
    """Read Parquet files: a file, directory, glob, or a list of them.

    Only the columns a query uses are read, filters are pushed into the scan (row
    groups whose statistics cannot match are skipped), and each task reads row
    groups adding up to about ``partition_bytes``.

    Examples
    --------
    >>> import tempfile, os, pyarrow as pa, pyarrow.parquet as pq, spillframe as sf
    >>> d = tempfile.mkdtemp()
    >>> pq.write_table(pa.table({"a": [1, 2, 3]}), os.path.join(d, "x.parquet"))
    >>> sf.read_parquet(d).where(sf.col("a") > 1).to_pydict()
    {'a': [2, 3]}
    """
    files = expand_paths(path, "read_parquet")
    if schema is not None:
        if not isinstance(schema, pa.Schema):
            raise TypeError(f"read_parquet schema must be a pyarrow Schema, got {schema!r}")
        physical, exposed = schema, normalize_schema(schema)
    else:
        physical, exposed = discover_parquet_schema(files, hive_partitioning)
    options = (("physical_schema", physical), ("hive", bool(hive_partitioning)))
    return DataFrame(L.ScanSource("parquet", tuple(files), exposed, options))


def read_csv(
    path: PathLike,
    schema: pa.Schema | None = None,
    has_headers: bool = True,
    delimiter: str | None = None,
) -> DataFrame:
    """Read CSV files; large files are split into byte ranges read in parallel.

    Types are inferred from the head of the first file unless ``schema`` is given.

    Examples
    --------
    >>> import tempfile, os, spillframe as sf
    >>> p = os.path.join(tempfile.mkdtemp(), "x.csv")
    >>> _ = open(p, "w").write("a,b\\n1,x\\n2,y\\n")
    >>> sf.read_csv(p).to_pydict()
    {'a': [1, 2], 'b': ['x', 'y']}
    """
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise ValueError(f"delimiter must be one character, got {delimiter!r}")
    files = expand_paths(path, "read_csv")
    exposed = (
        normalize_schema(schema)
        if schema is not None
        else discover_csv_schema(files, has_headers, delimiter)
    )
    options = (("has_headers", bool(has_headers)), ("delimiter", delimiter))
    return DataFrame(L.ScanSource("csv", tuple(files), exposed, options))


def read_json(path: PathLike, schema: pa.Schema | None = None) -> DataFrame:
    """Read newline-delimited JSON files, split into byte ranges.

    Examples
    --------
    >>> import tempfile, os, spillframe as sf
    >>> p = os.path.join(tempfile.mkdtemp(), "x.jsonl")
    >>> _ = open(p, "w").write('{"a": 1}\\n{"a": 2}\\n')
    >>> sf.read_json(p).to_pydict()
    {'a': [1, 2]}
    """
    files = expand_paths(path, "read_json")
    exposed = normalize_schema(schema) if schema is not None else discover_json_schema(files)
    return DataFrame(L.ScanSource("json", tuple(files), exposed, ()))
