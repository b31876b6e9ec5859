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
from spillframe.physical.plan import PhysicalPlan, ResourceRequest

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


def annotator(capacities: list[WorkerCapacity]) -> Callable[[ResourceRequest], dict | None]:
    """A function giving the Dask ``resources`` annotation of a request.

    Only resources some worker declares are used: restricting a task to a
    resource nobody declares would leave it unscheduled forever.
    """
    declared = frozenset().union(*(w.declared for w in capacities))

    def annotate(request: ResourceRequest) -> dict[str, float] | None:
        if request == DEFAULT_REQUEST:
            return None
        resources: dict[str, float] = {}
        if "CPU" in declared:
            resources["CPU"] = request.num_cpus
        if request.num_gpus > 0:
            resources["GPU"] = request.num_gpus
        if request.memory_bytes > 0 and "MEMORY" in declared:
            resources["MEMORY"] = request.memory_bytes
        return resources or None

    return annotate
