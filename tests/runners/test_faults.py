"""What goes wrong around a query: failing UDFs, a full or unwritable spill disk,
interrupted queries, crashed processes, concurrent queries, half-done writes.

Tests taking ``sf_runner`` run on every selected runner; the rest are about the
PyRunner's own spill store.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import threading

import pandas as pd
import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import col
from spillframe.config import configure
from spillframe.runners.base import set_active_runner
from spillframe.runners.py_runner import PyRunner
from spillframe.testing import assert_df_equal

# -- UDF errors ----------------------------------------------------------------------


@sf.udf(return_dtype=sf.DataType.int64())
def fails_on_seven(x):
    values = x.to_pylist()
    if 7 in values:
        raise ValueError("seven is not allowed")
    return values


@sf.udf(return_dtype=sf.DataType.int64())
class FailsToStart:
    def __init__(self):
        raise OSError("model file missing")

    def __call__(self, x):
        return x.to_pylist()


def test_a_failing_udf_names_the_udf_the_operator_and_the_partition(sf_runner):
    df = sf.from_pydict({"i": list(range(20))}, num_partitions=4)  # 7 is in partition 1
    with pytest.raises(sf.UDFError) as info:
        df.with_column("j", fails_on_seven(col("i"))).collect()
    err = info.value
    message = str(err)
    assert "UDF 'fails_on_seven' raised ValueError: seven is not allowed" in message
    assert "operator '" in message and "partition 1" in message, message
    assert err.partition == 1 and err.udf == "fails_on_seven"
    assert isinstance(err.__cause__, ValueError) and isinstance(err.original, ValueError)


def test_a_class_udf_failing_to_start_names_the_udf(sf_runner):
    df = sf.from_pydict({"i": [1, 2, 3]})
    with pytest.raises(sf.UDFError, match=r"UDF 'FailsToStart' raised OSError: model file missing"):
        df.with_column("j", FailsToStart(col("i"))).collect()


def test_a_failing_udf_leaves_the_runner_usable(sf_runner):
    df = sf.from_pydict({"i": list(range(20))}, num_partitions=4)
    with pytest.raises(sf.UDFError):
        df.with_column("j", fails_on_seven(col("i"))).collect()
    assert df.where(col("i") != 7).count_rows() == 19


# -- the spill disk --------------------------------------------------------------------


def _spilling_query() -> sf.DataFrame:
    n = 20_000
    return (
        sf.from_pydict(
            {"k": [i % 50 for i in range(n)], "s": [f"s{i:06d}" for i in range(n)]},
            num_partitions=6,
        )
        .sort("s")
        .groupby("k")
        .agg(col("s").max())
    )


@pytest.fixture
def py_runner():
    """Install a PyRunner with the given options for one test."""
    made = []

    def install(**options):
        runner = PyRunner(**options)
        made.append((runner, set_active_runner(runner)))
        return runner

    yield install
    for runner, previous in reversed(made):
        set_active_runner(previous)
        runner.close()


@contextlib.contextmanager
def _tmpfs(mount, options: str):
    """A tmpfs mounted at ``mount`` for a test (needs root; the test skips otherwise)."""
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({options}) here: {done.stderr.strip() or 'not root'}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB disk."""
    with _tmpfs(tmp_path / "small-disk", "size=256k,mode=0755") as mount:
        yield mount


def _remedies(message: str) -> None:
    for remedy in ("spill_dir=", "memory_limit=", "into_partitions"):
        assert remedy in message, f"{remedy!r} missing from: {message}"


def test_a_full_spill_disk_names_the_directory_the_bytes_and_the_remedies(py_runner, small_disk):
    py_runner(num_threads=2, memory_limit=64 * 1024, spill_dir=str(small_disk))
    with (
        configure(partition_bytes=50 * 1024),
        pytest.raises(sf.SpillError, match="no space left") as info,
    ):
        _spilling_query().collect()
    message = str(info.value)
    assert str(small_disk) in message and "KiB" in message, message
    _remedies(message)
    assert os.listdir(small_disk) == [], "spill files left behind"
    # The same runner answers the next query that fits.
    assert sf.from_pydict({"a": [1, 2, 3]}).count_rows() == 3


def test_a_spill_dir_that_is_a_file_is_refused_with_the_remedies(py_runner, tmp_path):
    path = tmp_path / "not-a-dir"
    path.write_text("x")
    py_runner(num_threads=2, memory_limit=64 * 1024, spill_dir=str(path))
    with (
        configure(partition_bytes=50 * 1024),
        pytest.raises(sf.SpillError, match="is a file, not a directory") as info,
    ):
        _spilling_query().collect()
    assert str(path) in str(info.value)
    _remedies(str(info.value))
    assert path.read_text() == "x"


def test_a_read_only_spill_dir_is_refused_with_the_remedies(py_runner, tmp_path):
    with _tmpfs(tmp_path / "ro", "ro,size=64k") as mount:
        py_runner(num_threads=2, memory_limit=64 * 1024, spill_dir=str(mount))
        with (
            configure(partition_bytes=50 * 1024),
            pytest.raises(sf.SpillError, match="cannot create a spill directory") as info,
        ):
            _spilling_query().collect()
        assert str(mount) in str(info.value)
        _remedies(str(info.value))


# -- writes -------------------------------------------------------------------------------


def _explode_on(value):
    def explode(v):
        if v == value:
            raise RuntimeError(f"boom on {v}")
        return v

    return explode


def test_a_failed_write_to_a_new_directory_leaves_nothing(sf_runner, tmp_path):
    target = tmp_path / "new" / "out"
    df = sf.from_pydict({"v": list(range(30))}, num_partitions=3).with_column(
        "v", col("v").apply(_explode_on(25), pa.int64())
    )
    with pytest.raises(sf.UDFError, match="boom on 25"):
        df.write_parquet(str(target))
    assert not target.exists(), "the failed write left its target directory"
    assert not (tmp_path / "new").exists()


def test_a_failed_write_keeps_what_the_target_held(sf_runner, tmp_path):
    target = tmp_path / "out"
    sf.from_pydict({"v": [1, 2]}).write_parquet(str(target))
    before = sorted(os.listdir(target))
    df = sf.from_pydict({"v": list(range(30))}, num_partitions=3).with_column(
        "v", col("v").apply(_explode_on(25), pa.int64())
    )
    for mode in ("append", "overwrite"):
        with pytest.raises(sf.UDFError):
            df.write_parquet(str(target), write_mode=mode)
        assert sorted(os.listdir(target)) == before, mode
    assert sorted(sf.read_parquet(str(target)).to_pydict()["v"]) == [1, 2]


def test_append_keeps_existing_files_and_overwrite_replaces_them(sf_runner, tmp_path):
    target = str(tmp_path / "out")
    sf.from_pydict({"v": [1, 2]}).write_parquet(target)
    sf.from_pydict({"v": [3]}).write_parquet(target)  # default: append
    assert sorted(sf.read_parquet(target).to_pydict()["v"]) == [1, 2, 3]
    sf.from_pydict({"v": [9]}).write_parquet(target, write_mode="overwrite")
    assert sf.read_parquet(target).to_pydict()["v"] == [9]


# -- concurrency ---------------------------------------------------------------------------


def _concurrent_queries() -> list:
    n = 4000
    base = pd.DataFrame({"k": [i % 13 for i in range(n)], "v": list(range(n))})
    other = pd.DataFrame({"k": list(range(13)), "name": [f"n{i}" for i in range(13)]})

    def frame():
        return sf.from_pandas(base, num_partitions=4)

    return [
        (
            lambda: frame().groupby("k").agg(col("v").sum().alias("s")).sort("k"),
            base.groupby("k", as_index=False).agg(s=("v", "sum")),
        ),
        (
            lambda: frame().where(col("v") % 7 == 0).sort("v", desc=True),
            base[base.v % 7 == 0].sort_values("v", ascending=False),
        ),
        (
            lambda: frame().join(sf.from_pandas(other), on="k").sort("v"),
            base.merge(other, on="k").sort_values("v"),
        ),
        (
            lambda: frame().distinct().sort(["k", "v"]),
            base.drop_duplicates().sort_values(["k", "v"]),
        ),
    ]


def test_four_threads_running_different_queries_get_right_answers(sf_runner):
    queries = _concurrent_queries()
    results: dict[int, object] = {}
    errors: list[BaseException] = []

    def run(i, build):
        try:
            # Each thread plans with its own settings: many small partitions for some.
            with configure(partition_bytes=(8 << 10) * (i + 1)):
                for _ in range(3):
                    results[i] = build().to_pandas()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(i, build)) for i, (build, _) in enumerate(queries)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for i, (_, expected) in enumerate(queries):
        assert_df_equal(results[i], expected, check_dtype=False, check_row_order=True)


def test_concurrent_queries_keep_their_own_spill_accounting(py_runner, tmp_path):
    runner = py_runner(num_threads=2, memory_limit=96 * 1024, spill_dir=str(tmp_path))
    small = sf.from_pydict({"a": list(range(10))})
    seen: dict[str, object] = {}

    quiet_done, spilled = threading.Event(), threading.Event()

    def spilling():
        quiet_done.wait(60)
        with configure(partition_bytes=50 * 1024):
            _spilling_query().collect()
        seen["spilling"] = runner.last_spill_stats
        spilled.set()

    def quiet():
        small.collect()
        quiet_done.set()
        spilled.wait(60)  # the other query finished (and spilled) after this one
        seen["quiet"] = runner.last_spill_stats

    threads = [threading.Thread(target=spilling)] + [threading.Thread(target=quiet)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert seen["spilling"].spilled_bytes > 0
    assert seen["quiet"].spilled_bytes == 0, "a query saw another query's spilling"
    # A thread that ran no query (this one) sees the last query that finished.
    assert runner.last_spill_stats is seen["spilling"]
    assert os.listdir(tmp_path) == []


# -- interrupts and process exit -----------------------------------------------------------


def _run_script(body: str, tmp_path, *args: str) -> str:
    """Run ``body`` as a script in a new interpreter; its stdout (it must exit 0, and
    exit cleanly: no error while the interpreter shuts down)."""
    script = tmp_path / "script.py"
    script.write_text(body)
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Exception ignored" not in done.stderr, done.stderr
    return done.stdout


_SLOW_SPILLING_QUERY = """
import os, signal, sys, threading, time
import spillframe as sf
from spillframe import col
from spillframe.config import configure

# Ctrl-C raises KeyboardInterrupt even when this ran as a background job, which starts
# with SIGINT ignored and Python then installs no handler for it.
signal.signal(signal.SIGINT, signal.default_int_handler)
spill_dir = sys.argv[1]
calls = {"started": 0, "running": 0}
lock = threading.Lock()
on_call = []  # run by every call of `slow`, in the task's thread

@sf.udf(return_dtype=sf.DataType.string(), batch_size=200)
def slow(s):
    with lock:
        calls["started"] += 1
        calls["running"] += 1
    try:
        for hook in on_call:
            hook()
        time.sleep(0.01)
        return s.to_pylist()
    finally:
        with lock:
            calls["running"] -= 1

def spill_files():
    return [f for _, _, files in os.walk(spill_dir) for f in files]

def query(udf=slow):
    # The UDF runs in the first stage while earlier tasks' outputs are spilled.
    n = 40_000
    df = sf.from_pydict(
        {"k": [i % 50 for i in range(n)], "s": [f"s{i:06d}" for i in range(n)]},
        num_partitions=8,
    )
    return df.with_column("t", udf(col("s"))).sort("t").groupby("k").agg(col("t").max())

sf.set_runner_py(num_threads=2, memory_limit=96 * 1024, spill_dir=spill_dir)
configure(partition_bytes=64 * 1024).__enter__()
"""


def test_an_interrupted_query_stops_its_tasks_and_removes_its_spill_files(tmp_path):
    spill_dir = tmp_path / "spill"
    body = _SLOW_SPILLING_QUERY + textwrap.dedent("""
        at_interrupt = []

        def interrupt_once_spilling():
            # Checked by the UDF itself, so the interrupt comes while the first stage is
            # still running with spill files on disk: a polling thread could miss them
            # on a loaded machine (it did, once in CI) and let the query finish.
            with lock:
                if at_interrupt or not spill_files():
                    return
                at_interrupt.append(calls["started"])
            os.kill(os.getpid(), signal.SIGINT)

        on_call.append(interrupt_once_spilling)
        try:
            query().collect()
            raise SystemExit("the query was not interrupted")
        except KeyboardInterrupt:
            pass
        assert calls["running"] == 0, "a task was still running after the interrupt"
        started = calls["started"]
        # A running task stops at its next batch (of 25 per partition), not at its end
        # (it used to run all 25: 50 after 25); slack for a slow signal under load.
        assert started - at_interrupt[0] <= 12, (at_interrupt, started)
        time.sleep(0.3)
        assert calls["started"] == started, "tasks kept starting after the interrupt"
        assert os.listdir(spill_dir) == [], os.listdir(spill_dir)
        workers = [t for t in threading.enumerate() if t.name.startswith("spillframe")]
        assert len(workers) <= 2, workers
        assert query().count_rows() == 50  # the runner answers the next query
        print("ok", started)
    """)
    assert _run_script(body, tmp_path, str(spill_dir)).startswith("ok")


def test_a_consumer_that_stops_early_stops_the_query(tmp_path):
    spill_dir = tmp_path / "spill"
    body = _SLOW_SPILLING_QUERY + textwrap.dedent("""
        def consume_one_and_fail():
            for part in query().sort("k").iter_partitions():
                raise RuntimeError("the consumer failed")

        try:
            consume_one_and_fail()
        except RuntimeError:
            pass
        assert calls["running"] == 0
        assert os.listdir(spill_dir) == [], os.listdir(spill_dir)
        print("ok")
    """)
    assert _run_script(body, tmp_path, str(spill_dir)).startswith("ok")


def test_spill_directories_are_private_and_removed_at_exit(tmp_path):
    spill_dir = tmp_path / "spill"
    body = _SLOW_SPILLING_QUERY + textwrap.dedent("""
        import stat
        # Abandoned mid-query: a partition taken, the rest never asked for.
        pending = query().sort("k").iter_partitions()
        next(pending)
        (mine,) = os.listdir(spill_dir)
        assert mine.startswith(f"spillframe-spill-{os.getpid()}-"), mine
        mode = stat.S_IMODE(os.stat(os.path.join(spill_dir, mine)).st_mode)
        assert mode == 0o700, oct(mode)
        print("ok")
    """)
    assert _run_script(body, tmp_path, str(spill_dir)).startswith("ok")
    assert os.listdir(spill_dir) == [], "the spill directory outlived the process"


def test_a_failed_query_leaves_no_spill_directory_at_exit(tmp_path):
    spill_dir = tmp_path / "spill"
    body = _SLOW_SPILLING_QUERY + textwrap.dedent("""
        @sf.udf(return_dtype=sf.DataType.string())
        def fail_late(s):
            if spill_files():
                raise ValueError("failed while spill files exist")
            return s.to_pylist()

        query(fail_late).collect()  # uncaught: the interpreter exits with status 1
    """)
    script = tmp_path / "script.py"
    script.write_text(body)
    done = subprocess.run(
        [sys.executable, str(script), str(spill_dir)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and "failed while spill files exist" in done.stderr, done.stderr
    assert os.listdir(spill_dir) == []


def test_a_crashed_process_spill_directories_are_swept_on_the_next_start(tmp_path):
    spill_dir = tmp_path / "spill"
    spill_dir.mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = spill_dir / f"spillframe-spill-{gone.pid}-abcdefgh"
    stale.mkdir()
    (stale / "00000001.arrow").write_bytes(b"x" * 100)
    stale_kernel = spill_dir / f"spillframe-kernel-{gone.pid}-abcdefgh"
    stale_kernel.mkdir()
    for directory in (stale, stale_kernel):  # the owner's lock files, nobody holds them now
        (directory / ".owner.lock").write_text("")
    live = spill_dir / f"spillframe-spill-{os.getpid()}-abcdefgh"  # this process: alive
    live.mkdir()
    other = spill_dir / "keep-me"
    other.mkdir()
    body = _SLOW_SPILLING_QUERY + "query().collect()\nprint('ok')\n"
    assert _run_script(body, tmp_path, str(spill_dir)).startswith("ok")
    assert sorted(os.listdir(spill_dir)) == sorted([live.name, other.name])


def test_a_locked_directory_of_an_unseen_pid_is_not_swept(tmp_path):
    """A process in another pid namespace (a container sharing the spill directory) has
    a pid this one cannot see; the lock it holds keeps its live files from the sweep."""
    from spillframe.kernels.budget import sweep_stale_dirs

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid is free: "dead" as this process sees it
    held = tmp_path / f"spillframe-spill-{gone.pid}-elsewhere"
    held.mkdir()
    (held / "00000001.arrow").write_bytes(b"live")
    (held / ".owner.lock").write_text("")
    # The other process's lock, held by a child process.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
            str(held / ".owner.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        released = tmp_path / f"spillframe-spill-{gone.pid}-crashed"
        released.mkdir()
        (released / ".owner.lock").write_text("")  # its owner died: nobody holds it
        removed = sweep_stale_dirs(str(tmp_path))
        assert removed == [str(released)]
        assert (held / "00000001.arrow").read_bytes() == b"live"
    finally:
        holder.kill()
        holder.wait()
