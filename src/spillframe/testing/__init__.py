"""Testing helpers: ``assert_df_equal`` and the ``RunnerConformance`` suite.

The pytest plugin (``spillframe.testing.pytest_plugin``) is registered through the
``pytest11`` entry point and provides the ``sf_runner``, ``make_df`` and
``dask_cluster`` fixtures and the ``--spillframe-runner`` option.
"""

from spillframe.testing.asserts import assert_df_equal
from spillframe.testing.conformance import RunnerConformance

__all__ = ["RunnerConformance", "assert_df_equal"]
