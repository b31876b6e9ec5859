"""Whole inputs a task's steps read besides the partition they transform.

A broadcast join fused into the pipeline of its big side is a step like a filter,
but it also reads the small side, which another stage computed. The planner puts
those references in the task's arguments, where every runner resolves references,
by wrapping the task's kernel in :func:`with_inputs`; the step asks for its input
with :func:`task_input` while the task runs. What a step derives from an input once
per task (a join's lookup index) is kept by :func:`task_cached` until the task ends.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa

from spillframe.kernels.exchange import concat_tables

__all__ = ["task_cached", "task_input", "with_inputs"]

_INPUTS: contextvars.ContextVar[dict[Any, Any] | None] = contextvars.ContextVar(
    "spillframe_task_inputs", default=None
)


def with_inputs(
    inputs: list[tuple[Any, Iterable[pa.Table]]],
    kernel: Callable[..., Any],
    args: tuple[Any, ...],
) -> Any:
    """Run ``kernel(*args)`` with ``inputs`` (``(key, partitions)`` pairs, resolved by
    the runner) readable by :func:`task_input` as one table per key.

    Examples
    --------
    >>> with_inputs([("k", [pa.table({"a": [1]}), pa.table({"a": [2]})])],
    ...             lambda: task_input("k").num_rows, ())
    2
    """
    tables: dict[Any, Any] = {}
    for key, parts in inputs:
        parts = list(parts)
        tables[("input", key)] = parts[0] if len(parts) == 1 else concat_tables(parts)
    token = _INPUTS.set(tables)
    try:
        return kernel(*args)
    finally:
        _INPUTS.reset(token)


def _current() -> dict[Any, Any]:
    current = _INPUTS.get()
    if current is None:
        raise RuntimeError(
            "a step that reads another stage's output ran outside with_inputs: the "
            "planner wraps every task whose steps read one"
        )
    return current


def task_input(key: Any) -> pa.Table:
    """The input ``key`` of the running task (see :func:`with_inputs`)."""
    try:
        return _current()[("input", key)]
    except KeyError:
        raise RuntimeError(f"the running task has no input {key!r}") from None


def task_cached(key: Any, build: Callable[[], Any]) -> Any:
    """``build()`` once per running task and ``key``; later calls return the same."""
    current = _current()
    cache_key = ("cached", key)
    if cache_key not in current:
        current[cache_key] = build()
    return current[cache_key]
