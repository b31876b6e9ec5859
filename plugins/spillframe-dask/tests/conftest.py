"""Fixtures: one session-wide Dask runner (2 workers x 1 thread) for most tests."""

from __future__ import annotations

import pytest
from spillframe_dask.runner import DaskRunner


@pytest.fixture(scope="session")
def dask_runner():
    runner = DaskRunner(
        n_workers=2, threads_per_worker=1, memory_limit="1 GiB", spill_alert_interval=1.0
    )
    yield runner
    runner.close()


@pytest.fixture
def scheduler(dask_runner):
    """Run a function on the scheduler: ``scheduler(lambda s: ...)``."""

    def run(fn):
        return dask_runner.client.run_on_scheduler(lambda dask_scheduler: fn(dask_scheduler))

    return run
