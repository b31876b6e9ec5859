"""Out-of-core benchmark: TPC-H SF1 on a LocalCluster of 2 workers x 1 thread x 512 MiB.

Three queries over ``lineitem`` (about 780 MiB in memory, more than the cluster's
1 GiB once worker overhead is counted): a global sort of all columns by
``l_comment``, a groupby on ``l_orderkey`` with a string max, and the
lineitem-orders join. Each runs with spillframe on the Dask runner and with
dask.dataframe, each case in its own process and on its own fresh cluster; the
run records success or failure, wall time, peak worker memory (RSS of each worker
process, sampled) and bytes spilled (from the workers' spill buffers).

Run ``python -m benchmarks.out_of_core``; results go to
``benchmarks/results/out_of_core.{json,md}``.
"""
