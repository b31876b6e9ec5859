"""The Dask runner on a cluster started the way deployments start one: ``dask
scheduler`` and ``dask worker --memory-limit 512MiB`` command lines, as processes of
their own, reached through ``set_runner_dask(address=...)``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import distributed
import pytest
from spillframe_dask.runner import DaskRunner

import spillframe as sf
from spillframe import col
from spillframe.config import configure
from spillframe.errors import RunnerError
from spillframe.testing import RunnerConformance, assert_df_equal


class CliCluster:
    """``dask scheduler`` plus ``dask worker`` processes; their logs go under ``root``."""

    def __init__(self, root: Path, workers: int, env: dict[str, str] | None = None):
        self.root = root
        self.processes: list[subprocess.Popen] = []
        # Port 0: the scheduler picks a free port and writes its address to the file.
        address_file = root / "scheduler.json"
        self._start(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", "0"]
            + ["--scheduler-file", str(address_file), "--dashboard-address", ":0", "--no-show"],
        )
        self.address = _read_address(address_file, root / "scheduler.log")
        for i in range(workers):
            self._start(
                f"worker-{i}",
                ["worker", self.address, "--nthreads", "1", "--memory-limit", "512MiB"]
                + ["--name", f"cli-{i}", "--local-directory", str(root / f"worker-{i}")],
                env,
            )
        with distributed.Client(self.address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=60)

    def _start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        with open(self.root / f"{name}.log", "w") as log:  # the child keeps its own handle
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "dask", *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **(env or {})},
                )
            )

    def close(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _read_address(path: Path, log: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
            return json.loads(path.read_text())["address"]
        time.sleep(0.1)
    raise RuntimeError(f"dask scheduler wrote no address: {log.read_text()[-2000:]}")


class TestExternalClusterConformance(RunnerConformance):
    """The whole conformance suite through ``address=`` (no LocalCluster); the module's
    cluster fixture, set up before the suite's runner, fills in the address."""

    runner_name = "dask"
    runner_options: dict = {}


@pytest.fixture(scope="module", autouse=True)
def cli_cluster(tmp_path_factory):
    cluster = CliCluster(tmp_path_factory.mktemp("cli-cluster"), workers=2)
    TestExternalClusterConformance.runner_options = {"address": cluster.address}
    yield cluster
    cluster.close()


def test_a_worker_killed_mid_query_still_gives_the_right_answer(cli_cluster):
    runner = DaskRunner(address=cli_cluster.address)
    previous = sf.runners.base.set_active_runner(runner)
    try:

        @sf.udf(return_dtype=sf.DataType.int64())
        def slow(x):
            time.sleep(0.2)
            return x.to_pylist()

        n = 4000
        data = {"k": [i % 10 for i in range(n)], "v": list(range(n))}
        expected = (
            sf.from_pydict(data).groupby("k").agg(col("v").sum().alias("s")).sort("k").to_pandas()
        )
        df = (
            sf.from_pydict(data, num_partitions=16)
            .with_column("v", slow(col("v")))
            .groupby("k")
            .agg(col("v").sum().alias("s"))
            .sort("k")
        )
        killed = []

        def kill_one_worker_once_busy():
            client = runner.client
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                processing = client.processing()
                busy = [w for w, keys in processing.items() if keys]
                if busy:
                    pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_one_worker_once_busy)
        with configure(partition_bytes=4096):
            killer.start()
            result = df.to_pandas()
        killer.join()
        assert killed, "no worker was busy to kill"
        assert_df_equal(result, expected, check_dtype=False)
        runner.client.wait_for_workers(2, timeout=60)  # the nanny restarted it
    finally:
        sf.runners.base.set_active_runner(previous)
        runner.close()


def test_workers_without_spillframe_dask_are_named_with_the_fix(tmp_path):
    blocker = tmp_path / "block"
    blocker.mkdir()
    # A worker environment where the plugin is missing (hidden from import and metadata).
    (blocker / "sitecustomize.py").write_text(
        "import sys, importlib.metadata as md\n"
        "class _Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'spillframe_dask':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _Hide())\n"
        "_version = md.version\n"
        "def version(name):\n"
        "    if name == 'spillframe-dask':\n"
        "        raise md.PackageNotFoundError(name)\n"
        "    return _version(name)\n"
        "md.version = version\n"
    )
    pythonpath = os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])
    cluster = CliCluster(tmp_path, workers=1, env={"PYTHONPATH": pythonpath})
    try:
        with pytest.raises(RunnerError, match=r"lacks spillframe-dask.*pip install") as info:
            DaskRunner(address=cluster.address)
        assert cluster.address in str(info.value)
    finally:
        cluster.close()
