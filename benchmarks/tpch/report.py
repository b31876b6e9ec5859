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


#: Targets by scale: (numerator engine, denominator engine, most the ratio may be).
#: Issue 6 set the SF1 ones against DuckDB and Daft; issue 14 the Dask runner's and
#: those at SF10.
TARGETS = {
    "small": (
        ("spillframe-py", "daft", 1.0),
        ("spillframe-py", "duckdb", 2.0),
        ("spillframe-dask", "spillframe-py", 1.25),
    ),
    "large": (
        ("spillframe-py", "daft", 1.0),
        ("spillframe-py", "duckdb", 1.5),
        ("spillframe-dask", "spillframe-py", 1.1),
    ),
}
LARGE_SCALE = 10.0


def targets(results: Results, engines: Sequence[str], scale: float = 1.0) -> list[str]:
    """Where spillframe stands against the targets of issues 6 and 14."""
    lines = []
    for engine, other, limit in TARGETS["large" if scale >= LARGE_SCALE else "small"]:
        if engine in engines and other in engines:
            pair = _pair_ratio(results, engine, other)
            if pair:
                verdict = "met" if pair[0] <= limit else "NOT met"
                lines.append(
                    f"- {engine} geomean / {other} geomean = {pair[0]:.2f} over {pair[1]} "
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


def load_results(path: Path) -> tuple[dict[str, Any], Results]:
    """The metadata and results of a run's JSON record (see :func:`write_reports`)."""
    record = json.loads(Path(path).read_text())
    return record["meta"], {int(q): row for q, row in record["results"].items()}


def growth_table(results: Results, baseline: Results, engines: Sequence[str]) -> str:
    """Per query and engine: seconds at this scale / seconds at the baseline's, and the
    ratio of the geomeans over the queries both runs answered."""
    rows = []
    for q, row in results.items():
        cells = []
        for e in engines:
            now, before = row.get(e), baseline.get(q, {}).get(e)
            if now is not None and before is not None and _ok(now) and _ok(before):
                cells.append(f"{now['seconds'] / before['seconds']:.1f}x")
            else:
                cells.append("-")
        rows.append([f"Q{q}", *cells])
    means = []
    for e in engines:
        both = [q for q in results if _ok(results[q].get(e)) and _ok(baseline.get(q, {}).get(e))]
        if both:
            now = geometric_mean([results[q][e]["seconds"] for q in both])
            before = geometric_mean([baseline[q][e]["seconds"] for q in both])
            means.append(f"{now / before:.1f}x ({len(both)})")
        else:
            means.append("-")
    rows.append(["geomean (queries)", *means])
    return markdown_table(["query", *engines], rows)


def _options_note(meta: Mapping[str, Any]) -> list[str]:
    options = {r: o for r, o in (meta.get("runner_options") or {}).items() if o}
    if not options:
        return []
    text = "; ".join(
        f"{runner}: " + ", ".join(f"{k}={v}" for k, v in opts.items())
        for runner, opts in options.items()
    )
    return [f"Runner options: {text}.", ""]


def _load_note(meta: Mapping[str, Any]) -> str:
    start, end = meta.get("load_average_start"), meta.get("load_average_end")
    text = f"Load average (1, 5, 15 min) at start: {start}"
    if end:
        text += f", at end: {end}"
    cpus = meta["machine"]["cpus"]
    return text + f" on {cpus} CPUs; other work on the machine inflates every engine's times."


def render_markdown(
    meta: Mapping[str, Any],
    results: Results,
    engines: Sequence[str],
    baseline: tuple[Mapping[str, Any], Results] | None = None,
) -> str:
    """The full markdown report; ``baseline`` (another scale's metadata and results)
    adds the table of how each engine's time grew from that scale."""
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
        *_options_note(meta),
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
    if baseline is not None:
        base_meta, base_results = baseline
        parts += [
            "",
            f"## Growth: seconds at scale {meta['scale']:g} / seconds at scale "
            f"{base_meta['scale']:g}",
            "",
            f"The scale {base_meta['scale']:g} times are those of its own report "
            f"(measured {base_meta['date']}); 10x the data at 10x the time is linear.",
            "",
            growth_table(results, base_results, engines),
        ]
    if target_lines := targets(results, engines, meta["scale"]):
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
    baseline_path = out_dir / "tpch_sf1.json"
    baseline = None
    if meta["scale"] != 1 and baseline_path.exists():
        baseline = load_results(baseline_path)
    md_path.write_text(render_markdown(meta, results, engines, baseline))
    record = {
        "meta": {**meta, "machine": machine_summary() | dict(meta["machine"])},
        "engines": list(engines),
        "results": {str(q): row for q, row in results.items()},
    }
    json_path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return md_path, json_path
