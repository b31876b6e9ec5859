"""The cluster shares the client's key for Python-object columns.

``DataType.python()`` columns unpickle only under a key the process trusts (see
``spillframe.datatype``); Arrow data moves between Dask processes with its type, key included,
so every worker adopts the client's key when it starts (a worker plugin runs again on
a worker its nanny replaces).
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from spillframe.datatype import share_session_key


class SharePythonObjectKey(WorkerPlugin):
    """Give each worker the client's session key for Python-object columns."""

    name = "spillframe-python-object-key"

    def __init__(self, key: str) -> None:
        self.key = key

    def setup(self, worker: Any) -> None:
        share_session_key(self.key)
