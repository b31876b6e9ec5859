"""Logical nodes that reshape rows: repeat them, unpivot columns into rows, and the
operators that need each row's global position (offset, sampling by size).

Their lowering is :mod:`spillframe.physical.reshape`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from spillframe.errors import SchemaError
from spillframe.logical.nodes import _Unary, check_columns


@dataclass(frozen=True, eq=False)
class RepeatRows(_Unary):
    """Each row ``times`` times (an integer column, dropped from the output); rows with
    a count of zero, below zero or null disappear."""

    times: str = ""

    def _compute_schema(self) -> pa.Schema:
        check_columns([self.times], self.child.schema)
        kind = self.child.schema.field(self.times).type
        if not pa.types.is_integer(kind):
            raise SchemaError(f"RepeatRows needs an integer count column; {self.times!r} is {kind}")
        return self.child.schema.remove(self.child.schema.get_field_index(self.times))

    def describe(self) -> str:
        return f"RepeatRows: times={self.times}"


@dataclass(frozen=True, eq=False)
class Unpivot(_Unary):
    """Rows of ``ids`` repeated once per column of ``values``, with that column's name
    in ``variable_name`` and its value in ``value_name`` (all values cast to
    ``value_type``)."""

    ids: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    variable_name: str = "variable"
    value_name: str = "value"
    value_type: pa.DataType = pa.null()

    def _compute_schema(self) -> pa.Schema:
        check_columns([*self.ids, *self.values], self.child.schema)
        fields = [self.child.schema.field(n) for n in self.ids]
        names = [*self.ids, self.variable_name, self.value_name]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SchemaError(
                f"unpivot output would have duplicate column(s) {duplicates}; choose other "
                "variable_name= / value_name="
            )
        return pa.schema(
            [
                *fields,
                pa.field(self.variable_name, pa.string()),
                pa.field(self.value_name, self.value_type),
            ]
        )

    def describe(self) -> str:
        return f"Unpivot: ids=[{', '.join(self.ids)}], values=[{', '.join(self.values)}]"


@dataclass(frozen=True, eq=False)
class Offset(_Unary):
    """Every row but the first ``n``."""

    n: int = 0

    is_narrow: ClassVar[bool] = False

    def describe(self) -> str:
        return f"Offset: {self.n}"


@dataclass(frozen=True, eq=False)
class SampleRows(_Unary):
    """``size`` rows drawn uniformly at random (with or without replacement), or
    ``round(fraction * rows)`` of them when ``size`` is None. Which rows are drawn
    depends only on the seed and the rows' order, not on the partitioning."""

    size: int | None = None
    fraction: float | None = None
    with_replacement: bool = False
    seed: int | None = None

    is_narrow: ClassVar[bool] = False

    def describe(self) -> str:
        amount = f"size={self.size}" if self.size is not None else f"fraction={self.fraction}"
        return f"SampleRows: {amount}, with_replacement={self.with_replacement}, seed={self.seed}"
