"""Spill alerts as a user reads them, the same on every runner.

One line per worker at most every few seconds, naming the query and the stages
whose data was written to disk; the first alert of a query is followed by what to do
about it (:data:`SPILL_REMEDIES`), once.
"""

from __future__ import annotations

from collections.abc import Sequence

MiB = 1 << 20

#: Logged once per query, after its first spill alert.
SPILL_REMEDIES = (
    "Spilling to disk keeps the query within memory but slows it down. To spill less: "
    "give each worker more memory (memory_limit=), use more workers (or, on Dask, fewer "
    "threads per worker), put the spill directory on a faster local disk (spill_dir=), "
    "filter early with .where(...) so less data reaches the wide operators, or split the "
    "data into more, smaller partitions with .into_partitions(n). df.stats() and "
    "df.explain(analyze=True) show which stage spilled."
)


def spill_alert(
    nbytes: float,
    objects: float,
    seconds: float,
    worker: str,
    query: str | None = None,
    stages: Sequence[str] = (),
) -> str:
    """The alert line for ``nbytes`` written to disk as ``objects`` files in ``seconds``.

    Parameters
    ----------
    nbytes, objects, seconds : number
        In-memory bytes spilled, objects (files) written, seconds spent writing.
    worker : str
        Where: ``local`` for the py runner, a worker address on Dask.
    query : str, optional
        The query's id (``q3``, as in ``df.stats().query_id``).
    stages : sequence of str
        The operators whose data was spilled, the largest share first.

    Examples
    --------
    >>> spill_alert(340 * MiB, 12, 340 / 576, "local", "q3", ["hash-join"])
    'Spilled 340 MiB, 12 objects, write throughput 576 MiB/s (worker local, query q3, stage hash-join)'
    >>> spill_alert(1690 * MiB, 9, 1690 / 576, "tcp://127.0.0.1:4000")
    'Spilled 1690 MiB, 9 objects, write throughput 576 MiB/s (worker tcp://127.0.0.1:4000)'
    """
    spilled = nbytes / MiB
    throughput = spilled / seconds if seconds > 0 else float("inf")
    where = [f"worker {worker}"]
    if query:
        where.append(f"query {query}")
    names = list(dict.fromkeys(stages))
    if names:
        where.append(("stage " if len(names) == 1 else "stages ") + ", ".join(names))
    return (
        f"Spilled {spilled:.0f} MiB, {int(objects)} objects, "
        f"write throughput {throughput:.0f} MiB/s ({', '.join(where)})"
    )
