"""Shared subplans: a part of a query that appears more than once is computed once.

TPC-H Q15 aggregates revenue per supplier and uses it twice (its maximum, and a join);
Q11, Q17, Q22 and others repeat a subquery the same way. Two subtrees are the same
when they are structurally equal: same operators, same expressions (see
:func:`spillframe.expr.expression.structural_key`), same sources. Only subtrees with a
wide operator (aggregation, join, sort...) are shared: recomputing a scan with a few
narrow steps costs about what holding its output for a second consumer saves, and
keeping it would hold whole inputs in memory. Subtrees with Python functions (UDFs,
``apply``) are never shared, since their results may differ between calls.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pyarrow as pa

from spillframe.expr.expression import Expression, PyApply, UdfCall, structural_key
from spillframe.logical import nodes as L

_UNKEYABLE = object()


class _Keys:
    """Structural keys of logical nodes, memoized by node identity for one lowering."""

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
            key = expression_key(value)
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


def expression_key(expr: Expression) -> tuple[Any, ...] | None:
    """:func:`structural_key` (names count: equal keys mean equal values *and* equal
    column names), or None when ``expr`` calls Python functions or is not hashable."""
    if any(isinstance(node, (PyApply, UdfCall)) for node in expr.walk()):
        return None
    key = structural_key(expr)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _is_wide(node: L.LogicalPlan) -> bool:
    return any(not n.is_narrow for n in node.walk())


def shared_subplans(plan: L.LogicalPlan) -> tuple[_Keys, set[tuple[Any, ...]]]:
    """Keys of the largest subtrees of ``plan`` that occur more than once and contain a
    wide operator; a subtree inside a repeated larger one is not listed by itself."""
    keys = _Keys()
    counts: Counter[tuple[Any, ...]] = Counter()
    parents: dict[tuple[Any, ...], list[tuple[Any, ...] | None]] = {}
    wide: dict[tuple[Any, ...], bool] = {}

    def walk(node: L.LogicalPlan, parent: tuple[Any, ...] | None) -> None:
        key = keys.of(node)
        if key is not None:
            counts[key] += 1
            parents.setdefault(key, []).append(parent)
            if key not in wide:
                wide[key] = _is_wide(node)
        for child in node.children():
            walk(child, key)

    walk(plan, None)
    roots = {
        key for key, n in counts.items()
        if n > 1 and wide[key]
        and any(parent is None or counts[parent] < n for parent in parents[key])
    }
    return keys, roots
