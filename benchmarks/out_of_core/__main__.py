"""``python -m benchmarks.out_of_core``: run every case, write JSON and markdown results."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from benchmarks.out_of_core.case import ENGINES, Cluster, Record
from benchmarks.out_of_core.data import DATA_ROOT, ensure_data, reference_answers
from benchmarks.out_of_core.queries import QUERIES

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
REPO_ROOT = Path(__file__).resolve().parents[2]


def run_in_subprocess(engine: str, query: str, args: argparse.Namespace) -> dict:
    command = [
        sys.executable,
        "-m",
        "benchmarks.out_of_core.case",
        "--engine",
        engine,
        "--query",
        query,
        "--scale",
        f"{args.scale:g}",
        "--memory-limit",
        args.memory_limit,
        "--timeout",
        f"{args.timeout:g}",
    ]
    if args.partition_bytes:
        command += ["--partition-bytes", str(args.partition_bytes)]
    log = DATA_ROOT / "logs" / f"{engine}-{query}.log"  # git-ignored, like the data
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"-- {engine} {query} (log: {log.relative_to(REPO_ROOT)})", flush=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    with log.open("w") as err:
        try:
            done = subprocess.run(
                command,
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                timeout=args.timeout + 120,  # the case enforces args.timeout itself
            )
        except subprocess.TimeoutExpired:
            return _timeout(engine, query, args.timeout)
    for line in done.stdout.splitlines():
        if line.startswith("RECORD "):
            return json.loads(line[len("RECORD ") :])
    return _failed(engine, query, f"case process exited with {done.returncode}; see {log.name}")


def _timeout(engine: str, query: str, timeout: float) -> dict:
    return _record(engine, query, "timeout", f"no answer within {timeout:g} s")


def _failed(engine: str, query: str, error: str) -> dict:
    return _record(engine, query, "failed", error)


def _record(engine: str, query: str, status: str, error: str) -> dict:
    return asdict(Record(engine, query, status=status, error=error))


def to_markdown(records: list[dict], cluster: Cluster) -> str:
    lines = [
        "# Out-of-core benchmark (TPC-H SF1 lineitem/orders)",
        "",
        f"LocalCluster: {cluster.n_workers} workers x {cluster.threads_per_worker} thread x "
        f"{cluster.memory_limit}, distributed's default memory thresholds "
        "(target 0.6, spill 0.7, pause 0.8, terminate 0.95). lineitem is about 780 MiB in "
        "memory. Peak worker memory is the highest RSS of any single worker process; "
        "spilled is what the workers wrote to disk. Results are checked against DuckDB.",
        "",
        "Engines: `spillframe` = spillframe on the Dask runner (`set_runner_dask`), "
        "`partition_bytes` as noted; `dask` = dask.dataframe on a plain LocalCluster of the "
        "same shape; `dask-tuned` = dask.dataframe on the Dask runner's LocalCluster (Arrow "
        "system allocator, fixed mmap threshold, `malloc_trim` above half the limit). "
        "Each case runs in its own process on a fresh cluster; `timeout` means the workers "
        "stayed paused (memory not going down) until the time limit.",
        "",
        "| query | engine | status | time (s) | peak worker RSS (MiB) | spilled (MiB) | "
        "worker processes | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        note = r.get("error") or "; ".join(r.get("problems") or [])
        note = note.replace("|", "\\|").replace("\n", " ")[:300]
        extra = r.get("settings", {}).get("partition_bytes")
        if extra:
            note = f"partition_bytes={extra // 2**20} MiB. {note}".strip()
        lines.append(
            f"| {r['query']} | {r['engine']} | {r['status']} | {r.get('seconds')} | "
            f"{r.get('peak_worker_mib')} | {r.get('spilled_mib')} | "
            f"{r.get('worker_processes')} | {note} |"
        )
    lines += [
        "",
        "`worker processes` > 2 means workers died (OOM-killed by their nanny) and were replaced.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="spillframe; dask (dask.dataframe on a plain LocalCluster); dask-tuned "
        "(dask.dataframe on the DaskRunner's LocalCluster: system allocator, trimming)",
    )
    parser.add_argument("--queries", default=",".join(QUERIES))
    parser.add_argument("--scale", type=float, default=1)
    parser.add_argument("--memory-limit", default="512 MiB")
    parser.add_argument(
        "--partition-bytes",
        type=int,
        default=4 * 2**20,
        help="spillframe's target partition size for these runs",
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds before a query counts as hung"
    )
    args = parser.parse_args(argv)
    paths = ensure_data(args.scale)
    reference_answers(paths, args.scale)

    out_json = RESULTS_DIR / "out_of_core.json"
    previous = json.loads(out_json.read_text())["records"] if out_json.exists() else []
    records = {(r["engine"], r["query"]): r for r in previous}
    for query in args.queries.split(","):
        for engine in args.engines.split(","):
            record = run_in_subprocess(engine, query, args)
            records[(engine, query)] = record
            print(
                f"   {record['status']} in {record.get('seconds')} s, peak worker "
                f"{record.get('peak_worker_mib')} MiB, spilled {record.get('spilled_mib')} MiB "
                f"{record.get('error', '')[:200]}",
                flush=True,
            )
            ordered = sorted(
                records.values(),
                key=lambda r: (QUERIES.index(r["query"]), ENGINES.index(r["engine"])),
            )
            cluster = Cluster(memory_limit=args.memory_limit)
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            out_json.write_text(
                json.dumps({"cluster": cluster.__repr__(), "records": ordered}, indent=2) + "\n"
            )
            (RESULTS_DIR / "out_of_core.md").write_text(to_markdown(ordered, cluster))


if __name__ == "__main__":
    main()
