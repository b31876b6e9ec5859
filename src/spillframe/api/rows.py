"""Choosing rows by position or at random, and dropping NaNs (Daft's ``offset``,
``sample`` and ``drop_nan``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from spillframe.expr.expression import Column, col
from spillframe.logical import nodes as L
from spillframe.logical.reshape import Offset, SampleRows

if TYPE_CHECKING:
    from spillframe.api.dataframe import DataFrame


class RowSelection:
    """``DataFrame`` methods that keep some of the rows."""

    __slots__ = ()

    def offset(self, num: int) -> DataFrame:
        """Every row but the first ``num`` (SQL's ``OFFSET``); ``offset(k).limit(n)``
        pages through the rows, ``limit(n).offset(k)`` keeps rows ``k`` to ``n - 1``.

        Each partition's rows are counted first, so only the partitions holding the
        first ``num`` rows are cut and no task holds more than one partition.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"x": [1, 2, 3, 4, 5, 6, 7]}, num_partitions=3)
        >>> df.offset(1).limit(5).to_pydict()
        {'x': [2, 3, 4, 5, 6]}
        >>> df.limit(4).offset(2).to_pydict()
        {'x': [3, 4]}
        """
        if not isinstance(num, int) or isinstance(num, bool) or num < 0:
            raise ValueError(f"offset needs an int >= 0, got {num!r}")
        df: DataFrame = self  # type: ignore[assignment]
        return df if num == 0 else df._new(Offset(df._builder, n=num))

    def sample(
        self,
        fraction: float | None = None,
        size: int | None = None,
        with_replacement: bool = False,
        seed: int | None = None,
    ) -> DataFrame:
        """Rows chosen at random: about ``fraction`` of them, or exactly ``size``;
        ``with_replacement=True`` may pick a row more than once. ``seed`` makes it
        repeatable.

        A ``fraction`` without replacement keeps each row with that probability; with
        replacement ``round(fraction * rows)`` rows are drawn; ``size=`` draws exactly
        that many. With a ``seed``, rows are chosen by their position in the whole
        DataFrame (each partition's rows are counted first), so a seed picks the same
        rows on every runner and partitioning, in their input order; without one, a
        ``fraction`` sample is a fused per-partition filter. ``size`` larger than the
        row count without replacement raises ValueError when the query runs (as Daft).

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"a": list(range(100))}, num_partitions=4)
        >>> df.sample(0.5, seed=1).count_rows() == df.sample(0.5, seed=1).count_rows()
        True
        >>> df.sample(size=5, seed=7).to_pydict() == df.into_partitions(3).sample(size=5, seed=7).to_pydict()
        True
        >>> df.sample(size=200, with_replacement=True, seed=2).count_rows()
        200
        """
        if (fraction is None) == (size is None):
            raise ValueError("sample needs either fraction= or size=, not both and not neither")
        if fraction is not None and (
            not isinstance(fraction, (int, float)) or not 0.0 <= fraction <= 1.0
        ):
            raise ValueError(f"sample fraction must be between 0 and 1, got {fraction!r}")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise ValueError(f"sample size must be an int >= 0, got {size!r}")
        if seed is not None and not isinstance(seed, int):
            raise TypeError(f"sample seed must be an int or None, got {seed!r}")
        df: DataFrame = self  # type: ignore[assignment]
        if size is None and not with_replacement and seed is None:
            return df._new(L.Sample(df._builder, fraction=float(fraction), seed=seed))  # type: ignore[arg-type]
        node = SampleRows(
            df._builder,
            size=size,
            fraction=None if fraction is None else float(fraction),
            with_replacement=bool(with_replacement),
            seed=seed,
        )
        return df._new(node)

    def drop_nan(self, *cols: Any) -> DataFrame:
        """Drop rows with a NaN in any of the float columns ``cols`` (every float column
        when none given); other columns are not checked, nulls are kept.

        Examples
        --------
        >>> import spillframe as sf
        >>> df = sf.from_pydict({"a": [1.0, float("nan"), None], "s": ["x", "y", "z"]})
        >>> df.drop_nan().to_pydict()
        {'a': [1.0, None], 's': ['x', 'z']}
        """
        df: DataFrame = self  # type: ignore[assignment]
        items = (
            list(cols[0]) if len(cols) == 1 and isinstance(cols[0], (list, tuple)) else list(cols)
        )
        names = [c.name if isinstance(c, Column) else c for c in items] or df.column_names
        df._check_columns(names)
        schema = df.schema()
        floats = [n for n in names if pa.types.is_floating(schema.field(n).type)]
        if not floats:
            return df
        keep = col(floats[0]).is_nan().fill_null(False)
        for name in floats[1:]:
            keep = keep | col(name).is_nan().fill_null(False)
        return df.where(~keep)
