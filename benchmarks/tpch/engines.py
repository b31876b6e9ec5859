"""Engines a TPC-H benchmark can run: spillframe's runners and the peers.

An :class:`Engine` is built once per worker process, then asked to run queries by
number and return the answer as a ``pyarrow.Table``. The time it reports covers
planning, execution and materializing the result, nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from benchmarks.tpch.queries import QUERIES, make_get_table

SPILLFRAME_PREFIX = "spillframe-"


class EngineUnavailable(RuntimeError):
    """Raised when an engine cannot run on this machine; the message says why."""


class QueryUnsupported(RuntimeError):
    """Raised when an engine cannot express a query; the message says why."""


class Engine:
    """Base class: set up from table paths, run queries by number.

    Parameters
    ----------
    paths : mapping
        ``{table: parquet path}``.
    options : mapping
        Engine-specific options (e.g. a runner's ``n_workers``).
    """

    name = "engine"

    def __init__(self, paths: Mapping[str, str], options: Mapping[str, Any] | None = None):
        self.paths = dict(paths)
        self.options = dict(options or {})

    def execute(self, qnum: int) -> pa.Table:
        """Run one query and return its answer."""
        raise NotImplementedError

    def run(self, qnum: int) -> tuple[float, pa.Table]:
        """Run one query; return ``(seconds, answer)``."""
        start = time.perf_counter()
        table = self.execute(qnum)
        return time.perf_counter() - start, table

    def close(self) -> None:
        """Release clusters, connections and other resources."""


class SpillframeEngine(Engine):
    """spillframe on one of its runners (``py``, ``dask`` or a plugin)."""

    def __init__(self, paths: Mapping[str, str], options: Mapping[str, Any] | None = None):
        super().__init__(paths, options)
        try:
            import spillframe
        except ImportError as exc:
            raise EngineUnavailable(f"spillframe is not importable: {exc}") from exc
        runner = self.options.pop("runner", "py")
        listed = getattr(spillframe, "available_runners", None)
        if listed is not None and runner not in list(listed()):
            raise EngineUnavailable(
                f"spillframe runner {runner!r} is not registered (available: {list(listed())})"
            )
        try:
            spillframe.set_runner(runner, **self.options)
        except (ImportError, KeyError, ValueError) as exc:
            raise EngineUnavailable(f"spillframe.set_runner({runner!r}) failed: {exc}") from exc
        self.name = f"{SPILLFRAME_PREFIX}{runner}"
        self._get_table = make_get_table(spillframe, self.paths)

    def execute(self, qnum: int) -> pa.Table:
        return QUERIES[qnum](self._get_table).to_arrow()


DAFT_INSTALL = "pip install 'daft>=0.7' --no-deps"  # Daft 0.7.26 pins pyarrow<26
MIN_DAFT = (0, 7)


class DaftEngine(Engine):
    """Daft's native runner on the same query functions as spillframe (Daft >= 0.7)."""

    name = "daft"

    def __init__(self, paths: Mapping[str, str], options: Mapping[str, Any] | None = None):
        super().__init__(paths, options)
        try:
            import daft
        except ImportError as exc:
            raise EngineUnavailable(f"daft is not installed ({DAFT_INSTALL})") from exc
        version = getattr(daft, "__version__", "unknown")
        if release(version) < MIN_DAFT:
            raise EngineUnavailable(
                f"daft {version} is installed, the queries need 0.7 or newer: they use Daft "
                f"0.7's expression methods (col(...).contains, .year()) and "
                f"daft.functions.when ({DAFT_INSTALL})"
            )
        self._get_table = make_get_table(daft, self.paths)

    def execute(self, qnum: int) -> pa.Table:
        return QUERIES[qnum](self._get_table).to_arrow()


def release(version: str) -> tuple[int, ...]:
    """The leading numbers of a version string: ``"0.7.26"`` -> ``(0, 7, 26)``,
    ``"0.6.14.dev3"`` -> ``(0, 6, 14)``, ``"unknown"`` -> ``()``."""
    numbers = []
    for part in version.split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return tuple(numbers)


def engine_class(name: str) -> type[Engine]:
    """Return the engine class registered under ``name``."""
    from benchmarks.tpch import peers

    classes: dict[str, type[Engine]] = {"daft": DaftEngine, **peers.PEERS}
    if name.startswith(SPILLFRAME_PREFIX):
        return SpillframeEngine
    if name not in classes:
        choices = sorted([*classes, f"{SPILLFRAME_PREFIX}<runner>"])
        raise ValueError(f"unknown engine {name!r}; choose from {choices}")
    return classes[name]


def make_engine(name: str, paths: Mapping[str, str], options: Mapping[str, Any]) -> Engine:
    """Build the engine ``name`` (``spillframe-py``, ``duckdb``, ``polars``, ...)."""
    options = dict(options)
    if name.startswith(SPILLFRAME_PREFIX):
        options["runner"] = name[len(SPILLFRAME_PREFIX) :]
    return engine_class(name)(paths, options)
