"""Shared helpers for the benchmarks: timing, peak memory and result formatting.

The memory sampler reads the resident set size (RSS) of a process *tree*, so it
counts Dask workers and any other child processes an engine starts.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

BENCHMARKS_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCHMARKS_DIR / "data"
RESULTS_DIR = BENCHMARKS_DIR / "results"
MIB = 1024**2


def tree_rss(pid: int) -> int:
    """Return the summed RSS in bytes of a process and all its descendants.

    Parameters
    ----------
    pid : int
        Root of the process tree.

    Returns
    -------
    int
        Bytes; processes that exit while being read are skipped.
    """
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


class PeakMemorySampler:
    """Sample the RSS of a process tree on a background thread and keep the peak.

    Parameters
    ----------
    pid : int, optional
        Root of the tree to watch; defaults to the current process.
    interval : float
        Seconds between samples.

    Examples
    --------
    >>> with PeakMemorySampler() as sampler:
    ...     data = bytearray(10 * 1024**2)
    >>> sampler.peak_bytes > 0
    True
    """

    def __init__(self, pid: int | None = None, interval: float = 0.02) -> None:
        self.pid = pid if pid is not None else psutil.Process().pid
        self.interval = interval
        self.peak_bytes = 0
        self.baseline_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> PeakMemorySampler:
        """Take a baseline sample and start sampling."""
        self.baseline_bytes = tree_rss(self.pid)
        self.peak_bytes = self.baseline_bytes
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> int:
        """Stop sampling and return the peak in bytes."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        return self.peak_bytes

    def _sample(self) -> None:
        self.peak_bytes = max(self.peak_bytes, tree_rss(self.pid))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> PeakMemorySampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Measurement:
    """Wall-clock seconds and peak RSS of one timed call."""

    seconds: float
    peak_bytes: int
    result: Any = field(default=None, repr=False)


def measure(fn: Callable[[], Any], pid: int | None = None) -> Measurement:
    """Run ``fn`` once, timing it and sampling the peak RSS of the process tree.

    Parameters
    ----------
    fn : callable
        Zero-argument function to run.
    pid : int, optional
        Root of the process tree to sample; defaults to the current process.

    Returns
    -------
    Measurement
        Seconds, peak bytes and ``fn``'s return value.
    """
    sampler = PeakMemorySampler(pid)
    with sampler:
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
    return Measurement(seconds, sampler.peak_bytes, result)


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    """Time a block; the yielded dict gets a ``"seconds"`` entry on exit."""
    out: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield out
    finally:
        out["seconds"] = time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    """Return the median, or NaN for an empty sequence."""
    return statistics.median(values) if values else math.nan


def geometric_mean(values: Sequence[float]) -> float:
    """Return the geometric mean of positive values, or NaN if there are none."""
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    if not positive:
        return math.nan
    return math.exp(sum(math.log(v) for v in positive) / len(positive))


def format_seconds(value: float | None) -> str:
    """Format seconds for a markdown table cell."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def format_mib(value: float | None) -> str:
    """Format a byte count as MiB for a markdown table cell."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value / MIB:.0f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Render a GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine_summary() -> dict[str, Any]:
    """Describe the machine a benchmark ran on (CPU count, memory, Python)."""
    import platform

    return {
        "cpus": psutil.cpu_count(logical=True),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
