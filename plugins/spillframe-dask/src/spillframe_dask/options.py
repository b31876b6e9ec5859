"""The DaskRunner's options, validated once when the runner is built."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

# Options that only make sense for a LocalCluster the runner starts itself.
CLUSTER_OPTIONS = (
    "n_workers",
    "threads_per_worker",
    "memory_limit",
    "dashboard_address",
    "memory_target",
    "memory_spill",
    "memory_pause",
    "memory_terminate",
    "spill_dir",
    "allowed_failures",
)
# Runner option -> distributed config key of the worker memory threshold.
THRESHOLDS = {
    "memory_target": "distributed.worker.memory.target",
    "memory_spill": "distributed.worker.memory.spill",
    "memory_pause": "distributed.worker.memory.pause",
    "memory_terminate": "distributed.worker.memory.terminate",
}


@dataclass(frozen=True, slots=True)
class DaskRunnerOptions:
    """Options of :class:`spillframe_dask.runner.DaskRunner`.

    Parameters
    ----------
    address : str, optional
        A running scheduler to connect to; without it a LocalCluster is started.
    security : distributed.Security, optional
        TLS settings for the scheduler connection (or the LocalCluster).
    n_workers, threads_per_worker : int, optional
        LocalCluster size; by default distributed's split of the CPUs.
    memory_limit : int or str, optional
        Memory per worker, bytes or a string such as ``"512 MiB"``; default: the
        machine's memory divided among the workers.
    dashboard_address : str
        Where the dashboard listens, ``":0"`` (a free port) by default; None disables it.
    memory_target, memory_spill, memory_pause, memory_terminate : float or False, optional
        Worker memory thresholds as fractions of ``memory_limit`` (False disables one);
        default: distributed's configuration.
    spill_dir : str, optional
        Directory where workers spill (their ``local_directory``).
    allowed_failures : int, optional
        How many workers may die running one task before the query fails.
    no_workers_timeout : float or None
        Seconds a query's tasks may wait while the LocalCluster has no worker at all
        (every worker lost, e.g. killed for memory, and none back) before the query
        fails with RunnerError instead of waiting forever; default 60, None: wait.
        A cluster at ``address`` keeps its scheduler's own setting.
    spill_alert_interval : float
        Minimum seconds between two spill log lines of one worker.
    progress : bool, optional
        Show a tqdm progress bar per stage (named by its operator), fed by the events
        workers publish as tasks finish; default: when stderr is a terminal, or when
        ``SPILLFRAME_PROGRESS=1`` (the py runner's rule).
    arrow_memory_pool : {"jemalloc", "system", "mimalloc"} or None
        Arrow's allocator in the workers of a LocalCluster the runner starts.
        ``"jemalloc"`` (the default where pyarrow has it, else ``"system"``) is fast
        and returns freed pages to the OS within its decay time, and at once when the
        :class:`~spillframe_dask.trim.MemoryTrimmer` sees a worker run high, so that
        process memory, which the pause and terminate thresholds watch, follows the
        data actually held. ``"system"`` (glibc with a 64 KiB mmap threshold) returns
        freed buffers at once but made TPC-H queries up to 2x slower (measured);
        None leaves the workers the client's environment: jemalloc when spillframe
        was imported before pyarrow (``spillframe._allocator``), else pyarrow's
        default (mimalloc), which keeps freed pages cached.
    """

    address: str | None = None
    security: Any = None
    n_workers: int | None = None
    threads_per_worker: int | None = None
    memory_limit: int | str | None = None
    dashboard_address: str | None = ":0"
    memory_target: float | bool | None = None
    memory_spill: float | bool | None = None
    memory_pause: float | bool | None = None
    memory_terminate: float | bool | None = None
    spill_dir: str | None = None
    allowed_failures: int | None = None
    no_workers_timeout: float | None = 60.0
    spill_alert_interval: float = 5.0
    progress: bool | None = None
    arrow_memory_pool: str | None = "jemalloc"

    def __post_init__(self) -> None:
        for name in ("n_workers", "threads_per_worker"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in THRESHOLDS:
            value = getattr(self, name)
            if value is None or value is False:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise ValueError(
                    f"{name} must be a fraction of memory_limit in (0, 1] or False, got {value!r}"
                )
        if self.no_workers_timeout is not None and not self.no_workers_timeout > 0:
            raise ValueError(
                f"no_workers_timeout must be > 0 seconds or None, got {self.no_workers_timeout!r}"
            )
        if self.allowed_failures is not None and self.allowed_failures < 0:
            raise ValueError(f"allowed_failures must be >= 0, got {self.allowed_failures!r}")
        if self.spill_alert_interval < 0:
            raise ValueError(
                f"spill_alert_interval must be >= 0 seconds, got {self.spill_alert_interval!r}"
            )
        if self.arrow_memory_pool not in (None, "system", "mimalloc", "jemalloc"):
            raise ValueError(
                "arrow_memory_pool must be 'system', 'mimalloc', 'jemalloc' or None, "
                f"got {self.arrow_memory_pool!r}"
            )
        if self.address is not None:
            given = [
                n
                for n in CLUSTER_OPTIONS
                if getattr(self, n) is not None and n != "dashboard_address"
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)} only apply to a LocalCluster the runner starts; "
                    f"they cannot be combined with address={self.address!r}"
                )

    @classmethod
    def from_kwargs(cls, options: dict[str, Any]) -> DaskRunnerOptions:
        """Build options, naming any unknown one and listing the valid ones."""
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise TypeError(
                f"unknown option(s) for the dask runner: {', '.join(map(repr, unknown))}; "
                f"valid options are: {', '.join(valid)}"
            )
        return cls(**options)

    def threshold_config(self) -> dict[str, float | bool]:
        """The distributed config entries for the thresholds that were given."""
        return {
            key: getattr(self, name)
            for name, key in THRESHOLDS.items()
            if getattr(self, name) is not None
        }
