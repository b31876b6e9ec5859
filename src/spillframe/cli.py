"""The ``spillframe`` command line: ``spillframe demo``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import spillframe as sf


def generate_sales(directory: str, rows: int, files: int = 4, seed: int = 7) -> None:
    """Write a synthetic sales fact table (Parquet, ``files`` files) and a store table."""
    rng = np.random.default_rng(seed)
    per_file = rows // files
    for i in range(files):
        n = per_file if i < files - 1 else rows - per_file * (files - 1)
        table = pa.table(
            {
                "order_id": np.arange(i * per_file, i * per_file + n, dtype=np.int64),
                "store_id": rng.integers(0, 500, n, dtype=np.int32),
                "quantity": rng.integers(1, 20, n, dtype=np.int64),
                "unit_price": np.round(rng.gamma(2.0, 15.0, n), 2),
                "day": pa.array(rng.integers(19000, 19730, n).astype("int32")).cast(pa.date32()),
            }
        )
        pq.write_table(
            table, os.path.join(directory, "sales", f"part-{i}.parquet"), row_group_size=1 << 18
        )
    regions = np.array(["north", "south", "east", "west", "central"])
    stores = pa.table(
        {"store_id": np.arange(500, dtype=np.int64), "region": regions[rng.integers(0, 5, 500)]}
    )
    pq.write_table(stores, os.path.join(directory, "stores.parquet"))


def demo_query(directory: str) -> sf.DataFrame:
    """Revenue per region and year for larger orders: scan, filter, join, group, sort."""
    sales = sf.read_parquet(os.path.join(directory, "sales"))
    stores = sf.read_parquet(os.path.join(directory, "stores.parquet"))
    return (
        sales.where(sf.col("quantity") >= 3)
        .with_column("revenue", sf.col("quantity") * sf.col("unit_price"))
        .with_column("year", sf.col("day").dt.year())
        .join(stores, left_on="store_id", right_on="store_id")
        .groupby("region", "year")
        .agg(
            sf.col("revenue").sum().alias("revenue"),
            sf.col("order_id").count().alias("orders"),
            sf.col("unit_price").mean().alias("avg_price"),
        )
        .sort(["revenue"], desc=True)
    )


def run_demo(rows: int, directory: str | None) -> int:
    workdir = directory or tempfile.mkdtemp(prefix="spillframe-demo-")
    os.makedirs(os.path.join(workdir, "sales"), exist_ok=True)
    start = time.perf_counter()
    generate_sales(workdir, rows)
    generated = time.perf_counter() - start
    print(f"Generated {rows:,} sales rows in {workdir} ({generated:.2f} s)")
    runner = sf.get_runner()
    print(f"Runner: {runner.name} {runner.options}")
    start = time.perf_counter()
    result = demo_query(workdir).collect()
    elapsed = time.perf_counter() - start
    print("\nRevenue by region and year (orders with quantity >= 3):")
    result.show(n=10)
    print("\nPlan:")
    demo_query(workdir).explain(show_all=True)
    print("\nWhat each stage did (result.stats(); explain(analyze=True) prints it in the plan):")
    print(result.stats())
    print(
        f"\nQuery time: {elapsed:.3f} s over {rows:,} rows "
        f"({rows / elapsed / 1e6:.1f} M rows/s) on the {runner.name} runner"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spillframe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="generate data, run a multi-step query, print the result, the plan and the time",
    )
    demo.add_argument("--rows", type=int, default=2_000_000, help="sales rows to generate")
    demo.add_argument("--dir", default=None, help="where to write the data (default: temp)")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be positive")
    return run_demo(args.rows, args.dir)


if __name__ == "__main__":
    sys.exit(main())
