"""SerialRunner: the Runner contract, executed as plainly as it can be.

It runs one task at a time in the calling thread, each when the partition being read
first needs it, and keeps outputs until no remaining task reads them. It is the
executable spec of :class:`spillframe.runners.base.Runner` (``RunnerConformance``
checks it like any runner) and a debugging aid: a kernel's traceback is the caller's.
It neither spills nor runs tasks in parallel; use the ``py`` runner for real work.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psutil
import pyarrow as pa

from spillframe.errors import ResourceError
from spillframe.physical.plan import PhysicalPlan, TaskRef, resolve_args
from spillframe.runners.base import Runner
from spillframe.units import format_bytes


class SerialRunner(Runner):
    """Runs a plan's reachable tasks one by one, in the order partitions are read.

    Parameters
    ----------
    memory_bytes : int, optional
        The most memory one task may declare (a UDF's ``memory_bytes``); by default
        this machine's. A larger request raises ResourceError before anything runs,
        as does a request for GPUs or for more CPUs than the machine has.

    Examples
    --------
    >>> import spillframe as sf
    >>> from spillframe.runners.base import set_active_runner
    >>> previous = set_active_runner(SerialRunner())
    >>> sf.from_pydict({"a": [3, 1, 2]}, num_partitions=2).sort("a").to_pydict()
    {'a': [1, 2, 3]}
    >>> _ = set_active_runner(previous)
    """

    name = "serial"

    def __init__(self, memory_bytes: int | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.memory_bytes = memory_bytes or psutil.virtual_memory().total
        self.num_cpus = psutil.cpu_count() or 1

    def run(self, plan: PhysicalPlan) -> Iterator[pa.Table]:
        """Check every reachable task's request, then stream the output partitions
        (a generator: nothing runs until the first partition is asked for)."""
        needed = plan.reachable()
        for key in needed:
            self._check(plan, key)
        return self._stream(plan, needed)

    def _check(self, plan: PhysicalPlan, key: tuple[int, int]) -> None:
        task = plan.task(key)
        r = task.resources
        if r.num_gpus > 0 or r.num_cpus > self.num_cpus or r.memory_bytes > self.memory_bytes:
            raise ResourceError(
                f"{task.label or task.name} requests num_cpus={r.num_cpus:g}, "
                f"num_gpus={r.num_gpus:g}, memory_bytes={format_bytes(r.memory_bytes)}, but "
                f"the serial runner has num_cpus={self.num_cpus}, num_gpus=0, "
                f"memory_bytes={format_bytes(self.memory_bytes)}; lower the request with "
                ".override_options(...) or use a bigger runner"
            )

    def _stream(self, plan: PhysicalPlan, needed: list[tuple[int, int]]) -> Iterator[pa.Table]:
        # Reads left per task output: an output is dropped once its last reader ran.
        readers = {key: 0 for key in needed}
        for key in needed:
            for ref in plan.task(key).refs():
                readers[ref.key] += 1
        outputs: dict[tuple[int, int], Any] = {}

        def compute(key: tuple[int, int]) -> Any:
            if key not in outputs:
                task = plan.task(key)
                for ref in task.refs():  # inputs first, in argument order
                    compute(ref.key)
                args = resolve_args(task.args, read)
                for ref in task.refs():
                    readers[ref.key] -= 1
                    if readers[ref.key] == 0:
                        outputs.pop(ref.key, None)
                outputs[key] = task.kernel(*args)
            return outputs[key]

        def read(ref: TaskRef) -> Any:
            value = outputs[ref.key]
            return value if ref.output is None else value[ref.output]

        for index in range(plan.output.num_partitions):
            key = (plan.output_stage, index)
            table = compute(key)
            outputs.pop(key, None)
            yield table
