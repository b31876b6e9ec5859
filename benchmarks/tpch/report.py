"""Summaries of a TPC-H benchmark run: the markdown table and the JSON record."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    format_mib,
    format_seconds,
    geometric_mean,
    machine_summary,
    markdown_table,
)
from benchmarks.tpch.engines import SPILLFRAME_PREFIX

# results[qnum][engine] = {"status", "message", "seconds" (median), "runs", "peak_bytes", "answer"}
Results = Mapping[int, Mapping[str, Mapping[str, Any]]]


def is_peer(engine: str) -> bool:
    """Tell whether an engine is a peer (anything but a spillframe runner)."""
    return not engine.startswith(SPILLFRAME_PREFIX)


def _ok(cell: Mapping[str, Any] | None) -> bool:
    seconds = cell.get("seconds") if cell else None
    return cell["status"] == "ok" and seconds is not None and math.isfinite(seconds)


def fastest_peer(row: Mapping[str, Mapping[str, Any]]) -> float | None:
    """Median seconds of the fastest peer on one query, or None."""
    times = [c["seconds"] for e, c in row.items() if is_peer(e) and _ok(c)]
    return min(times) if times else None


def common_queries(results: Results, engines: Sequence[str]) -> list[int]:
    """Queries every engine that completed at least one query completed."""
    active = [e for e in engines if any(_ok(results[q].get(e)) for q in results)]
    return [q for q in results if all(_ok(results[q].get(e)) for e in active)]


def geomeans(results: Results, engines: Sequence[str], qnums: Sequence[int]) -> dict[str, float]:
    """Geometric mean of median seconds per engine over ``qnums``."""
    return {
        e: geometric_mean([results[q][e]["seconds"] for q in qnums if _ok(results[q].get(e))])
        for e in engines
    }


def _cell(cell: Mapping[str, Any] | None, best: float | None) -> str:
    if not cell or (cell["status"] == "ok" and not _ok(cell)):
        return "-"
    if not _ok(cell):
        return cell["status"]
    text = format_seconds(cell["seconds"])
    if best:
        text += f" ({cell['seconds'] / best:.2f}x)"
    if cell.get("answer", "ok") != "ok":
        text += " wrong"
    return text


def time_table(results: Results, engines: Sequence[str]) -> str:
    """Median seconds per query and engine, with the ratio to the fastest peer."""
    rows = []
    for q, row in results.items():
        best = fastest_peer(row)
        rows.append([f"Q{q}", *[_cell(row.get(e), best) for e in engines]])
    common = common_queries(results, engines)
    means = geomeans(results, engines, common)
    peer_means = [v for e, v in means.items() if is_peer(e) and math.isfinite(v)]
    best_mean = min(peer_means) if peer_means else None
    rows.append(
        [f"geomean ({len(common)} common)"]
        + [_cell({"status": "ok", "seconds": means[e]}, best_mean) for e in engines]
    )
    return markdown_table(["query", *engines], rows)


def memory_table(results: Results, engines: Sequence[str]) -> str:
    """Peak RSS (MiB) of each engine's process tree per query."""
    rows = [
        [f"Q{q}", *[format_mib((row.get(e) or {}).get("peak_bytes")) for e in engines]]
        for q, row in results.items()
    ]
    return markdown_table(["query", *engines], rows)


def failures(results: Results, engines: Sequence[str]) -> list[str]:
    """One line per failed, skipped or wrong (query, engine)."""
    lines = []
    reported: set[str] = set()
    for q, row in results.items():
        for e in engines:
            cell = row.get(e)
            if not cell:
                continue
            if cell["status"] == "unavailable":
                if e not in reported:
                    lines.append(f"- {e}: unavailable: {cell.get('message', '')}")
                    reported.add(e)
            elif cell["status"] != "ok":
                lines.append(f"- Q{q} {e}: {cell['status']}: {cell.get('message', '')}")
            elif cell.get("answer", "ok") != "ok":
                lines.append(f"- Q{q} {e}: wrong answer: {cell['answer']}")
    return lines


def _pair_ratio(results: Results, engine: str, peer: str) -> tuple[float, int] | None:
    both = [q for q in results if _ok(results[q].get(engine)) and _ok(results[q].get(peer))]
    if not both:
        return None
    means = geomeans(results, [engine, peer], both)
    return means[engine] / means[peer], len(both)


def targets(results: Results, engines: Sequence[str]) -> list[str]:
    """Where spillframe stands against the targets of issue 6."""
    lines = []
    for peer, limit in (("daft", 1.0), ("duckdb", 2.0)):
        if "spillframe-py" in engines and peer in engines:
            pair = _pair_ratio(results, "spillframe-py", peer)
            if pair:
                verdict = "met" if pair[0] <= limit else "NOT met"
                lines.append(
                    f"- PyRunner geomean / {peer} geomean = {pair[0]:.2f} over {pair[1]} "
                    f"queries (target <= {limit:g}: {verdict})"
                )
    if "spillframe-dask" in engines and "dask-dataframe" in engines:
        both = [
            q
            for q in results
            if _ok(results[q].get("spillframe-dask")) and _ok(results[q].get("dask-dataframe"))
        ]
        speedups = {
            q: results[q]["dask-dataframe"]["seconds"] / results[q]["spillframe-dask"]["seconds"]
            for q in both
        }
        met = [q for q, s in speedups.items() if s >= 2.0]
        if not both:
            return lines
        lines.append(
            f"- Dask runner >= 2x faster than dask.dataframe on {len(met)} of {len(both)} "
            "queries both ran: " + ", ".join(f"Q{q} {s:.2f}x" for q, s in speedups.items())
        )
    return lines


def _load_note(meta: Mapping[str, Any]) -> str:
    start, end = meta.get("load_average_start"), meta.get("load_average_end")
    text = f"Load average (1, 5, 15 min) at start: {start}"
    if end:
        text += f", at end: {end}"
    cpus = meta["machine"]["cpus"]
    return text + f" on {cpus} CPUs; other work on the machine inflates every engine's times."


def render_markdown(meta: Mapping[str, Any], results: Results, engines: Sequence[str]) -> str:
    """The full markdown report."""
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    machine = meta["machine"]
    parts = [
        f"# TPC-H scale {meta['scale']:g} ({meta['format']} parquet)",
        "",
        f"Measured {meta['date']} on {machine['cpus']} CPUs, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}. {versions}.",
        "",
        _load_note(meta),
        "",
        f"Median of {meta['runs']} runs after a warm-up, engines run alternately, each in "
        "its own process tree. Seconds (ratio to the fastest peer); `wrong` marks an "
        "answer that differs from DuckDB's.",
        "",
        time_table(results, engines),
        "",
        "## Peak memory (MiB RSS of the engine's process tree, incl. Dask workers)",
        "",
        memory_table(results, engines),
    ]
    if target_lines := targets(results, engines):
        parts += ["", "## Targets", "", *target_lines]
    if failure_lines := failures(results, engines):
        parts += ["", "## Failures and skips", "", *failure_lines]
    return "\n".join(parts) + "\n"


def write_reports(
    out_dir: Path, meta: Mapping[str, Any], results: Results, engines: Sequence[str]
) -> tuple[Path, Path]:
    """Write ``tpch_sf<scale>.md`` and ``.json``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"tpch_sf{meta['scale']:g}"
    md_path, json_path = out_dir / f"{stem}.md", out_dir / f"{stem}.json"
    md_path.write_text(render_markdown(meta, results, engines))
    record = {
        "meta": {**meta, "machine": machine_summary() | dict(meta["machine"])},
        "engines": list(engines),
        "results": {str(q): row for q, row in results.items()},
    }
    json_path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return md_path, json_path
