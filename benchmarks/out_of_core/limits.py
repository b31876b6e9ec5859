"""``python -m benchmarks.out_of_core.limits``: sort, groupby and join of SF1 lineitem on
the PyRunner and DuckDB under the same memory limit (256 and 512 MiB by default).

Each case runs in its own process (``benchmarks.out_of_core.case``), the answer streamed
into the checks; the peak is the RSS of that whole process. What is checked, per
issue #10: every answer right, spillframe's peak RSS <= 1.25 x the limit + 200 MiB, its
time <= 2 x DuckDB's at the same limit in the same run. The PyRunner runs with its own
partition sizing for the limit (``planning_defaults``), once with
``ARROW_DEFAULT_MEMORY_POOL=jemalloc`` (what ``import spillframe`` picks when pyarrow is
not loaded yet; the runner has it return freed pages within 100 ms) and once with
mimalloc (pyarrow's own default on Linux, which a script that imports pyarrow first
keeps).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.out_of_core.case import run_in_subprocess
from benchmarks.out_of_core.data import ensure_data, reference_answers
from benchmarks.out_of_core.queries import QUERIES

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"
MIB = 1 << 20

#: engine label -> (case engine, extra environment)
ENGINES = {
    "spillframe-py (jemalloc)": ("spillframe-py", {"ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}),
    "spillframe-py (mimalloc)": ("spillframe-py", {"ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}),
    "duckdb": ("duckdb", {}),
}


def run_case(label: str, query: str, limit_mib: int, scale: float, timeout: float) -> dict:
    engine, extra_env = ENGINES[label]
    options = [
        "--scale",
        f"{scale:g}",
        "--py-memory-limit",
        str(limit_mib * MIB),
        "--py-partition-bytes",
        "0",
        "--duckdb-memory-limit",
        f"{limit_mib}MiB",
    ]
    record = run_in_subprocess(
        engine, query, options, timeout, f"limits-{engine}-{query}-{limit_mib}.log", extra_env
    )
    record.update(label=label, limit_mib=limit_mib)
    return record


def verdicts(records: list[dict]) -> list[dict]:
    """Each spillframe record with the bound, DuckDB's time and whether both hold."""
    duckdb = {(r["query"], r["limit_mib"]): r for r in records if r["label"] == "duckdb"}
    for r in records:
        if r["label"] == "duckdb":
            continue
        bound = 1.25 * r["limit_mib"] + 200
        peer = duckdb.get((r["query"], r["limit_mib"]), {})
        r["rss_bound_mib"] = bound
        r["duckdb_seconds"] = peer.get("seconds")
        r["rss_ok"] = r.get("status") == "ok" and (r.get("peak_mib") or 1e9) <= bound
        r["time_ok"] = (
            r.get("status") == "ok"
            and peer.get("status") == "ok"
            and r["seconds"] <= 2 * peer["seconds"]
        )
    return records


def to_markdown(records: list[dict], started: str) -> str:
    lines = [
        "# Memory limits: PyRunner vs DuckDB (TPC-H SF1 lineitem/orders)",
        "",
        f"One run of `python -m benchmarks.out_of_core.limits`, started {started}, 2 threads "
        "each. Every case in its own process; the answer streamed batch by batch into the "
        "checks (DuckDB's reference answers). **peak RSS** = the whole process's RSS, "
        "sampled every 50 ms (the interpreter with pyarrow loaded is about 115 MiB of it). "
        "Bound (issue #10): peak RSS <= 1.25 x limit + 200 MiB and time <= 2 x DuckDB's. "
        "spillframe: `set_runner_py(num_threads=2, memory_limit=...)`, partitions sized by "
        "the runner for the limit; spilled = `last_spill_stats.spilled_bytes` (task outputs "
        "and the kernels' own runs). DuckDB: `SET memory_limit`, `threads=2`, spilled = peak "
        "size of its temp directory.",
        "",
        "| query | limit | engine | status | time (s) | x DuckDB | peak RSS (MiB) | bound "
        "(MiB) | spilled (MiB) | partition_bytes | holds |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(
        records,
        key=lambda r: (QUERIES.index(r["query"]), r["limit_mib"], list(ENGINES).index(r["label"])),
    ):
        ratio = holds = bound = ""
        if r["label"] != "duckdb":
            if r.get("duckdb_seconds") and r.get("seconds"):
                ratio = f"{r['seconds'] / r['duckdb_seconds']:.2f}"
            bound = f"{r['rss_bound_mib']:.0f}"
            holds = (
                "yes"
                if r["rss_ok"] and r["time_ok"]
                else ", ".join(
                    p for p, ok in (("RSS", r["rss_ok"]), ("time", r["time_ok"])) if not ok
                )
                + " missed"
            )
        pb = (r.get("settings") or {}).get("partition_bytes")
        pb = f"{pb / MIB:.1f} MiB" if pb else ""
        note = (r.get("error") or "; ".join(r.get("problems") or []))[:120]
        status = r.get("status", "") + (f" ({note})" if note else "")
        lines.append(
            f"| {r['query']} | {r['limit_mib']} MiB | {r['label']} | {status} | "
            f"{r.get('seconds')} | {ratio} | {r.get('peak_mib')} | {bound} | "
            f"{r.get('spilled_mib')} | {pb} | {holds} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    import datetime

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limits", default="256,512", help="MiB, comma separated")
    parser.add_argument("--queries", default=",".join(QUERIES))
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--scale", type=float, default=1)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    reference_answers(ensure_data(args.scale), args.scale)
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    records = []
    for query in args.queries.split(","):
        for limit in (int(x) for x in args.limits.split(",")):
            for label in args.engines.split(","):  # alternating engines, same conditions
                record = run_case(label, query, limit, args.scale, args.timeout)
                print(
                    f"   {record.get('status')} in {record.get('seconds')} s, peak "
                    f"{record.get('peak_mib')} MiB",
                    flush=True,
                )
                records.append(record)
    verdicts(records)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "memory_limits.json").write_text(
        json.dumps({"started": started, "records": records}, indent=2) + "\n"
    )
    (RESULTS_DIR / "memory_limits.md").write_text(to_markdown(records, started))


if __name__ == "__main__":
    main()
