"""The 22 TPC-H queries written with spillframe's (Daft-compatible) DataFrame API.

Each ``qN(get_table)`` takes a callable mapping a table name to a DataFrame and
returns the lazy result. The functions use only names spillframe shares with Daft
0.7 (string and date functions as expression methods, ``functions.when`` for CASE
WHEN: Daft 0.7 has no ``.str``/``.dt`` namespaces and no ``if_else``), and take
``col``/``lit``/``functions`` from the package the tables come from, so the same code
runs on spillframe and on Daft (``import daft``): the benchmark uses the latter as
a peer. Parameters are the TPC-H validation values, as in :mod:`benchmarks.tpch.sql`.

Conventions: each query projects the columns it needs before joining, and only
left-side join keys are used after a join (engines differ on whether they keep
the right-side key).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from datetime import date
from types import ModuleType
from typing import Any

DataFrame = Any
GetTable = Callable[[str], DataFrame]


def api_of(df: DataFrame) -> ModuleType:
    """Return the top-level package a DataFrame comes from (``spillframe`` or ``daft``)."""
    return sys.modules[type(df).__module__.split(".")[0]]


def make_get_table(api: ModuleType, paths: Mapping[str, str]) -> GetTable:
    """Return ``get_table(name)`` reading ``paths[name]`` with ``api.read_parquet``.

    Parameters
    ----------
    api : module
        ``spillframe`` or ``daft``.
    paths : mapping
        ``{table: parquet path}``, e.g. from :func:`benchmarks.tpch.datagen.table_paths`.
    """

    def get_table(name: str) -> DataFrame:
        return api.read_parquet(paths[name])

    return get_table


def _revenue(col: Callable[[str], Any]) -> Any:
    """Discounted price, ``l_extendedprice * (1 - l_discount)``."""
    return col("l_extendedprice") * (1 - col("l_discount"))


def q1(get_table: GetTable) -> DataFrame:
    """Pricing summary report."""
    lineitem = get_table("lineitem")
    col, lit = api_of(lineitem).col, api_of(lineitem).lit
    disc_price = _revenue(col)
    charge = disc_price * (1 + col("l_tax"))
    return (
        lineitem.where(col("l_shipdate") <= lit(date(1998, 9, 2)))
        .groupby("l_returnflag", "l_linestatus")
        .agg(
            col("l_quantity").sum().alias("sum_qty"),
            col("l_extendedprice").sum().alias("sum_base_price"),
            disc_price.sum().alias("sum_disc_price"),
            charge.sum().alias("sum_charge"),
            col("l_quantity").mean().alias("avg_qty"),
            col("l_extendedprice").mean().alias("avg_price"),
            col("l_discount").mean().alias("avg_disc"),
            col("l_orderkey").count().alias("count_order"),
        )
        .sort(["l_returnflag", "l_linestatus"])
    )


def _europe_suppliers(get_table: GetTable, col: Callable[[str], Any]) -> DataFrame:
    region = get_table("region").where(col("r_name") == "EUROPE").select("r_regionkey")
    nation = get_table("nation").select("n_nationkey", "n_name", "n_regionkey")
    supplier = get_table("supplier").select(
        "s_suppkey", "s_name", "s_address", "s_nationkey", "s_phone", "s_acctbal", "s_comment"
    )
    return (
        supplier.join(nation, left_on="s_nationkey", right_on="n_nationkey")
        .join(region, left_on="n_regionkey", right_on="r_regionkey")
        .select("s_suppkey", "s_name", "s_address", "s_phone", "s_acctbal", "s_comment", "n_name")
    )


def q2(get_table: GetTable) -> DataFrame:
    """Minimum cost supplier."""
    part = get_table("part")
    col = api_of(part).col
    brass = part.where((col("p_size") == 15) & col("p_type").endswith("BRASS")).select(
        "p_partkey", "p_mfgr"
    )
    partsupp = get_table("partsupp").select("ps_partkey", "ps_suppkey", "ps_supplycost")
    offers = partsupp.join(brass, left_on="ps_partkey", right_on="p_partkey").join(
        _europe_suppliers(get_table, col), left_on="ps_suppkey", right_on="s_suppkey"
    )
    min_cost = (
        offers.groupby("ps_partkey")
        .agg(col("ps_supplycost").min().alias("min_supplycost"))
        .select(col("ps_partkey").alias("mc_partkey"), "min_supplycost")
    )
    return (
        offers.join(min_cost, left_on="ps_partkey", right_on="mc_partkey")
        .where(col("ps_supplycost") == col("min_supplycost"))
        .select(
            "s_acctbal",
            "s_name",
            "n_name",
            col("ps_partkey").alias("p_partkey"),
            "p_mfgr",
            "s_address",
            "s_phone",
            "s_comment",
        )
        .sort(["s_acctbal", "n_name", "s_name", "p_partkey"], desc=[True, False, False, False])
        .limit(100)
    )


def q3(get_table: GetTable) -> DataFrame:
    """Shipping priority."""
    customer = get_table("customer")
    col, lit = api_of(customer).col, api_of(customer).lit
    cutoff = lit(date(1995, 3, 15))
    customer = customer.where(col("c_mktsegment") == "BUILDING").select("c_custkey")
    orders = (
        get_table("orders")
        .where(col("o_orderdate") < cutoff)
        .select("o_orderkey", "o_custkey", "o_orderdate", "o_shippriority")
    )
    lineitem = (
        get_table("lineitem")
        .where(col("l_shipdate") > cutoff)
        .select("l_orderkey", "l_extendedprice", "l_discount")
    )
    return (
        lineitem.join(orders, left_on="l_orderkey", right_on="o_orderkey")
        .join(customer, left_on="o_custkey", right_on="c_custkey")
        .with_column("volume", _revenue(col))
        .groupby("l_orderkey", "o_orderdate", "o_shippriority")
        .agg(col("volume").sum().alias("revenue"))
        .sort(["revenue", "o_orderdate"], desc=[True, False])
        .limit(10)
        .select("l_orderkey", "revenue", "o_orderdate", "o_shippriority")
    )


def q4(get_table: GetTable) -> DataFrame:
    """Order priority checking."""
    orders = get_table("orders")
    col, lit = api_of(orders).col, api_of(orders).lit
    orders = orders.where(
        (col("o_orderdate") >= lit(date(1993, 7, 1)))
        & (col("o_orderdate") < lit(date(1993, 10, 1)))
    ).select("o_orderkey", "o_orderpriority")
    late = (
        get_table("lineitem").where(col("l_commitdate") < col("l_receiptdate")).select("l_orderkey")
    )
    return (
        orders.join(late, left_on="o_orderkey", right_on="l_orderkey", how="semi")
        .groupby("o_orderpriority")
        .agg(col("o_orderkey").count().alias("order_count"))
        .sort("o_orderpriority")
    )


def q5(get_table: GetTable) -> DataFrame:
    """Local supplier volume."""
    region = get_table("region")
    col, lit = api_of(region).col, api_of(region).lit
    region = region.where(col("r_name") == "ASIA").select("r_regionkey")
    nation = get_table("nation").select("n_nationkey", "n_name", "n_regionkey")
    suppliers = (
        get_table("supplier")
        .select("s_suppkey", "s_nationkey")
        .join(nation, left_on="s_nationkey", right_on="n_nationkey")
        .join(region, left_on="n_regionkey", right_on="r_regionkey")
        .select("s_suppkey", "s_nationkey", "n_name")
    )
    orders = (
        get_table("orders")
        .where(
            (col("o_orderdate") >= lit(date(1994, 1, 1)))
            & (col("o_orderdate") < lit(date(1995, 1, 1)))
        )
        .select("o_orderkey", "o_custkey")
    )
    customer = get_table("customer").select("c_custkey", "c_nationkey")
    lineitem = get_table("lineitem").select(
        "l_orderkey", "l_suppkey", "l_extendedprice", "l_discount"
    )
    return (
        lineitem.join(orders, left_on="l_orderkey", right_on="o_orderkey")
        .join(customer, left_on="o_custkey", right_on="c_custkey")
        .join(
            suppliers, left_on=["l_suppkey", "c_nationkey"], right_on=["s_suppkey", "s_nationkey"]
        )
        .with_column("volume", _revenue(col))
        .groupby("n_name")
        .agg(col("volume").sum().alias("revenue"))
        .sort("revenue", desc=True)
    )


def q6(get_table: GetTable) -> DataFrame:
    """Forecasting revenue change."""
    lineitem = get_table("lineitem")
    col, lit = api_of(lineitem).col, api_of(lineitem).lit
    return lineitem.where(
        (col("l_shipdate") >= lit(date(1994, 1, 1)))
        & (col("l_shipdate") < lit(date(1995, 1, 1)))
        & col("l_discount").between(0.05, 0.07)
        & (col("l_quantity") < 24)
    ).agg((col("l_extendedprice") * col("l_discount")).sum().alias("revenue"))


def _nation_names(get_table: GetTable, col: Callable[[str], Any], names: list[str]) -> DataFrame:
    nation = get_table("nation")
    return nation.where(col("n_name").is_in(names)).select("n_nationkey", "n_name")


def q7(get_table: GetTable) -> DataFrame:
    """Volume shipping."""
    lineitem = get_table("lineitem")
    col, lit = api_of(lineitem).col, api_of(lineitem).lit
    nations = _nation_names(get_table, col, ["FRANCE", "GERMANY"])
    suppliers = (
        get_table("supplier")
        .select("s_suppkey", "s_nationkey")
        .join(nations, left_on="s_nationkey", right_on="n_nationkey")
        .select("s_suppkey", col("n_name").alias("supp_nation"))
    )
    customers = (
        get_table("customer")
        .select("c_custkey", "c_nationkey")
        .join(nations, left_on="c_nationkey", right_on="n_nationkey")
        .select("c_custkey", col("n_name").alias("cust_nation"))
    )
    orders = get_table("orders").select("o_orderkey", "o_custkey")
    lineitem = lineitem.where(
        col("l_shipdate").between(lit(date(1995, 1, 1)), lit(date(1996, 12, 31)))
    ).select("l_orderkey", "l_suppkey", "l_shipdate", "l_extendedprice", "l_discount")
    return (
        lineitem.join(suppliers, left_on="l_suppkey", right_on="s_suppkey")
        .join(orders, left_on="l_orderkey", right_on="o_orderkey")
        .join(customers, left_on="o_custkey", right_on="c_custkey")
        .where(col("supp_nation") != col("cust_nation"))
        .select(
            "supp_nation",
            "cust_nation",
            col("l_shipdate").year().alias("l_year"),
            _revenue(col).alias("volume"),
        )
        .groupby("supp_nation", "cust_nation", "l_year")
        .agg(col("volume").sum().alias("revenue"))
        .sort(["supp_nation", "cust_nation", "l_year"])
    )


def _american_customers(get_table: GetTable, col: Callable[[str], Any]) -> DataFrame:
    region = get_table("region").where(col("r_name") == "AMERICA").select("r_regionkey")
    nation = get_table("nation").select("n_nationkey", "n_regionkey")
    return (
        get_table("customer")
        .select("c_custkey", "c_nationkey")
        .join(nation, left_on="c_nationkey", right_on="n_nationkey")
        .join(region, left_on="n_regionkey", right_on="r_regionkey")
        .select("c_custkey")
    )


def q8(get_table: GetTable) -> DataFrame:
    """National market share."""
    lineitem = get_table("lineitem")
    api = api_of(lineitem)
    col, lit, when = api.col, api.lit, api.functions.when
    part = get_table("part").where(col("p_type") == "ECONOMY ANODIZED STEEL").select("p_partkey")
    orders = (
        get_table("orders")
        .where(col("o_orderdate").between(lit(date(1995, 1, 1)), lit(date(1996, 12, 31))))
        .select("o_orderkey", "o_custkey", "o_orderdate")
    )
    suppliers = (
        get_table("supplier")
        .select("s_suppkey", "s_nationkey")
        .join(
            get_table("nation").select("n_nationkey", "n_name"),
            left_on="s_nationkey",
            right_on="n_nationkey",
        )
        .select("s_suppkey", col("n_name").alias("nation"))
    )
    volume = col("volume")
    return (
        lineitem.select("l_orderkey", "l_partkey", "l_suppkey", "l_extendedprice", "l_discount")
        .join(part, left_on="l_partkey", right_on="p_partkey")
        .join(orders, left_on="l_orderkey", right_on="o_orderkey")
        .join(_american_customers(get_table, col), left_on="o_custkey", right_on="c_custkey")
        .join(suppliers, left_on="l_suppkey", right_on="s_suppkey")
        .select(col("o_orderdate").year().alias("o_year"), _revenue(col).alias("volume"), "nation")
        .with_column(
            "brazil_volume", when(col("nation") == "BRAZIL", then=volume).otherwise(lit(0.0))
        )
        .groupby("o_year")
        .agg(col("brazil_volume").sum().alias("brazil"), volume.sum().alias("total"))
        .select("o_year", (col("brazil") / col("total")).alias("mkt_share"))
        .sort("o_year")
    )


def q9(get_table: GetTable) -> DataFrame:
    """Product type profit measure."""
    lineitem = get_table("lineitem")
    col = api_of(lineitem).col
    part = get_table("part").where(col("p_name").contains("green")).select("p_partkey")
    partsupp = get_table("partsupp").select("ps_partkey", "ps_suppkey", "ps_supplycost")
    suppliers = (
        get_table("supplier")
        .select("s_suppkey", "s_nationkey")
        .join(
            get_table("nation").select("n_nationkey", "n_name"),
            left_on="s_nationkey",
            right_on="n_nationkey",
        )
        .select("s_suppkey", "n_name")
    )
    orders = get_table("orders").select("o_orderkey", "o_orderdate")
    amount = _revenue(col) - col("ps_supplycost") * col("l_quantity")
    return (
        lineitem.select(
            "l_orderkey", "l_partkey", "l_suppkey", "l_quantity", "l_extendedprice", "l_discount"
        )
        .join(part, left_on="l_partkey", right_on="p_partkey")
        .join(partsupp, left_on=["l_partkey", "l_suppkey"], right_on=["ps_partkey", "ps_suppkey"])
        .join(suppliers, left_on="l_suppkey", right_on="s_suppkey")
        .join(orders, left_on="l_orderkey", right_on="o_orderkey")
        .select(
            col("n_name").alias("nation"),
            col("o_orderdate").year().alias("o_year"),
            amount.alias("amount"),
        )
        .groupby("nation", "o_year")
        .agg(col("amount").sum().alias("sum_profit"))
        .sort(["nation", "o_year"], desc=[False, True])
    )


def q10(get_table: GetTable) -> DataFrame:
    """Returned item reporting."""
    lineitem = get_table("lineitem")
    col, lit = api_of(lineitem).col, api_of(lineitem).lit
    orders = (
        get_table("orders")
        .where(
            (col("o_orderdate") >= lit(date(1993, 10, 1)))
            & (col("o_orderdate") < lit(date(1994, 1, 1)))
        )
        .select("o_orderkey", "o_custkey")
    )
    customer = get_table("customer").select(
        "c_custkey", "c_name", "c_acctbal", "c_phone", "c_address", "c_comment", "c_nationkey"
    )
    nation = get_table("nation").select("n_nationkey", "n_name")
    keys = ["o_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address", "c_comment"]
    return (
        lineitem.where(col("l_returnflag") == "R")
        .select("l_orderkey", "l_extendedprice", "l_discount")
        .join(orders, left_on="l_orderkey", right_on="o_orderkey")
        .join(customer, left_on="o_custkey", right_on="c_custkey")
        .join(nation, left_on="c_nationkey", right_on="n_nationkey")
        .with_column("volume", _revenue(col))
        .groupby(*keys)
        .agg(col("volume").sum().alias("revenue"))
        .sort("revenue", desc=True)
        .limit(20)
        .select(
            col("o_custkey").alias("c_custkey"),
            "c_name",
            "revenue",
            "c_acctbal",
            "n_name",
            "c_address",
            "c_phone",
            "c_comment",
        )
    )


def q11(get_table: GetTable) -> DataFrame:
    """Important stock identification."""
    partsupp = get_table("partsupp")
    col = api_of(partsupp).col
    suppliers = (
        get_table("supplier")
        .select("s_suppkey", "s_nationkey")
        .join(
            _nation_names(get_table, col, ["GERMANY"]),
            left_on="s_nationkey",
            right_on="n_nationkey",
        )
        .select("s_suppkey")
    )
    stock = partsupp.join(suppliers, left_on="ps_suppkey", right_on="s_suppkey").select(
        "ps_partkey", (col("ps_supplycost") * col("ps_availqty")).alias("stock_value")
    )
    threshold = stock.agg(col("stock_value").sum().alias("total")).select(
        (col("total") * 0.0001).alias("threshold")
    )
    return (
        stock.groupby("ps_partkey")
        .agg(col("stock_value").sum().alias("value"))
        .join(threshold, how="cross")
        .where(col("value") > col("threshold"))
        .select("ps_partkey", "value")
        .sort("value", desc=True)
    )


def q12(get_table: GetTable) -> DataFrame:
    """Shipping modes and order priority."""
    lineitem = get_table("lineitem")
    api = api_of(lineitem)
    col, lit, when = api.col, api.lit, api.functions.when
    lineitem = lineitem.where(
        col("l_shipmode").is_in(["MAIL", "SHIP"])
        & (col("l_commitdate") < col("l_receiptdate"))
        & (col("l_shipdate") < col("l_commitdate"))
        & (col("l_receiptdate") >= lit(date(1994, 1, 1)))
        & (col("l_receiptdate") < lit(date(1995, 1, 1)))
    ).select("l_orderkey", "l_shipmode")
    orders = get_table("orders").select("o_orderkey", "o_orderpriority")
    is_high = col("o_orderpriority").is_in(["1-URGENT", "2-HIGH"])
    return (
        lineitem.join(orders, left_on="l_orderkey", right_on="o_orderkey")
        .with_columns(
            {
                "high": when(is_high, then=lit(1)).otherwise(lit(0)),
                "low": when(is_high, then=lit(0)).otherwise(lit(1)),
            }
        )
        .groupby("l_shipmode")
        .agg(col("high").sum().alias("high_line_count"), col("low").sum().alias("low_line_count"))
        .sort("l_shipmode")
    )


def q13(get_table: GetTable) -> DataFrame:
    """Customer distribution."""
    customer = get_table("customer").select("c_custkey")
    col = api_of(customer).col
    orders = (
        get_table("orders")
        .where(~col("o_comment").regexp(".*special.*requests.*"))
        .select("o_orderkey", "o_custkey")
    )
    return (
        customer.join(orders, left_on="c_custkey", right_on="o_custkey", how="left")
        .groupby("c_custkey")
        .agg(col("o_orderkey").count().alias("c_count"))
        .groupby("c_count")
        .agg(col("c_custkey").count().alias("custdist"))
        .sort(["custdist", "c_count"], desc=[True, True])
    )


def q14(get_table: GetTable) -> DataFrame:
    """Promotion effect."""
    lineitem = get_table("lineitem")
    api = api_of(lineitem)
    col, lit, when = api.col, api.lit, api.functions.when
    part = get_table("part").select("p_partkey", "p_type")
    return (
        lineitem.where(
            (col("l_shipdate") >= lit(date(1995, 9, 1)))
            & (col("l_shipdate") < lit(date(1995, 10, 1)))
        )
        .select("l_partkey", _revenue(col).alias("volume"))
        .join(part, left_on="l_partkey", right_on="p_partkey")
        .with_column(
            "promo",
            when(col("p_type").startswith("PROMO"), then=col("volume")).otherwise(lit(0.0)),
        )
        .agg(col("promo").sum().alias("promo"), col("volume").sum().alias("total"))
        .select((col("promo") * 100.0 / col("total")).alias("promo_revenue"))
    )


def q15(get_table: GetTable) -> DataFrame:
    """Top supplier."""
    lineitem = get_table("lineitem")
    col, lit = api_of(lineitem).col, api_of(lineitem).lit
    revenue = (
        lineitem.where(
            (col("l_shipdate") >= lit(date(1996, 1, 1)))
            & (col("l_shipdate") < lit(date(1996, 4, 1)))
        )
        .with_column("volume", _revenue(col))
        .groupby("l_suppkey")
        .agg(col("volume").sum().alias("total_revenue"))
    )
    top = revenue.agg(col("total_revenue").max().alias("max_revenue"))
    supplier = get_table("supplier").select("s_suppkey", "s_name", "s_address", "s_phone")
    return (
        supplier.join(revenue, left_on="s_suppkey", right_on="l_suppkey")
        .join(top, how="cross")
        # Not ==: an engine that computes `revenue` once per use (Daft 0.7) sums the floats
        # in another order, and the two maxima differ in the last bits (1772627.2087 vs
        # 1772627.2086999998 at SF1). Exact sums are multiples of 0.0001 (cents times
        # two-decimal discounts), so two different ones are at least 0.0001 apart.
        .where(col("max_revenue") - col("total_revenue") < 0.00005)
        .select("s_suppkey", "s_name", "s_address", "s_phone", "total_revenue")
        .sort("s_suppkey")
    )


def q16(get_table: GetTable) -> DataFrame:
    """Parts/supplier relationship."""
    partsupp = get_table("partsupp").select("ps_partkey", "ps_suppkey")
    col = api_of(partsupp).col
    complaints = (
        get_table("supplier")
        .where(col("s_comment").regexp(".*Customer.*Complaints.*"))
        .select("s_suppkey")
    )
    part = (
        get_table("part")
        .where(
            (col("p_brand") != "Brand#45")
            & ~col("p_type").startswith("MEDIUM POLISHED")
            & col("p_size").is_in([49, 14, 23, 45, 19, 3, 36, 9])
        )
        .select("p_partkey", "p_brand", "p_type", "p_size")
    )
    return (
        partsupp.join(complaints, left_on="ps_suppkey", right_on="s_suppkey", how="anti")
        .join(part, left_on="ps_partkey", right_on="p_partkey")
        .groupby("p_brand", "p_type", "p_size")
        .agg(col("ps_suppkey").count_distinct().alias("supplier_cnt"))
        .sort(["supplier_cnt", "p_brand", "p_type", "p_size"], desc=[True, False, False, False])
    )


def q17(get_table: GetTable) -> DataFrame:
    """Small-quantity-order revenue."""
    lineitem = get_table("lineitem").select("l_partkey", "l_quantity", "l_extendedprice")
    col = api_of(lineitem).col
    part = (
        get_table("part")
        .where((col("p_brand") == "Brand#23") & (col("p_container") == "MED BOX"))
        .select("p_partkey")
    )
    items = lineitem.join(part, left_on="l_partkey", right_on="p_partkey")
    limits = (
        items.groupby("l_partkey")
        .agg(col("l_quantity").mean().alias("avg_quantity"))
        .select(
            col("l_partkey").alias("lim_partkey"), (col("avg_quantity") * 0.2).alias("max_quantity")
        )
    )
    return (
        items.join(limits, left_on="l_partkey", right_on="lim_partkey")
        .where(col("l_quantity") < col("max_quantity"))
        .agg(col("l_extendedprice").sum().alias("total"))
        .select((col("total") / 7.0).alias("avg_yearly"))
    )


def q18(get_table: GetTable) -> DataFrame:
    """Large volume customer."""
    lineitem = get_table("lineitem").select("l_orderkey", "l_quantity")
    col = api_of(lineitem).col
    large = (
        lineitem.groupby("l_orderkey")
        .agg(col("l_quantity").sum().alias("total_quantity"))
        .where(col("total_quantity") > 300)
        .select("l_orderkey")
    )
    orders = get_table("orders").select("o_orderkey", "o_custkey", "o_orderdate", "o_totalprice")
    customer = get_table("customer").select("c_custkey", "c_name")
    keys = ["c_name", "o_custkey", "o_orderkey", "o_orderdate", "o_totalprice"]
    return (
        orders.join(large, left_on="o_orderkey", right_on="l_orderkey", how="semi")
        .join(lineitem, left_on="o_orderkey", right_on="l_orderkey")
        .join(customer, left_on="o_custkey", right_on="c_custkey")
        .groupby(*keys)
        .agg(col("l_quantity").sum().alias("sum_qty"))
        .sort(["o_totalprice", "o_orderdate"], desc=[True, False])
        .limit(100)
        .select(
            "c_name",
            col("o_custkey").alias("c_custkey"),
            "o_orderkey",
            "o_orderdate",
            "o_totalprice",
            "sum_qty",
        )
    )


def _q19_branch(
    col: Callable[[str], Any], brand: str, containers: list[str], qty: int, max_size: int
) -> Any:
    return (
        (col("p_brand") == brand)
        & col("p_container").is_in(containers)
        & col("l_quantity").between(qty, qty + 10)
        & col("p_size").between(1, max_size)
    )


def q19(get_table: GetTable) -> DataFrame:
    """Discounted revenue."""
    lineitem = get_table("lineitem")
    col = api_of(lineitem).col
    lineitem = lineitem.where(
        col("l_shipmode").is_in(["AIR", "AIR REG"]) & (col("l_shipinstruct") == "DELIVER IN PERSON")
    ).select("l_partkey", "l_quantity", "l_extendedprice", "l_discount")
    part = get_table("part").select("p_partkey", "p_brand", "p_size", "p_container")
    return (
        lineitem.join(part, left_on="l_partkey", right_on="p_partkey")
        .where(
            _q19_branch(col, "Brand#12", ["SM CASE", "SM BOX", "SM PACK", "SM PKG"], 1, 5)
            | _q19_branch(col, "Brand#23", ["MED BAG", "MED BOX", "MED PKG", "MED PACK"], 10, 10)
            | _q19_branch(col, "Brand#34", ["LG CASE", "LG BOX", "LG PACK", "LG PKG"], 20, 15)
        )
        .agg(_revenue(col).sum().alias("revenue"))
    )


def q20(get_table: GetTable) -> DataFrame:
    """Potential part promotion."""
    lineitem = get_table("lineitem")
    col, lit = api_of(lineitem).col, api_of(lineitem).lit
    forest = get_table("part").where(col("p_name").startswith("forest")).select("p_partkey")
    shipped = (
        lineitem.where(
            (col("l_shipdate") >= lit(date(1994, 1, 1)))
            & (col("l_shipdate") < lit(date(1995, 1, 1)))
        )
        .groupby("l_partkey", "l_suppkey")
        .agg(col("l_quantity").sum().alias("sum_quantity"))
        .select("l_partkey", "l_suppkey", (col("sum_quantity") * 0.5).alias("half_quantity"))
    )
    excess = (
        get_table("partsupp")
        .select("ps_partkey", "ps_suppkey", "ps_availqty")
        .join(forest, left_on="ps_partkey", right_on="p_partkey", how="semi")
        .join(shipped, left_on=["ps_partkey", "ps_suppkey"], right_on=["l_partkey", "l_suppkey"])
        .where(col("ps_availqty") > col("half_quantity"))
        .select("ps_suppkey")
    )
    return (
        get_table("supplier")
        .select("s_suppkey", "s_name", "s_address", "s_nationkey")
        .join(
            _nation_names(get_table, col, ["CANADA"]), left_on="s_nationkey", right_on="n_nationkey"
        )
        .join(excess, left_on="s_suppkey", right_on="ps_suppkey", how="semi")
        .select("s_name", "s_address")
        .sort("s_name")
    )


def _orders_by_supplier_count(
    lines: DataFrame, col: Callable[[str], Any], single: bool
) -> DataFrame:
    """Order keys whose lines come from one supplier (``single``) or from several.

    ``min(l_suppkey) == max(l_suppkey)`` tells one distinct supplier from several
    without a distinct count.
    """
    stats = lines.groupby("l_orderkey").agg(
        col("l_suppkey").min().alias("min_supp"), col("l_suppkey").max().alias("max_supp")
    )
    same = col("min_supp") == col("max_supp")
    return stats.where(same if single else ~same).select("l_orderkey")


def q21(get_table: GetTable) -> DataFrame:
    """Suppliers who kept orders waiting.

    An order qualifies when it has lines from more than one supplier and exactly one
    supplier delivered late: the EXISTS / NOT EXISTS pair of the SQL text.
    """
    lineitem = get_table("lineitem").select(
        "l_orderkey", "l_suppkey", "l_receiptdate", "l_commitdate"
    )
    col = api_of(lineitem).col
    late = lineitem.where(col("l_receiptdate") > col("l_commitdate")).select(
        "l_orderkey", "l_suppkey"
    )
    suppliers = (
        get_table("supplier")
        .select("s_suppkey", "s_name", "s_nationkey")
        .join(
            _nation_names(get_table, col, ["SAUDI ARABIA"]),
            left_on="s_nationkey",
            right_on="n_nationkey",
        )
        .select("s_suppkey", "s_name")
    )
    finished = get_table("orders").where(col("o_orderstatus") == "F").select("o_orderkey")
    return (
        late.join(suppliers, left_on="l_suppkey", right_on="s_suppkey")
        .join(finished, left_on="l_orderkey", right_on="o_orderkey", how="semi")
        .join(_orders_by_supplier_count(lineitem, col, single=False), on="l_orderkey", how="semi")
        .join(_orders_by_supplier_count(late, col, single=True), on="l_orderkey", how="semi")
        .groupby("s_name")
        .agg(col("l_orderkey").count().alias("numwait"))
        .sort(["numwait", "s_name"], desc=[True, False])
        .limit(100)
    )


def q22(get_table: GetTable) -> DataFrame:
    """Global sales opportunity."""
    customer = get_table("customer")
    col = api_of(customer).col
    codes = ["13", "31", "23", "29", "30", "18", "17"]
    candidates = customer.select(
        "c_custkey", col("c_phone").substr(0, 2).alias("cntrycode"), "c_acctbal"
    ).where(col("cntrycode").is_in(codes))
    average = candidates.where(col("c_acctbal") > 0.0).agg(
        col("c_acctbal").mean().alias("avg_acctbal")
    )
    orders = get_table("orders").select("o_custkey")
    return (
        candidates.join(orders, left_on="c_custkey", right_on="o_custkey", how="anti")
        .join(average, how="cross")
        .where(col("c_acctbal") > col("avg_acctbal"))
        .groupby("cntrycode")
        .agg(col("c_custkey").count().alias("numcust"), col("c_acctbal").sum().alias("totacctbal"))
        .sort("cntrycode")
    )


QUERIES: dict[int, Callable[[GetTable], DataFrame]] = {n: globals()[f"q{n}"] for n in range(1, 23)}
