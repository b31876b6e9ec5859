"""The shared runner conformance suite, on the Dask runner."""

from __future__ import annotations

from spillframe.testing import RunnerConformance


class TestDaskRunnerConformance(RunnerConformance):
    runner_name = "dask"
    runner_options = {
        "n_workers": 2,
        "threads_per_worker": 1,
        "memory_limit": "1 GiB",
        "dashboard_address": ":0",
    }
