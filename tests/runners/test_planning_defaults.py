"""A runner suggests planner settings (partition size, parallelism) for the options the
user has not set; what the user sets always wins, and plans follow the active runner."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

import spillframe as sf
from spillframe.api.execution import runner_config
from spillframe.runners import base
from spillframe.runners.py_runner import PyRunner


class SmallPartitions(PyRunner):
    """A PyRunner whose workers would want 16 KiB partitions and 3 tasks at a time."""

    def planning_defaults(self) -> dict[str, Any]:
        return {"partition_bytes": 16 * 1024, "min_partition_bytes": 1024, "parallelism": 3}


@pytest.fixture
def small_partitions():
    runner = SmallPartitions()
    previous = base.set_active_runner(runner)
    yield runner
    base.set_active_runner(previous)
    runner.close()


def test_suggestions_fill_only_what_the_user_left_unset():
    runner = SmallPartitions()
    assert runner_config(runner).partition_bytes == 16 * 1024
    with sf.config.configure(partition_bytes=1 << 20):
        config = runner_config(runner)
        assert config.partition_bytes == 1 << 20
        assert config.parallelism == 3
    assert runner_config(runner).partition_bytes == 16 * 1024
    runner.close()


def test_plans_and_partition_counts_follow_the_active_runner(small_partitions):
    table = pa.table({"x": list(range(40_000))})  # 320 KB: 20 partitions of 16 KiB
    df = sf.from_arrow(table).repartition(None, "x")
    assert df.num_partitions() == 21  # 20 rounded up to a multiple of 3 tasks
    assert len(list(df.iter_partitions())) == 21
    assert df.count_rows() == 40_000
    with sf.config.configure(partition_bytes=1 << 30):
        assert df.num_partitions() == 3  # small data, still one partition per core
