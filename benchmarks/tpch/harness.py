"""Run each engine in its own worker process and time queries from the parent.

One long-lived process per engine keeps engines from sharing allocator state,
lets the parent read each engine's peak RSS (its whole process tree, so Dask
workers count) and turns a crash or a timeout into a recorded failure: the worker
is killed and restarted for the next query.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psutil

from benchmarks.common import PeakMemorySampler

# Worker replies: ("ok", seconds, table) | ("error", kind, message)
OK, ERROR = "ok", "error"


@dataclass
class RunResult:
    """Outcome of one query on one engine."""

    status: str  # "ok", "error", "timeout", "skipped", "unavailable"
    seconds: float | None = None
    peak_bytes: int | None = None
    table: Any = None
    message: str = ""


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _serve(conn: Any, name: str, paths: Mapping[str, str], options: Mapping[str, Any]) -> None:
    """Worker process loop: build the engine, then answer ``("run", qnum)`` requests."""
    if name.startswith("spillframe"):
        # As a user's script does (``import spillframe as sf`` first): spillframe picks
        # Arrow's allocator only when pyarrow is not loaded yet (spillframe._allocator).
        import spillframe  # noqa: F401

    from benchmarks.tpch.engines import EngineUnavailable, QueryUnsupported, make_engine

    try:
        engine = make_engine(name, paths, options)
    except EngineUnavailable as exc:
        conn.send((ERROR, "unavailable", str(exc)))
        return
    except Exception as exc:
        conn.send((ERROR, "unavailable", _describe(exc)))
        return
    conn.send((OK, 0.0, None))
    while True:
        request = conn.recv()
        if request[0] == "close":
            break
        try:
            seconds, table = engine.run(request[1])
            conn.send((OK, seconds, table))
        except QueryUnsupported as exc:
            conn.send((ERROR, "skipped", str(exc)))
        except Exception as exc:
            conn.send((ERROR, "error", _describe(exc)))
    engine.close()
    conn.send((OK, 0.0, None))


def _kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    procs = [*root.children(recursive=True), root]
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(procs, timeout=10)


class EngineProcess:
    """One engine in a worker process, started lazily and restarted after a failure.

    Parameters
    ----------
    name : str
        Engine name, e.g. ``"spillframe-py"`` or ``"duckdb"``.
    paths : mapping
        ``{table: parquet path}``.
    options : mapping
        Engine options passed to :func:`benchmarks.tpch.engines.make_engine`.
    startup_timeout : float
        Seconds allowed for the engine to start (clusters take a few).
    """

    def __init__(
        self,
        name: str,
        paths: Mapping[str, str],
        options: Mapping[str, Any] | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        self.name = name
        self.paths = dict(paths)
        self.options = dict(options or {})
        self.startup_timeout = startup_timeout
        self.unavailable: str | None = None
        self._proc: Any = None
        self._conn: Any = None

    def _start(self) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        # Not a daemon: engines such as dask's LocalCluster start their own processes.
        self._proc = ctx.Process(
            target=_serve, args=(child, self.name, self.paths, self.options), name=self.name
        )
        self._proc.start()
        child.close()
        reply = self._receive(self.startup_timeout)
        if reply is None:
            self.unavailable = f"did not start within {self.startup_timeout:.0f} s"
        elif reply[0] == ERROR:
            self.unavailable = reply[2]
        if self.unavailable:
            self.kill()

    def _receive(self, timeout: float) -> tuple[Any, ...] | None:
        try:
            if self._conn.poll(timeout):
                return self._conn.recv()
        except (EOFError, OSError):
            return (ERROR, "error", f"worker exited (exit code {self._proc.exitcode})")
        return None

    def run(self, qnum: int, timeout: float) -> RunResult:
        """Run query ``qnum``; never raises for engine failures."""
        if self._proc is None and self.unavailable is None:
            self._start()
        if self.unavailable is not None:
            return RunResult("unavailable", message=self.unavailable)
        sampler = PeakMemorySampler(self._proc.pid).start()
        self._conn.send(("run", qnum))
        reply = self._receive(timeout)
        peak = sampler.stop()
        if reply is None:
            self.kill()
            return RunResult("timeout", peak_bytes=peak, message=f"timed out after {timeout:g} s")
        if reply[0] == OK:
            return RunResult("ok", seconds=reply[1], peak_bytes=peak, table=reply[2])
        if not self._proc.is_alive():
            self.kill()
        return RunResult(reply[1], peak_bytes=peak, message=reply[2])

    def kill(self) -> None:
        """Kill the worker and its children; the next run starts a fresh one."""
        if self._proc is not None:
            _kill_tree(self._proc.pid)
            self._proc.join(timeout=10)
        self._proc = None
        self._conn = None

    def close(self) -> None:
        """Ask the engine to shut down cleanly, killing it if it does not."""
        if self._proc is None:
            return
        try:
            self._conn.send(("close",))
            self._receive(60.0)
        except (BrokenPipeError, OSError):
            pass
        self.kill()
