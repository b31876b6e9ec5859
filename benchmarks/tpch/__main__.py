"""``python -m benchmarks.tpch``: TPC-H on spillframe's runners and the peers, side by side.

Example::

    python -m benchmarks.tpch --scale 1 --runners py,dask \\
        --peers duckdb,polars,daft,dask-dataframe --runs 3

For each query, every engine runs once as a warm-up (its answer is checked against
DuckDB's SQL answer), then ``--runs`` more times, the engines taking turns. The median
time and the peak RSS of each engine's process tree go to
``benchmarks/results/tpch_sf<scale>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS_DIR, machine_summary
from benchmarks.tpch import datagen
from benchmarks.tpch.answers import AnswerMismatch, check_query, reference_answers
from benchmarks.tpch.harness import EngineProcess, RunResult
from benchmarks.tpch.report import LARGE_SCALE, write_reports

RUNNER_OPTIONS: dict[str, dict[str, Any]] = {
    "py": {},
    "dask": {"n_workers": 2, "threads_per_worker": 1},
}
PACKAGES = ("spillframe", "spillframe-dask", "pyarrow", "duckdb", "polars", "daft", "dask")


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tpch", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor")
    parser.add_argument("--runners", type=_csv, default=["py"], help="spillframe runners")
    parser.add_argument(
        "--peers", type=_csv, default=["duckdb", "polars", "daft", "dask-dataframe"]
    )
    parser.add_argument(
        "--queries", type=lambda s: [int(q) for q in _csv(s)], default=list(range(1, 23))
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs per query (>= 1)")
    parser.add_argument("--format", choices=datagen.FORMATS, default="normalized")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--dask-memory-limit",
        default=None,
        help="memory per Dask worker (e.g. '6 GiB'); default: the runner's own below "
        f"scale {LARGE_SCALE:g}, {LARGE_SCALE_WORKER_MEMORY} from it (less than the data)",
    )
    return parser.parse_args(argv)


#: From LARGE_SCALE on (where the report checks the SF10 targets) the data outgrows the
#: Dask workers' memory on purpose: 2 workers x 6 GiB against SF10's 8 GiB lineitem
#: (issue 14), so the Dask column measures spilling.
LARGE_SCALE_WORKER_MEMORY = "6 GiB"


def runner_options(args: argparse.Namespace, runner: str) -> dict[str, Any]:
    """The options ``runner`` is set up with for this run."""
    options = dict(RUNNER_OPTIONS.get(runner, {}))
    if runner == "dask":
        limit = args.dask_memory_limit
        if limit is None and args.scale >= LARGE_SCALE:
            limit = LARGE_SCALE_WORKER_MEMORY
        if limit is not None:
            options["memory_limit"] = limit
    return options


def make_engines(args: argparse.Namespace, paths: dict[str, str]) -> list[EngineProcess]:
    """One worker-process engine per requested runner and peer."""
    engines = [
        EngineProcess(f"spillframe-{r}", paths, runner_options(args, r)) for r in args.runners
    ]
    return engines + [EngineProcess(p, paths) for p in args.peers]


def check_answer(qnum: int, result: RunResult, expected: Any) -> str:
    """``"ok"`` or the reason the answer differs from DuckDB's."""
    try:
        check_query(qnum, result.table, expected)
    except AnswerMismatch as exc:
        return str(exc)[:500]
    except Exception as exc:  # a malformed result is a wrong answer, not a crash
        return f"{type(exc).__name__}: {exc}"[:500]
    return "ok"


def _record(cell: dict[str, Any], result: RunResult) -> None:
    cell["peak_bytes"] = max(cell.get("peak_bytes") or 0, result.peak_bytes or 0) or None
    if result.status == "ok":
        cell["runs"].append(result.seconds)
    else:
        cell.update(status=result.status, message=result.message)


def run_query(
    qnum: int, engines: list[EngineProcess], expected: Any, runs: int, timeout: float
) -> dict[str, dict[str, Any]]:
    """Warm up and time one query on every engine, taking turns."""
    row = {e.name: {"status": "ok", "message": "", "runs": []} for e in engines}
    for engine in engines:
        result = engine.run(qnum, timeout)
        _record(row[engine.name], result)
        if result.status == "ok":
            row[engine.name]["answer"] = check_answer(qnum, result, expected)
        row[engine.name]["runs"] = []
    for _ in range(runs):
        for engine in engines:
            if row[engine.name]["status"] == "ok":
                _record(row[engine.name], engine.run(qnum, timeout))
    for cell in row.values():
        cell["seconds"] = statistics.median(cell["runs"]) if cell["status"] == "ok" else None
    return row


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def metadata(args: argparse.Namespace) -> dict[str, Any]:
    """What the report says about the run."""
    versions = {p: v for p in PACKAGES if (v := _version(p))}
    return {
        "scale": args.scale,
        "format": args.format,
        "runs": args.runs,
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": machine_summary(),
        "versions": versions,
        "runner_options": {r: runner_options(args, r) for r in args.runners},
        "load_average_start": [round(x, 1) for x in os.getloadavg()],
    }


def _progress(qnum: int, row: dict[str, dict[str, Any]]) -> None:
    parts = []
    for name, cell in row.items():
        if cell["status"] != "ok":
            parts.append(f"{name}={cell['status']}")
        else:
            wrong = "" if cell.get("answer") == "ok" else "(WRONG)"
            parts.append(f"{name}={cell['seconds']:.3f}s{wrong}")
    print(f"Q{qnum}: " + "  ".join(parts), file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write the reports."""
    args = parse_args(argv)
    if args.runs < 1:
        raise SystemExit("--runs must be at least 1")
    paths = datagen.generate(args.scale)[args.format]
    answers = reference_answers(paths, args.queries)
    engines = make_engines(args, paths)
    results: dict[int, dict[str, dict[str, Any]]] = {}
    meta = metadata(args)
    names = [e.name for e in engines]
    try:
        for qnum in args.queries:
            results[qnum] = run_query(qnum, engines, answers[qnum], args.runs, args.timeout)
            _progress(qnum, results[qnum])
            write_reports(args.output_dir, meta, results, names)  # partial results survive
    finally:
        for engine in engines:
            engine.close()
    meta["load_average_end"] = [round(x, 1) for x in os.getloadavg()]
    md_path, _ = write_reports(args.output_dir, meta, results, names)
    print(md_path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
