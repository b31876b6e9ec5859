"""``import spillframe`` picks jemalloc for Arrow when it still can (spillframe._allocator)."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest

from spillframe._allocator import POOL_VARIABLE, prefer_jemalloc


def _has_jemalloc() -> bool:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    return True


needs_jemalloc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not _has_jemalloc(),
    reason="spillframe picks jemalloc on Linux builds of pyarrow that have it",
)


def _backend(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != POOL_VARIABLE} | env
    done = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@needs_jemalloc
def test_spillframe_imported_first_makes_jemalloc_arrows_pool():
    code = "import spillframe, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    assert _backend(code) == "jemalloc"


@needs_jemalloc
def test_a_pool_the_user_chose_or_pyarrow_loaded_first_stands():
    report = "print(pa.default_memory_pool().backend_name)"
    assert _backend(f"import spillframe, pyarrow as pa; {report}", **{POOL_VARIABLE: "system"}) == (
        "system"
    )
    plain = _backend(f"import pyarrow as pa; {report}")
    assert _backend(f"import pyarrow as pa, spillframe; {report}") == plain


def test_nothing_is_set_once_pyarrow_is_loaded():
    environ: dict[str, str] = {}
    assert "pyarrow" in sys.modules
    assert prefer_jemalloc(environ) is False
    assert environ == {}
