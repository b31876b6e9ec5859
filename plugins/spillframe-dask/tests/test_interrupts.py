"""A query stopped early on Dask (its consumer stopped, raised or was interrupted)
cancels its futures, and the workers hold none of its data afterwards."""

from __future__ import annotations

import time

import pytest

import spillframe as sf
from spillframe import col
from spillframe.config import configure
from spillframe.runners.base import set_active_runner


def _held_keys(client):
    """Keys of any query the workers hold (``client.who_has()`` covers the cluster)."""
    return list(client.who_has())


@pytest.fixture
def active(dask_runner):
    previous = set_active_runner(dask_runner)
    yield dask_runner
    set_active_runner(previous)


@pytest.mark.parametrize("stop", ["break", "raise"])
def test_a_consumer_stopping_early_releases_the_query_on_the_workers(active, stop):
    client = active.client
    before = set(_held_keys(client))  # other tests' data, if any, is not this query's

    @sf.udf(return_dtype=sf.DataType.int64())
    def slow(x):
        time.sleep(0.05)
        return x.to_pylist()

    n = 4000
    df = (
        sf.from_pydict({"k": [(i * 37) % n for i in range(n)]}, num_partitions=16)
        .with_column("k", slow(col("k")))
        .sort("k")
    )

    def consume():
        for _ in df.iter_partitions():
            if stop == "raise":
                raise RuntimeError("the consumer failed")
            break

    with configure(partition_bytes=2048):
        if stop == "raise":
            with pytest.raises(RuntimeError):
                consume()
        else:
            consume()

    def left_over():
        return set(_held_keys(client)) - before

    deadline = time.monotonic() + 30
    while left_over() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left_over(), "the workers still hold the stopped query's data"
    assert not [k for keys in client.processing().values() for k in keys]
