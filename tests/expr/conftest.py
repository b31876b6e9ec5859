"""Helpers for expression tests: run a projection, check the schema invariant, compare."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest


def _clean(value: Any) -> Any:
    """pandas' missing markers (NaN from nulls, pd.NA, NaT) become None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def pandas_values(series: pd.Series) -> list[Any]:
    """A pandas result as a Python list with None for missing values."""
    return [_clean(v) for v in series.astype(object).tolist()]


def run_projection(df: Any, *exprs: Any) -> pa.Table:
    """Run ``df.select(*exprs)``; the predicted schema must equal the result's schema."""
    __tracebackhide__ = True
    out = df.select(*exprs)
    predicted = out.schema()
    table = out.to_arrow()
    assert table.schema.remove_metadata() == predicted.remove_metadata(), (
        f"predicted schema\n{predicted}\ndiffers from the result's\n{table.schema}"
    )
    assert table.num_rows == df.count_rows()
    return table


def assert_values(actual: list[Any], expected: list[Any], rtol: float = 1e-9) -> None:
    """Element-wise equality with None = None, NaN = NaN and a float tolerance."""
    __tracebackhide__ = True
    assert len(actual) == len(expected), (actual, expected)
    for i, (a, e) in enumerate(zip(actual, expected)):
        if isinstance(a, float) and isinstance(e, (float, int)) and not isinstance(e, bool):
            if math.isnan(a) or math.isnan(e):
                assert math.isnan(a) and math.isnan(e), f"row {i}: {a!r} != {e!r}"
            else:
                assert math.isclose(a, e, rel_tol=rtol) or (math.isinf(a) and a == e), (
                    f"row {i}: {a!r} != {e!r}\nactual   {actual}\nexpected {expected}"
                )
        else:
            assert a == e, f"row {i}: {a!r} != {e!r}\nactual   {actual}\nexpected {expected}"


@pytest.fixture(params=[1, 3], ids=["1part", "3parts"])
def nparts(request: pytest.FixtureRequest) -> int:
    """Partition counts every expression is checked on."""
    return request.param


class ExprHelpers:
    """The helpers above, handed to tests as the ``ex`` fixture."""

    run = staticmethod(run_projection)
    values = staticmethod(pandas_values)
    assert_values = staticmethod(assert_values)

    @staticmethod
    def column(table: pa.Table, name: str) -> list[Any]:
        return table.column(name).to_pylist()


@pytest.fixture
def ex() -> ExprHelpers:
    """``ex.run(df, *exprs)``, ``ex.values(series)``, ``ex.assert_values(a, e)``."""
    return ExprHelpers()
