"""Testing helpers: ``assert_df_equal`` and the ``RunnerConformance`` suite.

The pytest plugin (``spillframe.testing.pytest_plugin``) is registered through the
``pytest11`` entry point and provides the ``sf_runner`` and ``make_df`` fixtures and
the ``--spillframe-runner`` option; runner plugins add their own (the Dask plugin's
``dask_cluster``).
"""

from spillframe.testing.asserts import assert_df_equal
from spillframe.testing.conformance import RunnerConformance

__all__ = ["RunnerConformance", "assert_df_equal"]
