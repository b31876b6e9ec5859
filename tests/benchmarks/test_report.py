"""The TPC-H report: targets by scale, growth from another scale, runner options."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import benchmarks.tpch  # noqa: F401
except ImportError:  # pytest's rootdir is not on sys.path when run as plain `pytest`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.tpch.__main__ import parse_args, runner_options
from benchmarks.tpch.report import growth_table, render_markdown, targets


def _cell(seconds):
    return {"status": "ok", "message": "", "runs": [seconds], "seconds": seconds, "answer": "ok"}


ENGINES = ["spillframe-py", "spillframe-dask", "duckdb"]
SF1 = {1: {"spillframe-py": _cell(1.0), "spillframe-dask": _cell(1.2), "duckdb": _cell(0.5)}}
SF10 = {
    1: {
        "spillframe-py": _cell(10.0),
        "spillframe-dask": _cell(30.0),
        "duckdb": {"status": "error", "message": "boom", "runs": [], "seconds": None},
    }
}


def test_targets_depend_on_the_scale():
    small = targets(SF1, ENGINES, 1.0)
    assert (
        "- spillframe-py geomean / duckdb geomean = 2.00 over 1 queries (target <= 2: met)" in small
    )
    assert any(
        "spillframe-dask geomean / spillframe-py" in t and "<= 1.25: met" in t for t in small
    )
    large = targets(SF10, ENGINES, 10.0)
    assert any("spillframe-dask geomean / spillframe-py geomean = 3.00" in t for t in large)
    assert any("<= 1.1: NOT met" in t for t in large)


def test_growth_is_seconds_over_the_baseline_and_skips_failures():
    table = growth_table(SF10, SF1, ENGINES)
    assert "| Q1 | 10.0x | 25.0x | - |" in table
    assert "| geomean (queries) | 10.0x (1) | 25.0x (1) | - |" in table


def test_report_shows_growth_and_runner_options():
    meta = {
        "scale": 10.0,
        "format": "normalized",
        "runs": 1,
        "date": "2026-12-03 20:00",
        "machine": {"cpus": 2, "memory_gib": 23.5, "python": "3.11"},
        "versions": {},
        "runner_options": {"py": {}, "dask": {"n_workers": 2, "memory_limit": "6 GiB"}},
    }
    text = render_markdown(meta, SF10, ENGINES, ({**meta, "scale": 1.0}, SF1))
    assert "## Growth: seconds at scale 10 / seconds at scale 1" in text
    assert "Runner options: dask: n_workers=2, memory_limit=6 GiB." in text


def test_dask_workers_get_less_memory_than_the_data_from_scale_10():
    assert "memory_limit" not in runner_options(parse_args(["--scale", "1"]), "dask")
    assert runner_options(parse_args(["--scale", "10"]), "dask")["memory_limit"] == "6 GiB"
    custom = parse_args(["--scale", "10", "--dask-memory-limit", "3 GiB"])
    assert runner_options(custom, "dask")["memory_limit"] == "3 GiB"
    assert runner_options(custom, "py") == {}
