"""Byte sizes as users write them (``"256MiB"``, ``"1 GiB"``, ``4e9``) and as we print them.

Examples
--------
>>> parse_bytes("256MiB"), parse_bytes("1 GiB"), parse_bytes("2kB"), parse_bytes(1024)
(268435456, 1073741824, 2000, 1024)
>>> format_bytes(1690 << 20)
'1.65 GiB'
"""

from __future__ import annotations

import re

__all__ = ["parse_bytes", "format_bytes"]

MiB = 1 << 20
GiB = 1 << 30

_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?\s*([a-zA-Z]*)\s*$")


def parse_bytes(value: int | float | str, name: str = "size") -> int:
    """A byte count from an int, a float or a string with a unit (kB, MB, GB are powers
    of 1000; KiB, MiB, GiB of 1024; case does not matter).

    Raises ``ValueError`` naming ``name`` and the accepted forms for anything else, and
    for sizes below one byte.
    """
    if isinstance(value, bool):
        raise ValueError(
            f"{name} must be a number of bytes or a size such as '256MiB', got {value!r}"
        )
    if isinstance(value, (int, float)):
        number = float(value)
    elif (
        isinstance(value, str)
        and (match := _SIZE.match(value))
        and match.group(3).lower() in _UNITS
    ):
        digits, exponent, unit = match.groups()
        number = float(digits) * 10 ** int(exponent or 0) * _UNITS[unit.lower()]
    else:
        raise ValueError(
            f"{name} must be a number of bytes or a size such as '256MiB', "
            f"'1 GiB' or '4GB', got {value!r}"
        )
    if number < 1 or number != number:
        raise ValueError(f"{name} must be at least 1 byte, got {value!r}")
    return int(number)


def format_bytes(n: float) -> str:
    """``512 B``, ``4.0 KiB``, ``42.0 MiB``, ``1.65 GiB``."""
    if n >= GiB:
        return f"{n / GiB:.2f} GiB"
    if n >= MiB:
        return f"{n / MiB:.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n:.0f} B"
