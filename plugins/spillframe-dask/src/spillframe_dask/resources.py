"""Task resource requests as Dask worker resources.

A LocalCluster started by the runner declares, per worker, ``CPU`` (its
threads), ``GPU`` (detected devices, usually 0) and ``MEMORY`` (its
``memory_limit`` in bytes). A task whose :class:`ResourceRequest` differs from
the default (one CPU, nothing else) is annotated with the matching resources,
so Dask starts it only where they are free and holds them while it runs. A
request that no worker could ever satisfy is refused before anything runs:
Dask would otherwise leave the task waiting forever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dask.utils import format_bytes

from spillframe.errors import ResourceError
from spillframe.physical.plan import PhysicalPlan
from spillframe.resources import ResourceRequest

DEFAULT_REQUEST = ResourceRequest()


@dataclass(frozen=True, slots=True)
class WorkerCapacity:
    """What one worker offers; ``memory_bytes`` None means no limit."""

    address: str
    cpus: float
    gpus: float
    memory_bytes: int | None
    declared: frozenset[str]

    def fits(self, request: ResourceRequest) -> bool:
        return (
            request.num_cpus <= self.cpus
            and request.num_gpus <= self.gpus
            and (self.memory_bytes is None or request.memory_bytes <= self.memory_bytes)
        )

    def describe(self) -> str:
        memory = (
            "unlimited memory" if self.memory_bytes is None else format_bytes(self.memory_bytes)
        )
        return f"{self.address}: {self.cpus:g} CPUs, {self.gpus:g} GPUs, {memory}"


def read_capacities(scheduler_info: dict[str, Any]) -> list[WorkerCapacity]:
    """Worker capacities from ``Client.scheduler_info()``."""
    capacities = []
    for address, worker in scheduler_info.get("workers", {}).items():
        resources = worker.get("resources") or {}
        limit = worker.get("memory_limit") or None
        capacities.append(
            WorkerCapacity(
                address=address,
                cpus=float(resources.get("CPU", worker.get("nthreads", 1))),
                gpus=float(resources.get("GPU", 0)),
                memory_bytes=int(resources.get("MEMORY", limit))
                if ("MEMORY" in resources or limit)
                else None,
                declared=frozenset(resources),
            )
        )
    return capacities


def describe_request(request: ResourceRequest) -> str:
    """``2 CPUs, 0 GPUs, 4 GiB``."""
    return (
        f"{request.num_cpus:g} CPUs, {request.num_gpus:g} GPUs, "
        f"{format_bytes(request.memory_bytes)}"
    )


def check_requests(plan: PhysicalPlan, capacities: list[WorkerCapacity]) -> None:
    """Raise ResourceError for the first task no worker can ever run.

    With no worker connected yet nothing can be judged, and nothing is raised.
    """
    if not capacities:
        return
    seen: set[tuple[str, ResourceRequest]] = set()
    for key in plan.reachable():
        task = plan.task(key)
        request = task.resources
        who = task.label or task.name
        if request == DEFAULT_REQUEST or (who, request) in seen:
            continue
        seen.add((who, request))
        if any(worker.fits(request) for worker in capacities):
            continue
        largest = max(capacities, key=lambda w: (w.memory_bytes or float("inf"), w.cpus, w.gpus))
        raise ResourceError(
            f"{who!r} requests {describe_request(request)}, which no worker can provide; "
            f"the largest worker has {largest.describe()}. Lower the request "
            "(e.g. udf.override_options(memory_bytes=...)) or start workers with more "
            "memory_limit / threads_per_worker"
        )


def annotator(capacities: list[WorkerCapacity]) -> Annotator:
    """A function giving the Dask ``resources`` annotation of a task:
    ``annotate(declared, reservation)``.

    ``declared`` is what the task asked for (a UDF's request, a hard minimum);
    ``reservation`` adds the plan's working-memory estimate. A task reserves its
    ``MEMORY`` when its UDF declared some, or when a worker runs several tasks at
    once (threads > 1): then the reservation keeps a worker from starting more than
    fits. On one-thread workers a built-in task is left unannotated: it runs alone
    anyway, and distributed queues only unrestricted root tasks (restricting every
    task would hand them all to the workers at once). The estimate, which is soft, is
    capped at the largest worker's memory (such a task runs alone, out of core). Only
    resources some worker declares are used: restricting a task to a resource nobody
    declares would leave it unscheduled forever.
    """
    declared_names = frozenset().union(*(w.declared for w in capacities))
    shares_workers = any(w.cpus > 1 for w in capacities)
    largest = max((w.memory_bytes for w in capacities if w.memory_bytes), default=None)

    def annotate(
        declared: ResourceRequest, reservation: ResourceRequest | None = None
    ) -> dict[str, float] | None:
        if declared == DEFAULT_REQUEST and not shares_workers:
            return None
        resources: dict[str, float] = {}
        if "CPU" in declared_names:
            resources["CPU"] = declared.num_cpus
        if declared.num_gpus > 0:
            resources["GPU"] = declared.num_gpus
        memory = (reservation or declared).memory_bytes
        if largest is not None:
            memory = max(declared.memory_bytes, min(memory, largest))
        if memory > 0 and "MEMORY" in declared_names:
            resources["MEMORY"] = memory
        return resources or None

    return annotate


#: ``annotate(declared, reservation) -> resources annotation or None``.
Annotator = Callable[..., "dict[str, float] | None"]
