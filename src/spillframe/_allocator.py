"""Arrow's allocator for spillframe: jemalloc, when spillframe is imported before pyarrow.

Arrow's C++ code (Parquet decoding, Acero's joins and aggregations) allocates from the
default memory pool that pyarrow picks from ``ARROW_DEFAULT_MEMORY_POOL`` when it loads;
``pyarrow.set_memory_pool`` later changes only the pool of pyarrow's own calls. On
Linux the default is mimalloc, which keeps freed pages in per-thread heaps. Measured
on TPC-H SF1 with the py runner, one query per fresh process (peak RSS, time):

=====  ================  ================
query  mimalloc          jemalloc
=====  ================  ================
Q1     322 MiB, 1.01 s   261 MiB, 0.90 s
Q5     420 MiB, 0.65 s   340 MiB, 0.46 s
Q13    390 MiB, 0.62 s   338 MiB, 0.57 s
=====  ================  ================

and at memory_limit=256 MiB the out-of-core join peaked at 544-569 MiB with mimalloc,
485-487 MiB with jemalloc (``benchmarks/results/memory_limits.md``). So spillframe
asks for jemalloc unless the user chose a pool (the variable is set) or pyarrow was
imported first (then its choice stands; start Python with
``ARROW_DEFAULT_MEMORY_POOL=jemalloc`` to get it anyway). Linux only: the Windows
wheels have no jemalloc, and Arrow warns about an unknown pool. The Dask runner sets
the same pool on its workers (``arrow_memory_pool``).
"""

from __future__ import annotations

import os
import sys

POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def prefer_jemalloc(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Set ``ARROW_DEFAULT_MEMORY_POOL=jemalloc`` when it can still take effect (pyarrow
    not loaded yet, Linux, the variable unset); returns whether it did."""
    if "pyarrow" in sys.modules or not sys.platform.startswith("linux") or POOL_VARIABLE in environ:
        return False
    environ[POOL_VARIABLE] = "jemalloc"
    return True


prefer_jemalloc()
