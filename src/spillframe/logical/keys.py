"""Structural keys of logical plans: which subtrees of a plan are the same.

The optimizer keeps repeated subtrees identical (``pushdown_projections``) and leaves
reused aggregations whole (``reduce_grouped_sides``); lowering computes a repeated
subtree once (``spillframe.physical.shared``). All three compare subtrees by these keys.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pyarrow as pa

from spillframe.expr.expression import Expression, cacheable_key
from spillframe.logical import nodes as L

_UNKEYABLE = object()


class PlanKeys:
    """Structural keys of logical nodes, memoized by node identity (for one plan).

    Equal keys mean equal subtrees: the same operators with the same expressions
    (names included), options and sources (in-memory tables by identity). A subtree
    that calls Python functions has no key (None): its results may differ per call.
    """

    def __init__(self) -> None:
        self._by_id: dict[int, Any] = {}
        self._alive: list[Any] = []  # ids stay valid while we hold the objects
        self._text: dict[int, str] = {}

    def of(self, node: L.LogicalPlan) -> tuple[Any, ...] | None:
        found = self._by_id.get(id(node), _UNKEYABLE)
        if found is not _UNKEYABLE:
            return found
        parts: list[Any] = [type(node).__name__]
        key: tuple[Any, ...] | None = None
        for field in dataclasses.fields(node):
            if not field.init:
                continue
            value = self._value(getattr(node, field.name))
            if value is _UNKEYABLE:
                break
            parts.append((field.name, value))
        else:
            key = tuple(parts)
        self._by_id[id(node)] = key
        self._alive.append(node)
        return key

    def _value(self, value: Any) -> Any:
        if isinstance(value, L.LogicalPlan):
            key = self.of(value)
            return _UNKEYABLE if key is None else key
        if isinstance(value, Expression):
            key = cacheable_key(value)
            return _UNKEYABLE if key is None else key
        if isinstance(value, (tuple, list)):
            items = tuple(self._value(v) for v in value)
            return _UNKEYABLE if any(i is _UNKEYABLE for i in items) else items
        if isinstance(value, pa.Table):
            return ("table", id(value))  # the same in-memory data, not equal data
        if isinstance(value, (pa.Schema, pa.DataType)):
            text = self._text.get(id(value))
            if text is None:
                text = self._text[id(value)] = str(value)
                self._alive.append(value)
            return text
        try:
            hash(value)
        except TypeError:
            return ("object", id(value))
        return value
