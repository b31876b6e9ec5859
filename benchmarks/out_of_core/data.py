"""TPC-H lineitem/orders for the out-of-core benchmark, and reference answers.

``tpchgen-cli`` writes ``decimal128`` money and ``string_view`` text; both are
normalized to ``float64`` and ``string`` (what pandas and most engines read
natively), keeping the files and row groups. Reference answers come from DuckDB.
Layout: ``benchmarks/data/out_of_core/sf<scale>/{raw,normalized}/<table>/*.parquet``
(``benchmarks/data`` is git-ignored).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DATA_ROOT = Path(__file__).resolve().parent.parent / "data" / "out_of_core"
TABLES = ("lineitem", "orders")
PARTS = 16


def scale_dir(scale: float) -> Path:
    return DATA_ROOT / f"sf{scale:g}"


def _normalize_type(dtype: pa.DataType) -> pa.DataType:
    if pa.types.is_decimal(dtype):
        return pa.float64()
    if pa.types.is_string_view(dtype) or pa.types.is_large_string(dtype):
        return pa.string()
    return dtype


def _normalize_file(src: Path, dst: Path) -> None:
    reader = pq.ParquetFile(src)
    schema = pa.schema(
        [pa.field(f.name, _normalize_type(f.type), f.nullable) for f in reader.schema_arrow]
    )
    with pq.ParquetWriter(dst, schema, compression="snappy") as writer:
        for i in range(reader.num_row_groups):
            writer.write_table(reader.read_row_group(i).cast(schema))


def ensure_data(scale: float = 1) -> dict[str, Path]:
    """Generate (once) and return ``{table: directory of normalized parquet files}``."""
    base = scale_dir(scale)
    paths = {t: base / "normalized" / t for t in TABLES}
    if all(p.is_dir() and any(p.glob("*.parquet")) for p in paths.values()):
        return paths
    if shutil.which("tpchgen-cli") is None:
        raise RuntimeError("tpchgen-cli is not installed; run `pip install tpchgen-cli`")
    raw = base / "raw"
    subprocess.run(
        [
            "tpchgen-cli",
            "parquet",
            "-s",
            f"{scale:g}",
            "-T",
            ",".join(TABLES),
            f"--parts={PARTS}",
            "-o",
            str(raw),
            "--overwrite",
        ],
        check=True,
    )
    for table, out in paths.items():
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for src in sorted((raw / table).glob("*.parquet")):
            _normalize_file(src, tmp / src.name)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    return paths


REFERENCE_SQL = {
    "sort": """
        SELECT count(*) AS rows, sum(l_orderkey) AS sum_orderkey,
               round(sum(l_extendedprice), 2) AS sum_price,
               min(l_comment) AS first, max(l_comment) AS last
        FROM lineitem""",
    "groupby": """
        SELECT count(*) AS rows, sum(l_orderkey) AS sum_orderkey,
               sum(length(m)) AS sum_max_length
        FROM (SELECT l_orderkey, max(l_comment) AS m FROM lineitem GROUP BY l_orderkey)""",
    "join": """
        SELECT count(*) AS rows, round(sum(l_extendedprice), 2) AS sum_price,
               round(sum(o_totalprice), 2) AS sum_totalprice
        FROM lineitem JOIN orders ON l_orderkey = o_orderkey""",
}


def reference_answers(paths: dict[str, Path], scale: float = 1) -> dict[str, dict]:
    """DuckDB's answers to the checks of each query (cached next to the data)."""
    cache = scale_dir(scale) / "reference.json"
    if cache.exists():
        return json.loads(cache.read_text())
    import duckdb

    con = duckdb.connect()
    for table, path in paths.items():
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}/*.parquet')")
    answers = {}
    for name, sql in REFERENCE_SQL.items():
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description]
        answers[name] = {
            c: (float(v) if isinstance(v, float) else v)
            for c, v in zip(columns, cursor.fetchone(), strict=True)
        }
    cache.write_text(json.dumps(answers, indent=2, default=str))
    return answers
