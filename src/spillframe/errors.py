"""Exceptions raised by spillframe; each subclasses a built-in exception."""

from __future__ import annotations

import difflib
import pickle


class SpillframeError(Exception):
    """Base class of every spillframe-specific error."""


class SchemaError(SpillframeError, ValueError):
    """A column is missing or a type does not fit, found while the plan is built."""


class ExpressionTypeError(SchemaError, TypeError):
    """An expression was applied to a type it does not support."""


class RunnerError(SpillframeError, RuntimeError):
    """A runner could not be found, configured or could not finish a query."""


class ResourceError(RunnerError):
    """A task asks for more CPUs, GPUs or memory than any worker has."""


class SpillError(RunnerError, OSError):
    """Spilling to disk failed: the spill directory is full or over its limit."""


class UDFError(SpillframeError, RuntimeError):
    """A user-defined function raised while a query ran.

    The message names the UDF, the operator and the partition; the exception the UDF
    raised is kept as ``original`` and as ``__cause__`` (so the traceback shows it).
    It pickles with the original, so a runner on other processes raises the same.

    Examples
    --------
    >>> err = UDFError("parse", ValueError("bad row")).locate("project", 1, 3)
    >>> str(err)
    "UDF 'parse' raised ValueError: bad row (operator 'project', stage 1, partition 3)"
    >>> type(err.__cause__).__name__
    'ValueError'
    """

    def __init__(
        self,
        udf: str,
        original: BaseException,
        operator: str = "",
        stage: int | None = None,
        partition: int | None = None,
    ) -> None:
        super().__init__(udf, original, operator, stage, partition)
        self.udf, self.original = udf, original
        self.operator, self.stage, self.partition = operator, stage, partition
        self.__cause__ = original

    def __reduce__(self) -> tuple:
        # The original travels as itself when it survives a pickle round trip (most
        # exceptions do), else as a RuntimeError carrying its repr: an exception whose
        # __init__ takes other arguments than its args cannot be rebuilt elsewhere.
        original = self.original
        try:
            pickle.loads(pickle.dumps(original))
        except Exception:  # noqa: BLE001 - any failure means: send a stand-in
            original = RuntimeError(f"{type(original).__name__}: {original!r}")
        return (UDFError, (self.udf, original, self.operator, self.stage, self.partition))

    def locate(self, operator: str, stage: int, partition: int) -> UDFError:
        """Record where the UDF ran (a runner calls it; the first location stays)."""
        if not self.operator:
            self.operator, self.stage, self.partition = operator, stage, partition
            self.args = (self.udf, self.original, operator, stage, partition)
        return self

    def __str__(self) -> str:
        where = ""
        if self.operator:
            where = f" (operator {self.operator!r}, stage {self.stage}, partition {self.partition})"
        return f"UDF {self.udf!r} raised {type(self.original).__name__}: {self.original}{where}"


class SourceError(SpillframeError, OSError):
    """A file could not be found, read or unified with the other files."""


def missing_column_message(name: str, available: list[str]) -> str:
    """``no column 'pric' in [price, qty]; did you mean 'price'?``"""
    message = f"no column {name!r} in [{', '.join(available)}]"
    close = difflib.get_close_matches(name, available, n=1)
    if close:
        message += f"; did you mean {close[0]!r}?"
    return message
