"""``python -m benchmarks``: both benchmark tables in one command.

Runs the TPC-H comparison (``benchmarks.tpch``) and then the out-of-core
comparison (``benchmarks.out_of_core``), each writing its markdown and JSON under
``benchmarks/results/``, and prints both tables. Options are passed through:

    python -m benchmarks --scale 1 --runners py,dask \\
        --peers duckdb,polars,daft,dask-dataframe --runs 3
    python -m benchmarks --scale 10 --peers duckdb,polars,daft --runs 1 --skip-out-of-core

At scale 10 the Dask workers get 6 GiB each (less than the data) unless
``--dask-memory-limit`` says otherwise, and the report adds each engine's growth
from ``tpch_sf1.json`` (run scale 1 first).

``--skip-tpch`` or ``--skip-out-of-core`` run only one of them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from benchmarks.out_of_core.__main__ import main as out_of_core_main
from benchmarks.tpch.__main__ import main as tpch_main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale", default="1", help="TPC-H scale factor for both")
    parser.add_argument("--runners", default="py,dask", help="spillframe runners (TPC-H)")
    parser.add_argument(
        "--peers", default="duckdb,polars,daft,dask-dataframe", help="peer engines (TPC-H)"
    )
    parser.add_argument("--runs", default="3", help="timed runs per TPC-H query")
    parser.add_argument(
        "--queries", default=",".join(str(q) for q in range(1, 23)), help="TPC-H queries"
    )
    parser.add_argument("--dask-memory-limit", default=None, help="memory per Dask worker (TPC-H)")
    parser.add_argument("--skip-tpch", action="store_true")
    parser.add_argument("--skip-out-of-core", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_tpch:
        tpch_main(
            [
                "--scale",
                args.scale,
                "--runners",
                args.runners,
                "--peers",
                args.peers,
                "--runs",
                args.runs,
                "--queries",
                args.queries,
                *(
                    ["--dask-memory-limit", args.dask_memory_limit]
                    if args.dask_memory_limit
                    else []
                ),
            ]
        )
    if not args.skip_out_of_core:
        out_of_core_main(["--scale", args.scale])
    return 0


if __name__ == "__main__":
    sys.exit(main())
