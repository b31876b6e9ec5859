"""User-defined functions on batches, with resource requests the runners honour."""

from __future__ import annotations

import dataclasses
import inspect
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from spillframe.datatype import to_array
from spillframe.errors import UDFError
from spillframe.expr.expression import Expression, UdfCall
from spillframe.kernels.budget import check_cancelled
from spillframe.resources import ResourceRequest


class Series:
    """One column of a batch, as handed to a UDF.

    Examples
    --------
    >>> s = Series(pa.array([1, 2, 3]), "x")
    >>> len(s), s.to_pylist(), s.name()
    (3, [1, 2, 3], 'x')
    """

    __slots__ = ("_data", "_name")

    def __init__(self, data: pa.Array | pa.ChunkedArray, name: str = "") -> None:
        self._data = data
        self._name = name

    def name(self) -> str:
        return self._name

    def __len__(self) -> int:
        return len(self._data)

    def to_arrow(self) -> pa.Array:
        """The values as a pyarrow Array."""
        data = self._data
        return data.combine_chunks() if isinstance(data, pa.ChunkedArray) else data

    def to_pylist(self) -> list[Any]:
        return self._data.to_pylist()

    def to_numpy(self) -> np.ndarray:
        return self._data.to_numpy(zero_copy_only=False)

    def to_pandas(self) -> Any:
        return self._data.to_pandas()

    @property
    def datatype(self) -> pa.DataType:
        return self._data.type

    def __repr__(self) -> str:
        return f"Series({self._name!r}, {self._data.type}, len={len(self)})"


# Instances of class UDFs, per process: udf id -> pool of ready instances.
_INSTANCES: dict[str, queue.Queue[Any]] = {}
_INSTANCES_LOCK = threading.Lock()


@dataclass(frozen=True, eq=False)
class UDF:
    """A function (or class) applied to whole batches of columns; see :func:`udf`."""

    func: Any
    return_dtype: pa.DataType
    resources: ResourceRequest = field(default_factory=ResourceRequest)
    batch_size: int | None = None
    concurrency: int | None = None
    init_args: tuple[tuple[Any, ...], dict[str, Any]] = ((), {})
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def name(self) -> str:
        return getattr(self.func, "__name__", "udf")

    @property
    def is_class(self) -> bool:
        return inspect.isclass(self.func)

    def __call__(self, *args: Any, **kwargs: Any) -> Expression:
        exprs = tuple(a for a in args if isinstance(a, Expression))
        if len(exprs) != len(args):
            raise TypeError(
                f"UDF {self.name!r} takes expressions as positional arguments "
                "(col(...)); pass other values as keyword arguments"
            )
        return UdfCall(self, exprs, tuple(kwargs.items()))

    def override_options(
        self,
        *,
        num_cpus: float | None = None,
        num_gpus: float | None = None,
        memory_bytes: int | None = None,
        batch_size: int | None = None,
    ) -> UDF:
        """A copy with other resource requests or batch size.

        Examples
        --------
        >>> import spillframe as sf
        >>> @sf.udf(return_dtype=sf.DataType.int64())
        ... def double(x):
        ...     return [v * 2 for v in x.to_pylist()]
        >>> double.override_options(memory_bytes=1024).resources.memory_bytes
        1024
        """
        r = self.resources
        resources = ResourceRequest(
            r.num_cpus if num_cpus is None else num_cpus,
            r.num_gpus if num_gpus is None else num_gpus,
            r.memory_bytes if memory_bytes is None else _check_bytes(memory_bytes),
        )
        return dataclasses.replace(
            self,
            resources=resources,
            batch_size=self.batch_size if batch_size is None else _check_batch(batch_size),
            uid=self.uid,
        )

    def with_init_args(self, *args: Any, **kwargs: Any) -> UDF:
        """For a class UDF: arguments for its ``__init__``."""
        if not self.is_class:
            raise TypeError(f"{self.name!r} is a function UDF; only class UDFs take init args")
        return dataclasses.replace(self, init_args=(args, kwargs), uid=uuid.uuid4().hex)

    # -- evaluation ---------------------------------------------------------------------
    def evaluate(self, call: UdfCall, columns: list[Any], num_rows: int) -> pa.ChunkedArray:
        """Run the UDF over batches of ``columns`` (arrays or scalars) of one partition."""
        columns = [pa.repeat(c, num_rows) if isinstance(c, pa.Scalar) else c for c in columns]
        names = [a.output_name() for a in call.args]
        step = self.batch_size or max(num_rows, 1)
        kwargs = dict(call.kwargs)
        chunks = []
        with self._instance() as fn:
            for start in range(0, num_rows, step):
                check_cancelled()  # a stopped query stops here, between batches
                batch = [Series(c.slice(start, step), n) for c, n in zip(columns, names)]
                expected = min(step, num_rows - start)
                try:
                    result = fn(*batch, **kwargs)
                except Exception as exc:  # the user's code: name it (runners add where)
                    raise UDFError(self.name, exc) from exc
                chunks.append(self._to_array(result, expected))
        return pa.chunked_array(chunks, type=self.return_dtype)

    def _to_array(self, result: Any, expected: int) -> pa.Array:
        if isinstance(result, Series):
            result = result.to_arrow()
        if isinstance(result, pa.ChunkedArray):
            result = result.combine_chunks()
        try:
            array = (
                result.cast(self.return_dtype)
                if isinstance(result, pa.Array)
                else to_array(result, self.return_dtype)
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise TypeError(
                f"UDF {self.name!r} returned values that are not {self.return_dtype}: {exc}"
            ) from None
        if len(array) != expected:
            raise ValueError(
                f"UDF {self.name!r} returned {len(array)} values for a batch of {expected} rows"
            )
        return array

    def _instance(self) -> _Borrowed:
        if not self.is_class:
            return _Borrowed(self.func, None)
        with _INSTANCES_LOCK:
            pool = _INSTANCES.get(self.uid)
            if pool is None:
                pool = queue.Queue()
                for _ in range(self.concurrency or 1):
                    pool.put(None)  # a slot; the instance is built on first use
                _INSTANCES[self.uid] = pool
        return _Borrowed(None, pool, self)


class _Borrowed:
    """Context manager lending a class UDF instance (building it once per slot)."""

    def __init__(
        self, fn: Callable[..., Any] | None, pool: queue.Queue[Any] | None, udf: UDF | None = None
    ) -> None:
        self.fn, self.pool, self.udf = fn, pool, udf
        self.instance: Any = None

    def __enter__(self) -> Callable[..., Any]:
        if self.pool is None:
            assert self.fn is not None
            return self.fn
        assert self.udf is not None
        self.instance = self.pool.get()
        if self.instance is None:
            args, kwargs = self.udf.init_args
            try:
                self.instance = self.udf.func(*args, **kwargs)
            except BaseException as exc:
                self.pool.put(None)
                if isinstance(exc, Exception):  # the user's __init__: name the UDF
                    raise UDFError(self.udf.name, exc) from exc
                raise
        return self.instance

    def __exit__(self, *exc: Any) -> None:
        if self.pool is not None:
            self.pool.put(self.instance)


def _check_bytes(value: Any) -> int:
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"memory_bytes must be an int >= 0, got {value!r}")
    return value


def _check_batch(value: Any) -> int:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"batch_size must be a positive int, got {value!r}")
    return value


def udf(
    *,
    return_dtype: pa.DataType,
    num_cpus: float | None = None,
    num_gpus: float | None = None,
    memory_bytes: int | None = None,
    batch_size: int | None = None,
    concurrency: int | None = None,
) -> Callable[[Any], UDF]:
    """Turn a function (or a class with ``__call__``) into a UDF over batches.

    The function receives one :class:`Series` per expression argument and returns a
    list, pyarrow Array, NumPy array or Series of the same length. A class UDF is
    built once per worker slot (``concurrency`` slots per process) and reused.
    ``num_cpus``, ``num_gpus`` and ``memory_bytes`` are reservations: a task calling
    the UDF starts only where they fit.

    Examples
    --------
    >>> import spillframe as sf
    >>> @sf.udf(return_dtype=sf.DataType.int64(), memory_bytes=1 << 20)
    ... def add_one(x):
    ...     return [v + 1 for v in x.to_pylist()]
    >>> sf.from_pydict({"x": [1, 2]}).with_column("y", add_one(sf.col("x"))).to_pydict()
    {'x': [1, 2], 'y': [2, 3]}
    """
    if not isinstance(return_dtype, pa.DataType):
        raise TypeError(f"udf return_dtype must be a pyarrow DataType, got {return_dtype!r}")
    if concurrency is not None and (not isinstance(concurrency, int) or concurrency < 1):
        raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
    resources = ResourceRequest(
        1.0 if num_cpus is None else num_cpus,
        0.0 if num_gpus is None else num_gpus,
        0 if memory_bytes is None else _check_bytes(memory_bytes),
    )

    def wrap(func: Any) -> UDF:
        if not callable(func):
            raise TypeError(f"@udf needs a function or a class, got {func!r}")
        if concurrency is not None and not inspect.isclass(func):
            raise TypeError("concurrency= applies to class UDFs only")
        return UDF(
            func,
            return_dtype,
            resources,
            None if batch_size is None else _check_batch(batch_size),
            concurrency,
        )

    return wrap
