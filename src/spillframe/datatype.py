"""``DataType``: a thin namespace of factories returning pyarrow types (Daft's names)."""

from __future__ import annotations

import contextlib
import pickle
from typing import Any

import pyarrow as pa


class PythonType(pa.ExtensionType):
    """Arbitrary Python objects (Daft's ``DataType.python()``), stored pickled in a
    ``large_binary`` column: they pass through projections, filters, joins, exchanges,
    spilling and Dask workers, and come back as the objects; they cannot be sorted,
    grouped by or compared.
    """

    def __init__(self) -> None:
        super().__init__(pa.large_binary(), "spillframe.python")

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> PythonType:
        return cls()

    def __arrow_ext_scalar_class__(self) -> type:
        return PythonScalar

    def __reduce__(self) -> tuple[Any, ...]:
        return PythonType, ()

    def __hash__(self) -> int:  # types are dict keys (e.g. of view-type casts)
        return hash(self.extension_name)


class PythonScalar(pa.ExtensionScalar):
    """A value of a :class:`PythonType` column; ``as_py()`` is the object."""

    def as_py(self, **kwargs: Any) -> Any:
        stored = self.value
        return None if stored is None or not stored.is_valid else pickle.loads(stored.as_py())


with contextlib.suppress(pa.ArrowKeyError):  # registered by an earlier import
    pa.register_extension_type(PythonType())


def _dumps(value: Any) -> bytes:
    """Pickle ``value``; classes defined in a function or notebook need cloudpickle."""
    try:
        return pickle.dumps(value)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        try:
            import cloudpickle
        except ImportError:
            raise TypeError(
                f"cannot store {value!r} in a DataType.python() column: {exc}; define its "
                "class at module level or pip install cloudpickle"
            ) from None
        return cloudpickle.dumps(value)


def python_array(values: list[Any]) -> pa.ExtensionArray:
    """A :class:`PythonType` array of ``values`` (None stays null)."""
    storage = pa.array([None if v is None else _dumps(v) for v in values], pa.large_binary())
    return pa.ExtensionArray.from_storage(PythonType(), storage)


def to_array(values: Any, dtype: pa.DataType) -> pa.Array:
    """``pa.array(values, type=dtype)``, Python objects included."""
    if isinstance(dtype, PythonType):
        return python_array(list(values))
    return pa.array(values, type=dtype)


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
    def python() -> pa.DataType:
        """Python objects of any class (see :class:`PythonType`).

        Examples
        --------
        >>> import spillframe as sf
        >>> class Point:
        ...     def __init__(self, x):
        ...         self.x = x
        >>> df = sf.from_pydict({"x": [1, 2]})
        >>> points = df.select(sf.col("x").apply(Point, sf.DataType.python()).alias("p"))
        >>> [p.x for p in points.to_pydict()["p"]]
        [1, 2]
        """
        return PythonType()

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
