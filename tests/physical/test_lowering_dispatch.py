"""Lowering dispatch: one registered lowering per logical node class."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pytest

from spillframe.logical import nodes as L
from spillframe.physical.lowering import LOWERINGS, Lowering, lowers


def _node_classes(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        if not sub.__name__.startswith("_") and sub.__module__ == L.__name__:
            found.add(sub)
        found |= _node_classes(sub)
    return found


def test_every_logical_node_class_has_a_lowering():
    missing = sorted(c.__name__ for c in _node_classes(L.LogicalPlan) - LOWERINGS.keys())
    assert missing == []


def test_a_node_class_is_lowered_once():
    with pytest.raises(ValueError, match="Filter already has a lowering"):
        lowers(L.Filter)(lambda low, node: None)


def test_a_node_without_lowering_is_named():
    @dataclass(frozen=True, eq=False)
    class Unknown(L.LogicalPlan):
        def _compute_schema(self):
            return pa.schema([])

    with pytest.raises(NotImplementedError, match="no lowering for Unknown"):
        Lowering().lower(Unknown())
