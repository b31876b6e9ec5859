"""Expression nodes: immutable trees of columns, literals and function calls.

An :class:`Expression` is a frozen dataclass. Scalar functions are one node type,
:class:`Function`, naming an entry of :mod:`spillframe.expr.functions`, so that
type resolution and evaluation each have exactly one implementation.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from spillframe.expr.methods import StringMethods, TemporalMethods

if TYPE_CHECKING:
    from spillframe.expr.namespaces import DtNamespace, ListNamespace, StrNamespace


class Expression(StringMethods, TemporalMethods):
    """Base class of expression nodes; provides the operators, the ``.str``/``.dt``/
    ``.list`` namespaces and Daft 0.7's string and date methods
    (:mod:`spillframe.expr.methods`).

    Examples
    --------
    >>> from spillframe import col, lit
    >>> ((col("x") + 1) * 2).alias("y")
    alias((col(x) + lit(1)) * lit(2), 'y')
    """

    __slots__ = ()

    # -- structure -------------------------------------------------------------
    def children(self) -> tuple[Expression, ...]:
        return ()

    def with_children(self, children: tuple[Expression, ...]) -> Expression:
        return self

    def walk(self) -> Iterator[Expression]:
        """This node and every descendant, parents first."""
        yield self
        for child in self.children():
            yield from child.walk()

    def column_names(self) -> set[str]:
        """Names of the columns this expression reads."""
        return {e.name for e in self.walk() if isinstance(e, Column)}

    def output_name(self) -> str:
        """The column name a projection of this expression gets (Daft's rule)."""
        for node in self.walk():
            if isinstance(node, Alias):
                return node.name
            if isinstance(node, Column):
                return node.name
        return "literal"

    def has_agg(self) -> bool:
        return any(isinstance(e, AggExpr) for e in self.walk())

    # -- naming and types ---------------------------------------------------------
    def alias(self, name: str) -> Expression:
        """Rename the expression's output column."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"alias needs a non-empty string, got {name!r}")
        return Alias(self, name)

    def cast(self, dtype: pa.DataType) -> Expression:
        """Convert to another pyarrow type (``DataType.float64()``, ...)."""
        if not isinstance(dtype, pa.DataType):
            raise TypeError(f"cast needs a pyarrow DataType, got {dtype!r}")
        return Cast(self, dtype)

    def _call(self, fn: str, *args: Expression, **options: Any) -> Expression:
        """A call of the scalar function ``fn`` on this expression and ``args``."""
        return Function(fn, (self, *args), tuple(options.items()))

    # -- arithmetic and comparison ---------------------------------------------
    def _bin(self, fn: str, other: Any, reflected: bool = False) -> Expression:
        other = _to_expr(other)
        args = (other, self) if reflected else (self, other)
        return Function(fn, args)

    def __add__(self, o: Any) -> Expression:
        return self._bin("add", o)

    def __radd__(self, o: Any) -> Expression:
        return self._bin("add", o, True)

    def __sub__(self, o: Any) -> Expression:
        return self._bin("subtract", o)

    def __rsub__(self, o: Any) -> Expression:
        return self._bin("subtract", o, True)

    def __mul__(self, o: Any) -> Expression:
        return self._bin("multiply", o)

    def __rmul__(self, o: Any) -> Expression:
        return self._bin("multiply", o, True)

    def __truediv__(self, o: Any) -> Expression:
        return self._bin("true_divide", o)

    def __rtruediv__(self, o: Any) -> Expression:
        return self._bin("true_divide", o, True)

    def __floordiv__(self, o: Any) -> Expression:
        return self._bin("floor_divide", o)

    def __rfloordiv__(self, o: Any) -> Expression:
        return self._bin("floor_divide", o, True)

    def __mod__(self, o: Any) -> Expression:
        return self._bin("modulo", o)

    def __rmod__(self, o: Any) -> Expression:
        return self._bin("modulo", o, True)

    def __neg__(self) -> Expression:
        return Function("negate", (self,))

    def __eq__(self, o: Any) -> Expression:
        return self._bin("equal", o)  # type: ignore[override]

    def __ne__(self, o: Any) -> Expression:
        return self._bin("not_equal", o)  # type: ignore[override]

    def __lt__(self, o: Any) -> Expression:
        return self._bin("less", o)

    def __le__(self, o: Any) -> Expression:
        return self._bin("less_equal", o)

    def __gt__(self, o: Any) -> Expression:
        return self._bin("greater", o)

    def __ge__(self, o: Any) -> Expression:
        return self._bin("greater_equal", o)

    def __and__(self, o: Any) -> Expression:
        return self._bin("and", o)

    def __rand__(self, o: Any) -> Expression:
        return self._bin("and", o, True)

    def __or__(self, o: Any) -> Expression:
        return self._bin("or", o)

    def __ror__(self, o: Any) -> Expression:
        return self._bin("or", o, True)

    def __invert__(self) -> Expression:
        return Function("invert", (self,))

    def __bool__(self) -> bool:
        raise TypeError(
            "an expression has no truth value; combine conditions with & | ~ instead of "
            "and/or/not, and compare inside where()"
        )

    # == builds an expression, so hashing stays by identity (structural_key compares trees).
    __hash__ = object.__hash__

    # -- null handling and predicates ---------------------------------------------
    def is_null(self) -> Expression:
        """True where the value is null."""
        return Function("is_null", (self,))

    def not_null(self) -> Expression:
        """True where the value is not null."""
        return Function("is_valid", (self,))

    def fill_null(self, value: Any) -> Expression:
        """Replace nulls by ``value`` (a literal or an expression)."""
        return Function("coalesce", (self, _to_expr(value)))

    def is_in(self, values: Any) -> Expression:
        """True where the value is one of ``values`` (a list)."""
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"is_in needs a list of values, got {values!r}")
        return Function("is_in", (self,), (("values", tuple(values)),))

    def between(self, lower: Any, upper: Any) -> Expression:
        """True where ``lower <= value <= upper``."""
        return (self >= lower) & (self <= upper)

    def if_else(self, if_true: Any, if_false: Any) -> Expression:
        """``if_true`` where this boolean expression holds, else ``if_false`` (null
        where it is null); Daft 0.7 spells it ``functions.when(cond, then=if_true)
        .otherwise(if_false)``.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"x": [1, 5, None]})
        >>> df.select((sf.col("x") > 3).if_else("high", "low")).to_pydict()
        {'x': ['low', 'high', None]}
        """
        return Function("if_else", (self, _to_expr(if_true), _to_expr(if_false)))

    def is_nan(self) -> Expression:
        """True where the value is NaN (null stays null; never true for integers).

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"x": [1.0, float("nan"), None]})
        >>> df.select(sf.col("x").is_nan()).to_pydict()
        {'x': [False, True, None]}
        """
        return Function("is_nan", (self,))

    def not_nan(self) -> Expression:
        """True where the value is not NaN (null stays null)."""
        return Function("not_nan", (self,))

    def is_inf(self) -> Expression:
        """True where the value is infinite (null stays null)."""
        return Function("is_inf", (self,))

    def fill_nan(self, fill_value: Any) -> Expression:
        """Replace NaN values by ``fill_value`` (a literal or an expression); nulls stay.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"x": [1.0, float("nan"), None]})
        >>> df.select(sf.col("x").fill_nan(0.0)).to_pydict()
        {'x': [1.0, 0.0, None]}
        """
        return Function("fill_nan", (self, _to_expr(fill_value)))

    def explode(self, ignore_empty_and_null: bool = False) -> Expression:
        """One row per element of this list: a whole column of ``select`` or
        ``with_columns`` (other columns repeat); an empty or null list gives one null,
        or no row with ``ignore_empty_and_null=True``.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"id": [1, 2, 3], "l": [[10, 20], [], None]})
        >>> df.select("id", sf.col("l").explode()).to_pydict()
        {'id': [1, 1, 2, 3], 'l': [10, 20, None, None]}
        >>> df.select("id", sf.col("l").explode(ignore_empty_and_null=True)).to_pydict()
        {'id': [1, 1], 'l': [10, 20]}
        """
        return Function(
            "explode", (self,), (("ignore_empty_and_null", bool(ignore_empty_and_null)),)
        )

    def abs(self) -> Expression:
        """Absolute value."""
        return Function("abs", (self,))

    def round(self, decimals: int = 0) -> Expression:
        """Round half to even to ``decimals`` digits."""
        return Function("round", (self,), (("ndigits", int(decimals)),))

    def hash(self, seed: int = 0) -> Expression:
        """A stable 64-bit hash of each value (uint64)."""
        return Function("hash", (self,), (("seed", int(seed)),))

    def apply(self, func: Callable[[Any], Any], return_dtype: pa.DataType) -> Expression:
        """Call a Python function on every value (row-wise; prefer built-ins).

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"x": [1, 2]})
        >>> df.with_column("y", sf.col("x").apply(lambda v: v * 10, sf.DataType.int64())).to_pydict()
        {'x': [1, 2], 'y': [10, 20]}
        """
        if not callable(func):
            raise TypeError(f"apply needs a callable, got {func!r}")
        return PyApply(self, func, return_dtype)

    # -- namespaces --------------------------------------------------------------
    @property
    def str(self) -> StrNamespace:
        from spillframe.expr.namespaces import StrNamespace

        return StrNamespace(self)

    @property
    def dt(self) -> DtNamespace:
        from spillframe.expr.namespaces import DtNamespace

        return DtNamespace(self)

    @property
    def list(self) -> ListNamespace:
        from spillframe.expr.namespaces import ListNamespace

        return ListNamespace(self)

    # -- aggregations --------------------------------------------------------------
    def _agg(self, op: str, **options: Any) -> AggExpr:
        return AggExpr(op, self, tuple(options.items()))

    def sum(self) -> AggExpr:
        """Sum of non-null values."""
        return self._agg("sum")

    def mean(self) -> AggExpr:
        """Mean of non-null values."""
        return self._agg("mean")

    def min(self) -> AggExpr:
        """Smallest value."""
        return self._agg("min")

    def max(self) -> AggExpr:
        """Largest value."""
        return self._agg("max")

    def count(self, mode: str = "valid") -> AggExpr:
        """Count values: ``"valid"`` (non-null, default), ``"all"`` or ``"null"``."""
        ops = {"valid": "count", "all": "count_all", "null": "count_null"}
        if mode not in ops:
            raise ValueError(f"count mode must be one of {sorted(ops)}, got {mode!r}")
        return self._agg(ops[mode])

    def count_distinct(self) -> AggExpr:
        """Number of distinct non-null values."""
        return self._agg("count_distinct")

    def approx_count_distinct(self) -> AggExpr:
        """Number of distinct non-null values (computed exactly)."""
        return self._agg("approx_count_distinct")

    def any_value(self) -> AggExpr:
        """Any one non-null value of the group."""
        return self._agg("any_value")

    def agg_list(self) -> AggExpr:
        """All values of the group as a list."""
        return self._agg("agg_list")

    def stddev(self, ddof: int = 1) -> AggExpr:
        """Standard deviation with divisor ``n - ddof`` (1: the sample deviation, as
        pandas; 0: the population's); null when ``n <= ddof``.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"x": [1.0, 2.0, 3.0, 4.0]})
        >>> df.agg(sf.col("x").stddev(ddof=0).alias("pop"), sf.col("x").var().alias("var")).to_pydict()
        {'pop': [1.118033988749895], 'var': [1.6666666666666667]}
        """
        return self._agg("stddev", ddof=_ddof(ddof))

    def var(self, ddof: int = 1) -> AggExpr:
        """Variance with divisor ``n - ddof`` (default 1, the sample variance); see
        ``stddev``."""
        return self._agg("var", ddof=_ddof(ddof))

    def list_agg(self) -> AggExpr:
        """All values of the group as a list (Daft's name; the same as ``agg_list``)."""
        return self._agg("agg_list")

    def string_agg(self, delimiter: str | None = None) -> AggExpr:
        """The group's non-null strings joined by ``delimiter``, in input order; null
        for a group without strings.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"k": [1, 1, 2], "s": ["a", "b", None]})
        >>> df.groupby("k").agg(sf.col("s").string_agg(", ")).sort("k").to_pydict()
        {'k': [1, 2], 's': ['a, b', None]}
        """
        if delimiter is not None and not isinstance(delimiter, str):
            raise TypeError(f"string_agg delimiter must be a string or None, got {delimiter!r}")
        return self._agg("string_agg", delimiter=delimiter)


def _ddof(ddof: Any) -> int:
    if not isinstance(ddof, int) or isinstance(ddof, bool) or ddof < 0:
        raise ValueError(f"ddof must be an int >= 0, got {ddof!r}")
    return ddof


def _to_expr(value: Any) -> Expression:
    if isinstance(value, Expression):
        return value
    return lit(value)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Column(Expression):
    """A reference to an input column by name."""

    name: str

    def __repr__(self) -> str:
        return f"col({self.name})"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Literal(Expression):
    """A constant, stored as a pyarrow scalar."""

    value: pa.Scalar

    def __repr__(self) -> str:
        return f"lit({self.value.as_py()!r})"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Alias(Expression):
    """Renames its child's output."""

    child: Expression
    name: str

    def children(self) -> tuple[Expression, ...]:
        return (self.child,)

    def with_children(self, children: tuple[Expression, ...]) -> Expression:
        return Alias(children[0], self.name)

    def __repr__(self) -> str:
        return f"alias({self.child!r}, {self.name!r})"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Cast(Expression):
    """Converts its child to ``dtype``."""

    child: Expression
    dtype: pa.DataType

    def children(self) -> tuple[Expression, ...]:
        return (self.child,)

    def with_children(self, children: tuple[Expression, ...]) -> Expression:
        return Cast(children[0], self.dtype)

    def __repr__(self) -> str:
        return f"cast({self.child!r} AS {self.dtype})"


_INFIX = {
    "add": "+",
    "subtract": "-",
    "multiply": "*",
    "true_divide": "/",
    "floor_divide": "//",
    "modulo": "%",
    "equal": "==",
    "not_equal": "!=",
    "less": "<",
    "less_equal": "<=",
    "greater": ">",
    "greater_equal": ">=",
    "and": "&",
    "or": "|",
}


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Function(Expression):
    """A call of the scalar function ``fn`` (see :mod:`spillframe.expr.functions`)."""

    fn: str
    args: tuple[Expression, ...]
    options: tuple[tuple[str, Any], ...] = ()

    def children(self) -> tuple[Expression, ...]:
        return self.args

    def with_children(self, children: tuple[Expression, ...]) -> Expression:
        return Function(self.fn, tuple(children), self.options)

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.options)

    def __repr__(self) -> str:
        if self.fn in _INFIX and len(self.args) == 2:
            return f"{_paren(self.args[0])} {_INFIX[self.fn]} {_paren(self.args[1])}"
        opts = "".join(f", {k}={v!r}" for k, v in self.options)
        return f"{self.fn}({', '.join(map(repr, self.args))}{opts})"


def _paren(e: Expression) -> str:
    text = repr(e)
    if isinstance(e, Function) and e.fn in _INFIX:
        return f"({text})"
    return text


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class AggExpr(Expression):
    """An aggregation (``sum``, ``mean``...) of its child over a group."""

    op: str
    child: Expression
    options: tuple[tuple[str, Any], ...] = ()

    def children(self) -> tuple[Expression, ...]:
        return (self.child,)

    def with_children(self, children: tuple[Expression, ...]) -> Expression:
        return AggExpr(self.op, children[0], self.options)

    def __repr__(self) -> str:
        opts = "".join(f", {k}={v!r}" for k, v in self.options)
        return f"{self.op}({self.child!r}{opts})"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class PyApply(Expression):
    """A row-wise Python function (``Expression.apply``)."""

    child: Expression
    func: Callable[[Any], Any]
    return_dtype: pa.DataType

    def children(self) -> tuple[Expression, ...]:
        return (self.child,)

    def with_children(self, children: tuple[Expression, ...]) -> Expression:
        return PyApply(children[0], self.func, self.return_dtype)

    def __repr__(self) -> str:
        return f"apply({self.child!r}, {getattr(self.func, '__name__', 'fn')})"


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class UdfCall(Expression):
    """A call of a ``@udf`` on whole batches of its argument columns."""

    udf: Any  # spillframe.udf.UDF, kept untyped to avoid an import cycle
    args: tuple[Expression, ...]
    kwargs: tuple[tuple[str, Any], ...] = field(default=())

    def children(self) -> tuple[Expression, ...]:
        return self.args

    def with_children(self, children: tuple[Expression, ...]) -> Expression:
        return UdfCall(self.udf, tuple(children), self.kwargs)

    def __repr__(self) -> str:
        return f"{self.udf.name}({', '.join(map(repr, self.args))})"


def col(name: str) -> Column:
    """Refer to a column by name.

    Examples
    --------
    >>> import spillframe as sf
    >>> sf.from_pydict({"a": [1, 2]}).select(sf.col("a") * 2).to_pydict()
    {'a': [2, 4]}
    """
    if not isinstance(name, str):
        raise TypeError(f"col() needs a column name string, got {name!r}")
    return Column(name)


def lit(value: Any, dtype: pa.DataType | None = None) -> Literal:
    """A constant value (Python scalar, date, Decimal, or pyarrow scalar).

    Examples
    --------
    >>> import spillframe as sf
    >>> sf.from_pydict({"a": [1]}).with_column("b", sf.lit("x")).to_pydict()
    {'a': [1], 'b': ['x']}
    """
    if isinstance(value, Expression):
        raise TypeError("lit() takes a Python value, not an expression")
    if isinstance(value, pa.Scalar):
        return Literal(value if dtype is None else value.cast(dtype))
    if dtype is None and isinstance(value, decimal.Decimal):
        return Literal(pa.scalar(value))
    if dtype is None and isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return Literal(pa.scalar(value, type=pa.timestamp("us", tz=str(value.tzinfo))))
    try:
        return Literal(pa.scalar(value, type=dtype))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise TypeError(f"cannot make a literal of {value!r}: {exc}") from None


def structural_key(expr: Expression) -> tuple[Any, ...]:
    """A hashable key equal for structurally equal expressions (for rule tests)."""
    if isinstance(expr, Column):
        return ("col", expr.name)
    if isinstance(expr, Literal):
        return ("lit", str(expr.value.type), repr(expr.value.as_py()))
    fields = [type(expr).__name__]
    for name in ("fn", "options", "op", "name", "dtype", "func", "return_dtype", "udf"):
        if hasattr(expr, name) and not isinstance(getattr(type(expr), name, None), property):
            value = getattr(expr, name)
            fields.append(str(value) if isinstance(value, pa.DataType) else value)
    return (*fields, tuple(structural_key(c) for c in expr.children()))


def cacheable_key(expr: Expression) -> tuple[Any, ...] | None:
    """:func:`structural_key`, or None when ``expr`` calls Python functions (``apply``,
    UDFs), whose results may differ between calls, or its key is not hashable. Equal
    keys mean the same values under the same output name, so a result may be reused."""
    if any(isinstance(node, (PyApply, UdfCall)) for node in expr.walk()):
        return None
    key = structural_key(expr)
    try:
        hash(key)
    except TypeError:
        return None
    return key
