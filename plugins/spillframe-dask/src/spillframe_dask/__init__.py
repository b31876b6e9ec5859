"""Run spillframe queries on Dask distributed (the ``dask`` runner).

Installing this distribution registers :class:`~spillframe_dask.runner.DaskRunner`
under the ``spillframe.runners`` entry point, so ``spillframe.set_runner_dask()``
and ``SPILLFRAME_RUNNER=dask`` find it.
"""

from __future__ import annotations

from spillframe_dask.options import DaskRunnerOptions
from spillframe_dask.partitions import compact_table
from spillframe_dask.runner import DaskRunner

__all__ = ["DaskRunner", "DaskRunnerOptions", "compact_table"]
__version__ = "0.1.0"
