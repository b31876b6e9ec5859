"""Decimal arithmetic past decimal128's 38 digits stays exact (decimal256)."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa

import spillframe as sf
from spillframe import col


def test_money_product_widens_to_decimal256(sf_runner):
    money = pa.decimal128(15, 2)
    table = pa.table(
        {
            k: pa.array([Decimal("0.05"), Decimal("1234.56")], money)
            for k in ("price", "disc", "tax")
        }
    )
    charge = col("price") * (1 - col("disc")) * (1 + col("tax"))
    df = sf.from_arrow(table, num_partitions=2).select(charge.alias("charge"))
    assert df.schema().field("charge").type == pa.decimal256(61, 6)
    values = df.to_pydict()["charge"]
    expected = [p * (1 - p) * (1 + p) for p in (Decimal("0.05"), Decimal("1234.56"))]
    assert values == expected
    assert df.agg(col("charge").sum()).to_pydict()["charge"] == [sum(expected)]
