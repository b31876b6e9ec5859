"""``python -m benchmarks.out_of_core``: run every case, write JSON and markdown results.

First the PyRunner and DuckDB under memory limits of 256 and 512 MiB
(:mod:`benchmarks.out_of_core.limits`, ``memory_limits.md``), then every engine under
one 1 GiB budget (``out_of_core.md``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.out_of_core.case import ENGINES, Cluster, LocalBudget
from benchmarks.out_of_core.case import run_in_subprocess as run_case
from benchmarks.out_of_core.data import ensure_data, reference_answers
from benchmarks.out_of_core.limits import main as limits_main
from benchmarks.out_of_core.monitor import MIB
from benchmarks.out_of_core.queries import QUERIES

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"


def run_in_subprocess(engine: str, query: str, args: argparse.Namespace) -> dict:
    options = ["--scale", f"{args.scale:g}", "--memory-limit", args.memory_limit]
    if args.partition_bytes:
        options += ["--partition-bytes", str(args.partition_bytes)]
    options += [
        "--py-memory-limit",
        str(args.py_memory_limit),
        "--py-partition-bytes",
        str(args.py_partition_bytes),
        "--duckdb-memory-limit",
        args.duckdb_memory_limit,
    ]
    return run_case(engine, query, options, args.timeout, f"{engine}-{query}.log")


# The Dask runner's partition size, probed case by case (one query per process, as
# here) on 2026-11-27 after Parquet estimates became the decoded in-memory size.
PARTITION_PROBE = [
    "128 MiB (the core's default; first session): sort and groupby fail (workers OOM-killed in "
    "`sort-sample` and `agg-partial`), join hangs until the time limit after its workers "
    "are killed",
    "32 MiB: sort ok but 6 workers killed and recomputed (100 s), groupby ok, join fails "
    "(`hash-join` kept killing workers); since 2026-12-04 (tables sent and spilled as "
    "their own buffers, outputs fetched as they finish) all three ok with no worker "
    "killed in 3 of 4 runs (the other: one join worker restarted), sort 16.4-17.0 s and "
    "1.1-1.5 GiB spilled, join 31.7-35.4 s and 3.4-4.3 GiB spilled; on 2026-12-04 evening, "
    "with each task's grant refined on its worker from the partitions it got and the join "
    "aligned on the files' key order (no exchange, parts sized by the output): no worker "
    "killed, sort 8.2 s and 1.1 GiB spilled, groupby 1.7 s, join 5.0-5.9 s with 0 spilled "
    "and a peak worker RSS of 268-312 MiB (3 runs each of `python -m "
    "benchmarks.out_of_core.case --engine spillframe --query Q --partition-bytes 33554432`)",
    "16 MiB: sort and groupby ok, join fails (`hash-join` kept killing workers; second "
    "session, jemalloc workers: RunnerError after 4 killed workers, 109 s); on "
    "2026-12-04 all three ok, no worker killed, sort 21.8 s, join 46.1 s (slower than "
    "8 MiB), join spilled 1.7 GiB",
    "8 MiB: all three ok without a worker restart (run alone; one restart when run "
    "concurrently with another cluster) -- now the Dask runner's own default on these "
    "workers (1/64 of the memory per worker thread)",
    "4 MiB (the previous default): all three ok (previous run, before the estimate fix)",
]


def _cell(value: object) -> str:
    return "n/a" if value is None else str(value)


def to_markdown(records: list[dict], cluster: Cluster, budget: LocalBudget) -> str:
    lines = [
        "# Out-of-core benchmark (TPC-H SF1 lineitem/orders)",
        "",
        "Every engine gets the same total memory budget of 1 GiB. lineitem is about 780 MiB "
        "in memory. Results are checked against DuckDB's answers (default settings).",
        "",
        "Engines:",
        "",
        f"- `spillframe` = spillframe on the Dask runner (`set_runner_dask`): LocalCluster of "
        f"{cluster.n_workers} workers x {cluster.threads_per_worker} thread x "
        f"{cluster.memory_limit}, distributed's default memory thresholds (target 0.6, spill "
        "0.7, pause 0.8, terminate 0.95), `partition_bytes` as noted (the runner's own "
        "choice for these workers).",
        f"- `spillframe-py` = spillframe on the local PyRunner in the benchmark process: "
        f"`set_runner_py(num_threads={budget.threads}, "
        f"memory_limit={budget.py_memory_limit // MIB} MiB, spill_dir=...)` (memory_limit "
        "bounds the task outputs held in memory; the rest of the 1 GiB is for running tasks), "
        "`partition_bytes` as noted (so that the process stays within 1 GiB).",
        f"- `duckdb` = DuckDB in the benchmark process with `memory_limit='"
        f"{budget.duckdb_memory_limit}'`, `threads={budget.threads}`, a `temp_directory` and "
        "`preserve_insertion_order=false`.",
        "- `dask` = dask.dataframe on a plain LocalCluster of the same shape as `spillframe`'s.",
        "- `dask-tuned` = dask.dataframe on the Dask runner's LocalCluster (Arrow's jemalloc "
        "returning freed pages at once on these small workers, `malloc_trim` and a purge of "
        "Arrow's cached pages above half the limit).",
        "",
        "Each case runs in its own process, the Dask engines on a fresh cluster. The answer "
        "is streamed partition by partition (batch by batch) into the checks, never held "
        "whole, by `spillframe`, `spillframe-py` and `duckdb`; dask.dataframe's is collected "
        "in the driver. The in-process engines' peak is so their working memory. `timeout` means no answer within "
        "the time limit (for Dask: workers stayed paused, memory not going down).",
        "",
        "Columns: **peak memory** = for the Dask engines the highest RSS of any single worker "
        "process (limit 512 MiB each; the driver is not counted); for `spillframe-py` and "
        "`duckdb` the RSS of the whole benchmark process (budget 1 GiB), sampled every 50 ms. "
        "**spilled** = Dask engines: bytes the workers wrote to disk (their spill buffers); "
        "`spillframe-py`: `get_runner().last_spill_stats.spilled_bytes`; `duckdb`: the peak "
        "size on disk of its temp directory, sampled every 0.2 s (DuckDB reports no total). "
        "**worker processes** (Dask only): > 2 means workers died (OOM-killed by their nanny) "
        "and were replaced.",
        "",
        "| query | engine | status | time (s) | peak memory (MiB) | spilled (MiB) | "
        "worker processes | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines[-2:-2] = [
        "Partition size on the Dask runner (`--partition-bytes`), probed separately:",
        "",
        *(f"- {line}" for line in PARTITION_PROBE),
        "",
    ]
    for r in records:
        note = r.get("error") or "; ".join(r.get("problems") or [])
        note = note.replace("|", "\\|").replace("\n", " ")[:300]
        extra = r.get("settings", {}).get("partition_bytes")
        if extra:
            note = f"partition_bytes={extra // 2**20} MiB. {note}".strip()
        peak = r.get("peak_mib", r.get("peak_worker_mib"))
        lines.append(
            f"| {r['query']} | {r['engine']} | {r['status']} | {_cell(r.get('seconds'))} | "
            f"{_cell(peak)} | {_cell(r.get('spilled_mib'))} | "
            f"{_cell(r.get('worker_processes'))} | {note} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="spillframe (Dask runner); spillframe-py (PyRunner, in process); duckdb (in "
        "process); dask (dask.dataframe on a plain LocalCluster); dask-tuned "
        "(dask.dataframe on the DaskRunner's LocalCluster: system allocator, trimming)",
    )
    parser.add_argument("--queries", default=",".join(QUERIES))
    parser.add_argument("--scale", type=float, default=1)
    parser.add_argument("--memory-limit", default="512 MiB")
    parser.add_argument(
        "--partition-bytes",
        type=int,
        default=0,
        help="spillframe's target partition size on the Dask runner (0: the runner's "
        "default, 1/64 of worker memory per thread; see PARTITION_PROBE)",
    )
    parser.add_argument(
        "--py-memory-limit",
        type=int,
        default=LocalBudget().py_memory_limit,
        help="spillframe-py: the PyRunner's memory_limit (bytes of held task outputs)",
    )
    parser.add_argument(
        "--py-partition-bytes",
        type=int,
        default=LocalBudget().py_partition_bytes,
        help="spillframe-py: partition_bytes (0: spillframe's default)",
    )
    parser.add_argument(
        "--duckdb-memory-limit", default=LocalBudget().duckdb_memory_limit, help="duckdb"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300,
        help="seconds before a query counts as hung (dask.dataframe's sort hangs paused)",
    )
    parser.add_argument(
        "--skip-limits",
        action="store_true",
        help="skip the PyRunner-vs-DuckDB cases at memory limits of 256 and 512 MiB "
        "(benchmarks.out_of_core.limits, written to memory_limits.md)",
    )
    args = parser.parse_args(argv)
    paths = ensure_data(args.scale)
    reference_answers(paths, args.scale)
    if not args.skip_limits:
        limits_main(["--scale", f"{args.scale:g}", "--queries", args.queries])

    out_json = RESULTS_DIR / "out_of_core.json"
    previous = json.loads(out_json.read_text())["records"] if out_json.exists() else []
    records = {(r["engine"], r["query"]): r for r in previous if r.get("engine") in ENGINES}
    for query in args.queries.split(","):
        for engine in args.engines.split(","):
            record = run_in_subprocess(engine, query, args)
            records[(engine, query)] = record
            print(
                f"   {record['status']} in {record.get('seconds')} s, peak "
                f"{record.get('peak_mib')} MiB, spilled {record.get('spilled_mib')} MiB "
                f"{record.get('error', '')[:200]}",
                flush=True,
            )
            ordered = sorted(
                records.values(),
                key=lambda r: (QUERIES.index(r["query"]), ENGINES.index(r["engine"])),
            )
            cluster = Cluster(memory_limit=args.memory_limit)
            budget = LocalBudget(
                py_memory_limit=args.py_memory_limit,
                py_partition_bytes=args.py_partition_bytes or None,
                duckdb_memory_limit=args.duckdb_memory_limit,
            )
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            out_json.write_text(
                json.dumps(
                    {"cluster": repr(cluster), "local_budget": repr(budget), "records": ordered},
                    indent=2,
                )
                + "\n"
            )
            (RESULTS_DIR / "out_of_core.md").write_text(to_markdown(ordered, cluster, budget))


if __name__ == "__main__":
    main()
