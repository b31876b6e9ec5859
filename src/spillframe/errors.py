"""Exceptions raised by spillframe; each subclasses a built-in exception."""

from __future__ import annotations

import difflib


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


class SourceError(SpillframeError, OSError):
    """A file could not be found, read or unified with the other files."""


def missing_column_message(name: str, available: list[str]) -> str:
    """``no column 'pric' in [price, qty]; did you mean 'price'?``"""
    message = f"no column {name!r} in [{', '.join(available)}]"
    close = difflib.get_close_matches(name, available, n=1)
    if close:
        message += f"; did you mean {close[0]!r}?"
    return message
