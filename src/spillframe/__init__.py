"""spillframe: a lazy, partitioned DataFrame engine on Apache Arrow for data larger
than memory. Every query becomes one partitioned physical plan; runners (the local
``py`` runner, or Dask through the ``spillframe-dask`` plugin) execute it.

Examples
--------
>>> import spillframe as sf
>>> df = sf.from_pydict({"k": ["a", "b", "a"], "v": [1, 2, 3]})
>>> df.groupby("k").agg(sf.col("v").sum()).sort("k").to_pydict()
{'k': ['a', 'b'], 'v': [4, 2]}
"""

# First, before anything loads pyarrow: Arrow's allocator (see the module).
from spillframe import _allocator  # noqa: F401, I001
from spillframe import config, functions
from spillframe.api.dataframe import DataFrame, GroupedDataFrame, concat
from spillframe.api.io import (
    from_arrow,
    from_pandas,
    from_pydict,
    from_pylist,
    read_csv,
    read_json,
    read_parquet,
)
from spillframe.datatype import DataType
from spillframe.errors import (
    ExpressionTypeError,
    ResourceError,
    RunnerError,
    SchemaError,
    SourceError,
    SpillError,
    SpillframeError,
    UDFError,
)
from spillframe.expr.expression import Expression, col, lit
from spillframe.functions import interval
from spillframe.runners.base import (
    Runner,
    available_runners,
    get_runner,
    runner,
    set_runner,
    set_runner_py,
)
from spillframe.udf import UDF, Series, udf

__version__ = "0.1.0"


def set_runner_dask(address: str | None = None, **options: object) -> Runner:
    """Run queries on Dask distributed (needs ``pip install spillframe-dask``).

    With no ``address`` a LocalCluster is started; see the plugin's documentation
    for its options (``n_workers``, ``memory_limit``, ``memory_spill``, ...).

    Examples
    --------
    >>> import spillframe as sf
    >>> runner = sf.set_runner_dask(n_workers=1, memory_limit="1GiB")  # doctest: +SKIP
    >>> sf.get_runner().dashboard_link  # doctest: +SKIP
    'http://127.0.0.1:8787/status'
    """
    return set_runner("dask", address=address, **options)


__all__ = [
    "DataFrame",
    "DataType",
    "Expression",
    "ExpressionTypeError",
    "GroupedDataFrame",
    "ResourceError",
    "Runner",
    "RunnerError",
    "SchemaError",
    "Series",
    "SourceError",
    "SpillError",
    "UDFError",
    "SpillframeError",
    "UDF",
    "available_runners",
    "col",
    "concat",
    "config",
    "from_arrow",
    "from_pandas",
    "from_pydict",
    "from_pylist",
    "functions",
    "get_runner",
    "interval",
    "lit",
    "read_csv",
    "read_json",
    "read_parquet",
    "runner",
    "set_runner",
    "set_runner_dask",
    "set_runner_py",
    "udf",
]
