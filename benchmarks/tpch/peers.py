"""Peer engines written idiomatically for each: DuckDB (SQL), polars (lazy), dask.dataframe.

Daft runs the spillframe query functions themselves (see :mod:`benchmarks.tpch.engines`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from benchmarks.tpch.engines import Engine, EngineUnavailable, QueryUnsupported
from benchmarks.tpch.sql import QUERIES as SQL_QUERIES


class DuckDBEngine(Engine):
    """DuckDB running the TPC-H SQL text over views of the parquet files."""

    name = "duckdb"

    def __init__(self, paths: Mapping[str, str], options: Mapping[str, Any] | None = None):
        super().__init__(paths, options)
        from benchmarks.tpch.answers import duckdb_connection

        self._con = duckdb_connection(self.paths, threads=self.options.get("threads"))

    def execute(self, qnum: int) -> pa.Table:
        return self._con.sql(SQL_QUERIES[qnum]).to_arrow_table()

    def close(self) -> None:
        self._con.close()


class PolarsEngine(Engine):
    """polars' lazy API over ``scan_parquet``."""

    name = "polars"

    def __init__(self, paths: Mapping[str, str], options: Mapping[str, Any] | None = None):
        super().__init__(paths, options)
        try:
            import polars as pl
        except ImportError as exc:
            raise EngineUnavailable("polars is not installed") from exc
        from benchmarks.tpch import polars_queries

        self._pl = pl
        self._queries = polars_queries.QUERIES

    def execute(self, qnum: int) -> pa.Table:
        pl = self._pl

        def get_table(name: str) -> Any:
            return pl.scan_parquet(self.paths[name])

        return self._queries[qnum](get_table).collect().to_arrow()


class DaskDataFrameEngine(Engine):
    """dask.dataframe on a distributed LocalCluster (2 workers x 1 thread by default)."""

    name = "dask-dataframe"

    def __init__(self, paths: Mapping[str, str], options: Mapping[str, Any] | None = None):
        super().__init__(paths, options)
        try:
            import dask.dataframe as dd
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise EngineUnavailable("dask[distributed] is not installed") from exc
        from benchmarks.tpch import dask_queries

        # One line per shuffle from distributed's shuffle plugin drowns the report.
        logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
        cluster_options = {"n_workers": 2, "threads_per_worker": 1, "dashboard_address": None}
        cluster_options.update(self.options)
        self._cluster = LocalCluster(**cluster_options)
        self._client = Client(self._cluster)
        self._dd = dd
        self._queries = dask_queries.QUERIES
        self._unsupported = dask_queries.UNSUPPORTED

    def execute(self, qnum: int) -> pa.Table:
        if qnum in self._unsupported:
            raise QueryUnsupported(self._unsupported[qnum])
        dd = self._dd

        def get_table(name: str) -> Any:
            return dd.read_parquet(self.paths[name], split_row_groups="adaptive", blocksize="32MiB")

        frame = self._queries[qnum](get_table)
        result = frame.compute() if hasattr(frame, "compute") else frame
        return pa.Table.from_pandas(result, preserve_index=False)

    def close(self) -> None:
        self._client.close()
        self._cluster.close()


PEERS: dict[str, type[Engine]] = {
    "duckdb": DuckDBEngine,
    "polars": PolarsEngine,
    "dask-dataframe": DaskDataFrameEngine,
}
