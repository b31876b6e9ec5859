"""pytest plugin of the Dask runner, registered through the ``pytest11`` entry point.

- Answers spillframe's ``pytest_spillframe_runner_options`` hook for ``dask``: the
  small cluster that ``sf_runner`` tests run on (2 workers x 1 thread x 1 GiB), so the
  core's plugin knows no runner's options.
- ``dask_cluster``: a Dask runner on a LocalCluster of 2 workers x 1 thread x 512 MiB,
  for spill tests; its ``cluster`` and ``client`` attributes are Dask's objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

#: What ``sf_runner`` tests run the Dask runner with (SPILLFRAME_TEST_RUNNER_OPTIONS
#: overrides it, see spillframe.testing.pytest_plugin).
TEST_OPTIONS: dict[str, Any] = {"n_workers": 2, "threads_per_worker": 1, "memory_limit": "1GiB"}


# Optional: the hook is spillframe's, and a session may run without its plugin.
@pytest.hookimpl(optionalhook=True)
def pytest_spillframe_runner_options(name: str) -> dict[str, Any] | None:
    return dict(TEST_OPTIONS) if name == "dask" else None


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[Any]:
    """A Dask runner on a small LocalCluster (2 workers x 1 thread x 512 MiB)."""
    from spillframe_dask.runner import DaskRunner

    runner = DaskRunner(n_workers=2, threads_per_worker=1, memory_limit="512MiB")
    try:
        yield runner
    finally:
        runner.close()
