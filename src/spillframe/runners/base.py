"""The Runner contract, the runner registry and the active-runner setting.

Runners are found through the ``spillframe.runners`` entry-point group; each
entry point names a factory ``(**options) -> Runner``. The built-in ``py``
runner registers itself there too, so the core and plugins are found the same
way. The active runner comes from, in order: an explicit ``set_runner*`` call
(or a ``with runner(...)`` block), the ``SPILLFRAME_RUNNER`` /
``SPILLFRAME_RUNNER_OPTIONS`` environment variables read at first use, and
finally ``py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pyarrow as pa

from spillframe.errors import RunnerError
from spillframe.physical.plan import PhysicalPlan

ENTRY_POINT_GROUP = "spillframe.runners"

# Distributions that provide runners we know of, for the "pip install" hint.
KNOWN_PLUGINS = {"dask": "spillframe-dask"}


class Runner(ABC):
    """Executes a :class:`PhysicalPlan` and streams its final partitions in order.

    Subclasses set ``name`` and implement :meth:`run`. The contract, which
    :class:`spillframe.testing.RunnerConformance` checks and
    :class:`spillframe.runners.serial.SerialRunner` implements in a few lines:

    - **Never re-plan, never look inside kernels.** A task is ``kernel(*args)``; every
      :class:`TaskRef` in ``args`` (nested in tuples and lists) is replaced by the
      referenced output first (:func:`spillframe.physical.plan.resolve_args`), a ref
      with ``output=j`` by bucket ``j`` of a multi-output task.
    - **Run only reachable tasks** (:meth:`PhysicalPlan.reachable`): a stage no output
      partition depends on (an optional reduction the planner decided against) is
      never run.
    - **Check resources before running anything**: a task whose declared
      ``resources`` no worker can ever provide raises
      :class:`spillframe.errors.ResourceError` (naming the task's ``label``) from
      ``run()`` or the first ``next()``, before any task ran.
    - **Be lazy, in order**: ``run`` returns an iterator; no task runs before the first
      partition is asked for. Partitions come out in index order, and work is started
      in :meth:`PhysicalPlan.first_output` order, so partition 0's work comes first.
    - **Stop on close**: closing the iterator early (``show``, ``limit``) stops the
      work not yet started and releases what the query held.
    - **Keep kernel exception types**: an exception raised by a kernel reaches the
      caller as that exception (or an exception of that type), not as a runner error.

    A runner that sets ``records_stats = True`` takes ``run(plan, stats=recorder)``:
    a :class:`spillframe.runners.stats.QueryRecorder` it fills with every finished
    task, spilled bytes and lost workers (what ``df.stats()`` shows); it also logs
    spill alerts through it. For other runners the core records what it sees itself:
    the output partitions.
    """

    name: str = ""
    records_stats: bool = False

    def __init__(self, **options: Any) -> None:
        self.options = dict(options)

    @abstractmethod
    def run(self, plan: PhysicalPlan) -> Iterator[pa.Table]:
        """Yield the output stage's partitions, partition 0 first."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release threads, clusters and spill files."""

    def planning_defaults(self) -> dict[str, Any]:
        """Planner settings (:class:`spillframe.config.Config` fields) this runner
        suggests for the options the user has not set, e.g. a ``partition_bytes`` that
        fits its workers' memory and a ``parallelism`` equal to its worker threads."""
        return {}

    @property
    def dashboard_link(self) -> str | None:
        """A URL where the work can be watched, for runners that have one."""
        return None

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({opts})"


# -- registry -----------------------------------------------------------------


@dataclass
class _Registry:
    factories: dict[str, Callable[..., Runner]] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_REGISTRY = _Registry()


def _load_factories() -> dict[str, Callable[..., Runner]]:
    with _REGISTRY.lock:
        if _REGISTRY.factories is None:
            found: dict[str, Any] = {}
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                if ep.name in found and found[ep.name].value != ep.value:
                    raise RunnerError(
                        f"two installed distributions register the runner {ep.name!r}: "
                        f"{found[ep.name].value} and {ep.value}; uninstall one of them"
                    )
                found[ep.name] = ep
            factories: dict[str, Callable[..., Runner]] = {
                name: _LazyFactory(ep) for name, ep in found.items()
            }
            if "py" not in factories:  # running from a source tree without metadata
                from spillframe.runners.py_runner import PyRunner

                factories["py"] = PyRunner
            _REGISTRY.factories = factories
        return _REGISTRY.factories


class _LazyFactory:
    """Imports an entry point only when the runner is first built."""

    def __init__(self, ep: Any) -> None:
        self.ep = ep

    def __call__(self, **options: Any) -> Runner:
        return self.ep.load()(**options)


def available_runners() -> list[str]:
    """Names of every installed runner, ``py`` first.

    Examples
    --------
    >>> "py" in available_runners()
    True
    """
    names = sorted(_load_factories())
    return sorted(names, key=lambda n: n != "py")


def create_runner(name: str, **options: Any) -> Runner:
    """Build a runner by its registered name, with a helpful error if missing."""
    factories = _load_factories()
    if name not in factories:
        hint = (
            f"; install it with `pip install {KNOWN_PLUGINS[name]}`"
            if name in KNOWN_PLUGINS
            else ""
        )
        raise RunnerError(
            f"no runner named {name!r} is installed (installed: {', '.join(available_runners())})"
            f"{hint}"
        )
    return factories[name](**options)


# -- the active runner ----------------------------------------------------------


@dataclass
class _Setting:
    runner: Runner | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)


_SETTING = _Setting()


def _runner_from_env() -> Runner:
    name = os.environ.get("SPILLFRAME_RUNNER", "py").strip() or "py"
    raw = os.environ.get("SPILLFRAME_RUNNER_OPTIONS", "").strip()
    try:
        options = json.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        raise RunnerError(
            f"SPILLFRAME_RUNNER_OPTIONS is not valid JSON ({exc}); "
            'expected an object such as {"num_threads": 2}'
        ) from None
    if not isinstance(options, dict):
        raise RunnerError("SPILLFRAME_RUNNER_OPTIONS must be a JSON object")
    return create_runner(name, **options)


def get_runner() -> Runner:
    """The active runner, created from the environment on first use.

    Examples
    --------
    >>> import spillframe
    >>> spillframe.get_runner().name in spillframe.available_runners()
    True
    """
    with _SETTING.lock:
        if _SETTING.runner is None:
            _SETTING.runner = _runner_from_env()
        return _SETTING.runner


def _swap(new: Runner | None) -> Runner | None:
    with _SETTING.lock:
        old, _SETTING.runner = _SETTING.runner, new
        return old


def set_runner(name: str, **options: Any) -> Runner:
    """Make the runner registered as ``name`` the active one.

    Examples
    --------
    >>> import spillframe
    >>> spillframe.set_runner("py", num_threads=2).name
    'py'
    """
    new = create_runner(name, **options)
    old = _swap(new)
    if old is not None and old is not new:
        old.close()
    return new


def set_runner_py(
    num_threads: int | None = None,
    memory_limit: int | str | None = None,
    spill_dir: str | None = None,
) -> Runner:
    """Run queries locally, in this process, on a thread pool (the default).

    Parameters
    ----------
    num_threads : int, optional
        Worker threads; default: the number of CPUs.
    memory_limit : int or str, optional
        The query's memory budget, in bytes or as a size such as ``"256MiB"``: stored
        task outputs plus running tasks' reserved working memory stay within it (the
        rest spills to disk); default: half the available memory.
    spill_dir : str, optional
        Directory for spill files; default: the system temporary directory.

    Examples
    --------
    >>> import spillframe
    >>> spillframe.set_runner_py(num_threads=2).options["num_threads"]
    2
    >>> spillframe.set_runner_py(memory_limit="256MiB").memory_limit
    268435456
    """
    options = {
        k: v
        for k, v in {
            "num_threads": num_threads,
            "memory_limit": memory_limit,
            "spill_dir": spill_dir,
        }.items()
        if v is not None
    }
    return set_runner("py", **options)


@contextlib.contextmanager
def runner(name: str, **options: Any) -> Iterator[Runner]:
    """Use another runner inside a ``with`` block, restoring the previous one after.

    Examples
    --------
    >>> import spillframe
    >>> with spillframe.runner("py", num_threads=1) as r:
    ...     r.options["num_threads"]
    1
    """
    new = create_runner(name, **options)
    with _SETTING.lock:
        previous = _SETTING.runner
        _SETTING.runner = new
    try:
        yield new
    finally:
        with _SETTING.lock:
            _SETTING.runner = previous
        new.close()


def set_active_runner(instance: Runner | None) -> Runner | None:
    """Install an already-built runner (used by the pytest plugin); returns the old one."""
    return _swap(instance)
