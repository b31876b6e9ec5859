"""Out-of-core benchmark: TPC-H SF1 under a total memory budget of 1 GiB.

Three queries over ``lineitem`` (about 780 MiB in memory, more than the budget
once engine overhead is counted): a global sort of all columns by
``l_comment``, a groupby on ``l_orderkey`` with a string max, and the
lineitem-orders join. Engines: spillframe on the Dask runner and dask.dataframe
(LocalCluster of 2 workers x 1 thread x 512 MiB), spillframe on the PyRunner
(``memory_limit`` of held task outputs so that the process stays within 1 GiB)
and DuckDB (``memory_limit='1GB'``), each case in its own process. The run
records success or failure, wall time, peak memory (per Dask worker process, or
the whole process for in-process engines) and bytes spilled.

Run ``python -m benchmarks.out_of_core``; results go to
``benchmarks/results/out_of_core.{json,md}``.
"""
