"""Out-of-core forms of the wide kernels: external sort, grace hash join, spilling aggregation.

Each kernel takes its input as an iterable of tables, consumed once and in order, and
a :class:`~spillframe.kernels.budget.MemoryGrant`. While the input fits in a fraction of
``grant.limit`` the kernel works in memory (and writes nothing); beyond it, it writes
data to Arrow IPC streams in ``grant.scratch_dir()`` and works on one bounded
piece at a time. Results equal the in-memory kernels' over the concatenated input:

- :func:`external_sort`: row for row (stable), by sorted runs and a streamed k-way merge;
- :func:`grace_hash_join`: same rows (any order) and schema, by co-partitioning both
  sides by a hash of the join keys and joining bucket pairs;
- :func:`spilling_aggregate`: same rows (any order) and schema, by partitioning the
  rows (or partial states) by a hash of the group keys and aggregating each bucket.

Partitioning hashes with ``seed = level + 1``: the inputs are usually already one bucket
of the exchange's seed-0 hashing, so seed 0 would put every row in the same bucket. A
bucket still over the budget is partitioned again with the next seed, at most
``_MAX_LEVELS`` times (a single hot key cannot be split; it is then processed in memory).

Only the working set is bounded: the result is returned as one table, so it is held
in memory whole, as the in-memory kernels hold theirs. Sizes are ``pa.Table.nbytes``.
"""

from __future__ import annotations

from spillframe.kernels.external.aggregate import spilling_aggregate
from spillframe.kernels.external.join import grace_hash_join
from spillframe.kernels.external.runs import SpilledRun, partition_to_disk
from spillframe.kernels.external.sort import external_sort

__all__ = [
    "SpilledRun",
    "external_sort",
    "grace_hash_join",
    "partition_to_disk",
    "spilling_aggregate",
]
