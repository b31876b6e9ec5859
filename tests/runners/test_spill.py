"""SpillStore: one budget for stored outputs and reservations; writes outside the lock."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest

from spillframe.errors import SpillError
from spillframe.runners.spill import SpillStore


def _table(n=10_000, value=0):
    return pa.table({"x": pa.array([value] * n, pa.int64())})


def test_reservations_make_the_store_spill(tmp_path):
    store = SpillStore(200_000, str(tmp_path))
    store.put("a", _table())  # 80 kB
    store.put("b", _table())
    assert store.stats.spilled_objects == 0
    store.reserve(100_000)  # no longer fits next to both tables
    assert store.stats.spilled_objects == 1 and "a" in store
    assert store.get("a").equals(_table())  # read back from disk
    store.release(100_000)
    store.close()


def test_claimed_tables_are_never_spilled_and_move_to_the_reservation(tmp_path):
    store = SpillStore(100_000, str(tmp_path))
    store.put("a", _table())
    assert store.claim("a") == _table().nbytes
    assert store.memory_bytes == 0
    store.put("b", _table())
    store.reserve(60_000)  # "b" spills, "a" stays (the claiming task holds it)
    assert store.stats.spilled_objects == 1
    assert store.take("a").equals(_table()) and "a" not in store
    assert store.take("b").equals(_table()) and store.disk_bytes == 0
    store.close()


def test_other_threads_keep_working_while_a_table_is_written(tmp_path, monkeypatch):
    store = SpillStore(100_000, str(tmp_path))
    store.put("a", _table(value=1))
    writing, finish = threading.Event(), threading.Event()
    write = store._write

    def slow_write(table):
        writing.set()
        assert finish.wait(10)
        return write(table)

    monkeypatch.setattr(store, "_write", slow_write)
    spiller = threading.Thread(target=store.put, args=("b", _table(value=2)))
    spiller.start()
    assert writing.wait(10)
    # While "a" is being written: it is still readable, and the store takes other calls.
    done = threading.Event()

    def other_calls():
        assert store.get("a").equals(_table(value=1))
        assert store.get("b").equals(_table(value=2))
        store.release(0)
        done.set()

    threading.Thread(target=other_calls).start()
    assert done.wait(5), "the store was locked while a table was written"
    finish.set()
    spiller.join(10)
    assert store.stats.spilled_objects == 1
    assert store.get("a").equals(_table(value=1))
    store.close()


def test_a_failed_write_loses_nothing(tmp_path):
    store = SpillStore(100_000, str(tmp_path), spill_limit=10)
    store.put("a", _table())
    with pytest.raises(SpillError, match="would exceed its limit"):
        store.put("b", _table())
    assert store.get("a").equals(_table()) and store.get("b").equals(_table())
    store.close()
    assert list(tmp_path.iterdir()) == []
