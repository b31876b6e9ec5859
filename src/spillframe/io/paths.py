"""Expanding user paths (file, directory, glob, or a list of them) into files."""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable

from spillframe.errors import SourceError

_IGNORED_PREFIXES = (".", "_")


def _visible(name: str) -> bool:
    return not name.startswith(_IGNORED_PREFIXES)


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that compares the numbers in ``name`` as numbers: ``part-2`` before
    ``part-10``, as writers that do not pad their file numbers mean (tpchgen-cli's
    ``lineitem.2.parquet`` ... ``lineitem.16.parquet``). A directory's files are read
    in this order, so files written in key order keep it.

    >>> sorted(["f10.parquet", "f9.parquet", "f1.parquet"], key=natural_key)
    ['f1.parquet', 'f9.parquet', 'f10.parquet']
    """
    return tuple(
        (0, int(piece)) if i % 2 else (1, piece) for i, piece in enumerate(_DIGITS.split(name))
    )


def _walk(directory: str) -> list[str]:
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted((d for d in dirs if _visible(d)), key=natural_key)
        found.extend(os.path.join(root, f) for f in sorted(files, key=natural_key) if _visible(f))
    return found


def expand_paths(
    path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], what: str
) -> list[str]:
    """Every data file named by ``path``, in a stable order (:func:`natural_key`).

    Hidden files and files starting with ``_`` (``_SUCCESS``, ``_metadata``) are skipped
    inside directories. A path that matches nothing raises :class:`SourceError` naming it.
    """
    if isinstance(path, (str, os.PathLike)):
        items = [os.fspath(path)]
    else:
        items = [os.fspath(p) for p in path]
        if not items:
            raise SourceError(f"{what} needs at least one path, got an empty list")
    files: list[str] = []
    for item in items:
        if any(ch in item for ch in "*?["):
            matches = sorted(glob.glob(item, recursive=True), key=natural_key)
            expanded = [m for m in matches if os.path.isfile(m)]
            for m in matches:
                if os.path.isdir(m):
                    expanded.extend(_walk(m))
        elif os.path.isdir(item):
            expanded = _walk(item)
        elif os.path.isfile(item):
            expanded = [item]
        else:
            raise SourceError(f"{what}: no such file or directory: {item!r}")
        if not expanded:
            raise SourceError(f"{what}: {item!r} matches no files")
        files.extend(expanded)
    return files


def common_root(paths: list[str]) -> str:
    """The hive partitioning base: the deepest directory holding all ``paths`` that is
    not itself a ``key=value`` directory.

    When every file sits under one partition (a single ``day=2024-01-01/`` directory),
    the deepest common directory is that partition; its ``key=value`` components belong
    to the partition path, not to the base, or the partition column would be lost.
    """
    dirs = [os.path.dirname(os.path.abspath(p)) for p in paths]
    if not dirs:
        return "."
    root = os.path.commonpath(dirs)
    while "=" in os.path.basename(root) and os.path.dirname(root) != root:
        root = os.path.dirname(root)
    return root
