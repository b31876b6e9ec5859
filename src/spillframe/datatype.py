"""``DataType``: a thin namespace of factories returning pyarrow types (Daft's names)."""

from __future__ import annotations

import pyarrow as pa


class DataType:
    """Factories for column types; every one returns a ``pyarrow.DataType``.

    Examples
    --------
    >>> DataType.int64()
    DataType(int64)
    >>> DataType.list(DataType.string())
    ListType(list<item: string>)
    """

    int8 = staticmethod(pa.int8)
    int16 = staticmethod(pa.int16)
    int32 = staticmethod(pa.int32)
    int64 = staticmethod(pa.int64)
    uint8 = staticmethod(pa.uint8)
    uint16 = staticmethod(pa.uint16)
    uint32 = staticmethod(pa.uint32)
    uint64 = staticmethod(pa.uint64)
    float32 = staticmethod(pa.float32)
    float64 = staticmethod(pa.float64)
    bool = staticmethod(pa.bool_)
    string = staticmethod(pa.string)
    large_string = staticmethod(pa.large_string)
    binary = staticmethod(pa.binary)
    date = staticmethod(pa.date32)
    null = staticmethod(pa.null)

    @staticmethod
    def decimal128(precision: int, scale: int) -> pa.DataType:
        return pa.decimal128(precision, scale)

    @staticmethod
    def timestamp(timeunit: str = "us", timezone: str | None = None) -> pa.DataType:
        return pa.timestamp(timeunit, tz=timezone)

    @staticmethod
    def duration(timeunit: str = "us") -> pa.DataType:
        return pa.duration(timeunit)

    @staticmethod
    def list(dtype: pa.DataType) -> pa.DataType:
        return pa.list_(dtype)

    @staticmethod
    def struct(fields: dict[str, pa.DataType]) -> pa.DataType:
        return pa.struct(list(fields.items()))
