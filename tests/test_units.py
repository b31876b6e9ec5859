"""Byte sizes as users write them."""

from __future__ import annotations

import pytest

from spillframe.units import format_bytes, parse_bytes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("256MiB", 256 << 20),
        ("1 GiB", 1 << 30),
        ("512 mib", 512 << 20),
        ("4GB", 4 * 10**9),
        ("1.5GiB", 3 << 29),
        ("100", 100),
        (2048, 2048),
        (1e6, 10**6),
        ("2e3kB", 2 * 10**6),
    ],
)
def test_sizes_parse(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("bad", ["lots", "12 parsecs", "-1MiB", 0, True, "", "0.1"])
def test_bad_sizes_name_the_option(bad):
    with pytest.raises(ValueError, match="memory_limit"):
        parse_bytes(bad, "memory_limit")


def test_format_bytes():
    assert [format_bytes(n) for n in (12, 4096, 42 << 20, 3 << 30)] == [
        "12 B",
        "4.0 KiB",
        "42.0 MiB",
        "3.00 GiB",
    ]
