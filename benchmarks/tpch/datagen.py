"""Generate TPC-H parquet files with ``tpchgen-cli`` and cache them on disk.

Layout: ``<root>/sf<scale>/raw/<table>.parquet`` holds the files as generated
(``decimal128(15, 2)`` money columns, ``string_view`` strings, ``date32`` dates);
``<root>/sf<scale>/normalized/<table>.parquet`` holds the same rows and row groups
with decimals cast to ``float64`` and ``string_view`` to ``string``.

Run ``python -m benchmarks.tpch.datagen --scale 1`` to generate ahead of a benchmark.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.common import DATA_DIR
from benchmarks.tpch import TABLES

FORMATS = ("raw", "normalized")


class DataGenError(RuntimeError):
    """Raised when the TPC-H data cannot be generated."""


def scale_dir(scale: float, root: Path = DATA_DIR) -> Path:
    """Return the cache directory of one scale factor, e.g. ``<root>/sf0.01``."""
    return Path(root) / f"sf{scale:g}"


def table_paths(scale: float, fmt: str = "normalized", root: Path = DATA_DIR) -> dict[str, str]:
    """Return ``{table: parquet path}`` for a cached scale and format.

    Parameters
    ----------
    scale : float
        TPC-H scale factor.
    fmt : {"raw", "normalized"}
        Which variant of the files.
    root : Path
        Cache root.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {list(FORMATS)}")
    base = scale_dir(scale, root) / fmt
    return {name: str(base / f"{name}.parquet") for name in TABLES}


def tpchgen_available() -> bool:
    """Tell whether the ``tpchgen-cli`` executable is on the PATH."""
    return shutil.which("tpchgen-cli") is not None


def _is_complete(paths: dict[str, str]) -> bool:
    return all(Path(p).is_file() for p in paths.values())


def generate_raw(scale: float, root: Path = DATA_DIR) -> dict[str, str]:
    """Generate the raw parquet files with ``tpchgen-cli`` unless already cached."""
    paths = table_paths(scale, "raw", root)
    if _is_complete(paths):
        return paths
    if not tpchgen_available():
        raise DataGenError("tpchgen-cli is not installed; pip install 'spillframe[benchmark]'")
    out = scale_dir(scale, root) / "raw"
    tmp = out.with_name("raw.inprogress")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cmd = ["tpchgen-cli", "parquet", "--scale-factor", f"{scale:g}", "--output-dir", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise DataGenError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return paths


def normalized_type(dtype: pa.DataType) -> pa.DataType:
    """Map a raw column type to its normalized type (float64, string, date32)."""
    if pa.types.is_decimal(dtype):
        return pa.float64()
    if pa.types.is_string_view(dtype) or pa.types.is_large_string(dtype):
        return pa.string()
    if pa.types.is_date(dtype) or pa.types.is_timestamp(dtype):
        return pa.date32()
    return dtype


def normalized_schema(schema: pa.Schema) -> pa.Schema:
    """Return ``schema`` with each field mapped by :func:`normalized_type`."""
    fields = [pa.field(f.name, normalized_type(f.type), f.nullable) for f in schema]
    return pa.schema(fields)


def normalize_file(src: str, dst: str) -> None:
    """Rewrite one parquet file with normalized types, keeping its row groups."""
    reader = pq.ParquetFile(src)
    schema = normalized_schema(reader.schema_arrow.remove_metadata())
    tmp = f"{dst}.inprogress"
    with pq.ParquetWriter(tmp, schema, compression="snappy") as writer:
        for i in range(reader.num_row_groups):
            table = reader.read_row_group(i).replace_schema_metadata(None)
            writer.write_table(table.cast(schema), row_group_size=table.num_rows)
    Path(tmp).rename(dst)


def generate(scale: float, root: Path = DATA_DIR) -> dict[str, dict[str, str]]:
    """Generate (or reuse) both variants of one scale factor.

    Parameters
    ----------
    scale : float
        TPC-H scale factor.
    root : Path
        Cache root; defaults to ``benchmarks/data``.

    Returns
    -------
    dict
        ``{"raw": {table: path}, "normalized": {table: path}}``.
    """
    raw = generate_raw(scale, root)
    normalized = table_paths(scale, "normalized", root)
    Path(next(iter(normalized.values()))).parent.mkdir(parents=True, exist_ok=True)
    for name, dst in normalized.items():
        if not Path(dst).is_file():
            normalize_file(raw[name], dst)
    return {"raw": raw, "normalized": normalized}


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--root", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    for fmt, paths in generate(args.scale, args.root).items():
        print(fmt, Path(next(iter(paths.values()))).parent)


if __name__ == "__main__":
    main()
