"""What a task needs to run, declared by UDFs and read by every layer that plans or runs.

It lives below the plan layers because a logical node (a projection calling a UDF)
declares it as much as a physical task carries it and a runner admits it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ResourceRequest:
    """What one task needs to run: CPUs, GPUs and reserved bytes of memory."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    memory_bytes: int = 0

    def __post_init__(self) -> None:
        for name in ("num_cpus", "num_gpus", "memory_bytes"):
            value = getattr(self, name)
            if value is None or value < 0:
                raise ValueError(f"ResourceRequest.{name} must be >= 0, got {value!r}")

    def max(self, other: ResourceRequest) -> ResourceRequest:
        """The element-wise maximum, used when fusing operators into one task."""
        return ResourceRequest(
            max(self.num_cpus, other.num_cpus),
            max(self.num_gpus, other.num_gpus),
            max(self.memory_bytes, other.memory_bytes),
        )
