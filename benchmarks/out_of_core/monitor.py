"""Peak worker memory and spilled bytes of a LocalCluster, watched from its driver."""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import psutil

MIB = 1024**2


def worker_processes() -> list[psutil.Process]:
    """Worker processes of this driver's LocalCluster (spawned by its nannies)."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if any("spawn_main" in part for part in proc.cmdline()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


class WorkerMemorySampler:
    """Samples every worker process's RSS on a thread; keeps the peak per process.

    A worker replaced after a crash is a new process and gets its own entry.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peaks: dict[int, int] = defaultdict(int)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        procs: list[psutil.Process] = []
        last_scan = 0.0
        while not self._stop.is_set():
            if time.monotonic() - last_scan > 0.5:
                procs, last_scan = worker_processes(), time.monotonic()
            for proc in procs:
                try:
                    rss = proc.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                if rss > self.peaks[proc.pid]:
                    self.peaks[proc.pid] = rss
            self._stop.wait(self.interval)

    def __enter__(self) -> WorkerMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_bytes(self) -> int:
        """The highest RSS any single worker process reached."""
        return max(self.peaks.values(), default=0)


class SpillCounter:
    """Sums the spill events the workers' SpillReporter publishes (all workers)."""

    def __init__(self, address: str) -> None:
        import distributed
        from spillframe_dask.spill import TOPIC

        self.bytes = 0.0
        self.objects = 0
        self._lock = threading.Lock()
        self._client = distributed.Client(address, set_as_default=False)
        self._client.subscribe_topic(TOPIC, self._on_event)

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        _, message = event
        with self._lock:
            self.bytes += message["bytes"]
            self.objects += int(message["count"])

    def close(self) -> None:
        self._client.close()


def disk_usage(root: Path) -> int:
    """Bytes allocated on disk by the files under ``root`` (0 if it does not exist)."""
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            try:
                stat = os.stat(os.path.join(dirpath, name))
            except OSError:
                continue
            total += min(stat.st_size, stat.st_blocks * 512)
    return total


class ProcessMemorySampler:
    """Samples this process tree's RSS (and optionally a directory's size) on a thread.

    For engines that run in the benchmark's own process (the PyRunner, DuckDB):
    the peak RSS of the process plus any children, and the peak disk usage of
    ``watch_dir`` (DuckDB's temp directory), sampled every ``interval`` seconds.
    """

    def __init__(self, watch_dir: Path | None = None, interval: float = 0.05) -> None:
        self.interval = interval
        self.watch_dir = watch_dir
        self.peak_bytes = 0
        self.peak_dir_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total

    def _run(self) -> None:
        last_dir = 0.0
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._rss())
            if self.watch_dir is not None and time.monotonic() - last_dir > 0.2:
                self.peak_dir_bytes = max(self.peak_dir_bytes, disk_usage(self.watch_dir))
                last_dir = time.monotonic()
            self._stop.wait(self.interval)

    def __enter__(self) -> ProcessMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
