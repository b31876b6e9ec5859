"""``DataType``: a thin namespace of factories returning pyarrow types (Daft's names)."""

from __future__ import annotations

import contextlib
import pickle
import secrets
from typing import Any

import pyarrow as pa

#: This session's key. Every Python-object column it stores carries it in its type's
#: metadata (in Parquet and Arrow IPC files, spill files, and Arrow data sent between
#: processes), and only columns carrying a trusted key unpickle: unpickling runs code,
#: so a file from elsewhere must not do it just by being read. A Dask runner gives its
#: workers this key (:func:`share_session_key`) so the cluster trusts its own data.
_SESSION = {"key": secrets.token_hex(16)}
_TRUSTED_KEYS = {_SESSION["key"]}
_TRUST_EVERY_KEY = [False]


def session_key() -> str:
    """The key this session writes into its Python-object columns."""
    return _SESSION["key"]


def share_session_key(key: str) -> None:
    """Adopt ``key`` (another process's :func:`session_key`) as this process's own and
    trust it: a runner calls it on its workers, so that one query's processes read each
    other's Python-object columns."""
    _TRUSTED_KEYS.add(key)
    _SESSION["key"] = key


def trust_python_objects(key: str | None = None) -> None:
    """Let Python-object columns written by another session unpickle: those written
    under ``key``, or with no argument, every one (do that only for files you trust:
    unpickling data runs code).

    Examples
    --------
    >>> trust_python_objects(session_key())  # this session's own: trusted already
    """
    if key is None:
        _TRUST_EVERY_KEY[0] = True
    else:
        _TRUSTED_KEYS.add(key)


class PythonType(pa.ExtensionType):
    """Arbitrary Python objects (Daft's ``DataType.python()``), stored pickled in a
    ``large_binary`` column: they pass through projections, filters, joins, exchanges,
    spilling and Dask workers, and come back as the objects; they cannot be sorted,
    grouped by or compared.

    A column read from a file another session wrote keeps its pickles as they are and
    refuses to unpickle them (see :func:`trust_python_objects`), unlike Daft, which
    cannot store Python objects in files at all.
    """

    def __init__(self, key: str | None = None) -> None:
        self.key = key or _SESSION["key"]
        super().__init__(pa.large_binary(), "spillframe.python")

    def __arrow_ext_serialize__(self) -> bytes:
        return self.key.encode()

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> PythonType:
        return cls(serialized.decode() or "unknown")

    def __arrow_ext_scalar_class__(self) -> type:
        return PythonScalar

    def __reduce__(self) -> tuple[Any, ...]:
        return PythonType, (self.key,)

    def __hash__(self) -> int:  # types are dict keys (e.g. of view-type casts)
        return hash(self.extension_name)

    @property
    def trusted(self) -> bool:
        return _TRUST_EVERY_KEY[0] or self.key in _TRUSTED_KEYS


class PythonScalar(pa.ExtensionScalar):
    """A value of a :class:`PythonType` column; ``as_py()`` is the object."""

    def as_py(self, **kwargs: Any) -> Any:
        stored = self.value
        if stored is None or not stored.is_valid:
            return None
        if not self.type.trusted:
            raise pickle.UnpicklingError(
                "refusing to unpickle a DataType.python() value written by another "
                "session (a file or process this one does not know): unpickling runs "
                "code. If you trust its source, call "
                "spillframe.datatype.trust_python_objects() first; or read the pickled "
                "bytes with .cast(DataType.binary())"
            )
        return pickle.loads(stored.as_py())


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
        Objects of classes defined at module level pickle as they are; classes defined
        in a function, a doctest or a notebook cell need cloudpickle installed.

        >>> import fractions
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"x": [1, 2]})
        >>> thirds = df.select(
        ...     sf.col("x").apply(lambda x: fractions.Fraction(x, 3), sf.DataType.python())
        ... )
        >>> thirds.to_pydict()["x"]
        [Fraction(1, 3), Fraction(2, 3)]
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
