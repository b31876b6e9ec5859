"""The 22 TPC-H queries in polars' lazy API (the polars peer).

Each ``qN(get_table)`` takes a callable returning a ``LazyFrame`` per table and
returns the lazy result; the engine collects it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl

GetTable = Callable[[str], pl.LazyFrame]


def _volume() -> pl.Expr:
    return pl.col("l_extendedprice") * (1 - pl.col("l_discount"))


def _in_range(name: str, lo: date, hi: date) -> pl.Expr:
    """``lo <= name < hi``."""
    return (pl.col(name) >= lo) & (pl.col(name) < hi)


def q1(t: GetTable) -> pl.LazyFrame:
    volume = _volume()
    return (
        t("lineitem")
        .filter(pl.col("l_shipdate") <= date(1998, 9, 2))
        .group_by("l_returnflag", "l_linestatus")
        .agg(
            pl.col("l_quantity").sum().alias("sum_qty"),
            pl.col("l_extendedprice").sum().alias("sum_base_price"),
            volume.sum().alias("sum_disc_price"),
            (volume * (1 + pl.col("l_tax"))).sum().alias("sum_charge"),
            pl.col("l_quantity").mean().alias("avg_qty"),
            pl.col("l_extendedprice").mean().alias("avg_price"),
            pl.col("l_discount").mean().alias("avg_disc"),
            pl.len().alias("count_order"),
        )
        .sort("l_returnflag", "l_linestatus")
    )


def q2(t: GetTable) -> pl.LazyFrame:
    europe = (
        t("supplier")
        .join(t("nation"), left_on="s_nationkey", right_on="n_nationkey")
        .join(
            t("region").filter(pl.col("r_name") == "EUROPE"),
            left_on="n_regionkey",
            right_on="r_regionkey",
        )
    )
    offers = (
        t("part")
        .filter((pl.col("p_size") == 15) & pl.col("p_type").str.ends_with("BRASS"))
        .join(t("partsupp"), left_on="p_partkey", right_on="ps_partkey")
        .join(europe, left_on="ps_suppkey", right_on="s_suppkey")
    )
    return (
        offers.filter(pl.col("ps_supplycost") == pl.col("ps_supplycost").min().over("p_partkey"))
        .select(
            "s_acctbal",
            "s_name",
            "n_name",
            "p_partkey",
            "p_mfgr",
            "s_address",
            "s_phone",
            "s_comment",
        )
        .sort(
            ["s_acctbal", "n_name", "s_name", "p_partkey"], descending=[True, False, False, False]
        )
        .head(100)
    )


def q3(t: GetTable) -> pl.LazyFrame:
    cutoff = date(1995, 3, 15)
    return (
        t("customer")
        .filter(pl.col("c_mktsegment") == "BUILDING")
        .join(
            t("orders").filter(pl.col("o_orderdate") < cutoff),
            left_on="c_custkey",
            right_on="o_custkey",
        )
        .join(
            t("lineitem").filter(pl.col("l_shipdate") > cutoff),
            left_on="o_orderkey",
            right_on="l_orderkey",
        )
        .group_by(pl.col("o_orderkey").alias("l_orderkey"), "o_orderdate", "o_shippriority")
        .agg(_volume().sum().alias("revenue"))
        .select("l_orderkey", "revenue", "o_orderdate", "o_shippriority")
        .sort(["revenue", "o_orderdate"], descending=[True, False])
        .head(10)
    )


def q4(t: GetTable) -> pl.LazyFrame:
    late = t("lineitem").filter(pl.col("l_commitdate") < pl.col("l_receiptdate"))
    return (
        t("orders")
        .filter(_in_range("o_orderdate", date(1993, 7, 1), date(1993, 10, 1)))
        .join(late, left_on="o_orderkey", right_on="l_orderkey", how="semi")
        .group_by("o_orderpriority")
        .agg(pl.len().alias("order_count"))
        .sort("o_orderpriority")
    )


def q5(t: GetTable) -> pl.LazyFrame:
    return (
        t("region")
        .filter(pl.col("r_name") == "ASIA")
        .join(t("nation"), left_on="r_regionkey", right_on="n_regionkey")
        .join(t("customer"), left_on="n_nationkey", right_on="c_nationkey")
        .join(
            t("orders").filter(_in_range("o_orderdate", date(1994, 1, 1), date(1995, 1, 1))),
            left_on="c_custkey",
            right_on="o_custkey",
        )
        .join(t("lineitem"), left_on="o_orderkey", right_on="l_orderkey")
        .join(
            t("supplier"),
            left_on=["l_suppkey", "n_nationkey"],
            right_on=["s_suppkey", "s_nationkey"],
        )
        .group_by("n_name")
        .agg(_volume().sum().alias("revenue"))
        .sort("revenue", descending=True)
    )


def q6(t: GetTable) -> pl.LazyFrame:
    return (
        t("lineitem")
        .filter(
            _in_range("l_shipdate", date(1994, 1, 1), date(1995, 1, 1))
            & pl.col("l_discount").is_between(0.05, 0.07)
            & (pl.col("l_quantity") < 24)
        )
        .select((pl.col("l_extendedprice") * pl.col("l_discount")).sum().alias("revenue"))
    )


def q7(t: GetTable) -> pl.LazyFrame:
    nations = t("nation").filter(pl.col("n_name").is_in(["FRANCE", "GERMANY"]))
    suppliers = (
        t("supplier")
        .join(nations, left_on="s_nationkey", right_on="n_nationkey")
        .select("s_suppkey", pl.col("n_name").alias("supp_nation"))
    )
    customers = (
        t("customer")
        .join(nations, left_on="c_nationkey", right_on="n_nationkey")
        .select("c_custkey", pl.col("n_name").alias("cust_nation"))
    )
    return (
        t("lineitem")
        .filter(pl.col("l_shipdate").is_between(date(1995, 1, 1), date(1996, 12, 31)))
        .join(suppliers, left_on="l_suppkey", right_on="s_suppkey")
        .join(t("orders"), left_on="l_orderkey", right_on="o_orderkey")
        .join(customers, left_on="o_custkey", right_on="c_custkey")
        .filter(pl.col("supp_nation") != pl.col("cust_nation"))
        .group_by("supp_nation", "cust_nation", pl.col("l_shipdate").dt.year().alias("l_year"))
        .agg(_volume().sum().alias("revenue"))
        .sort("supp_nation", "cust_nation", "l_year")
    )


def q8(t: GetTable) -> pl.LazyFrame:
    customers = (
        t("customer")
        .join(t("nation"), left_on="c_nationkey", right_on="n_nationkey")
        .join(
            t("region").filter(pl.col("r_name") == "AMERICA"),
            left_on="n_regionkey",
            right_on="r_regionkey",
        )
        .select("c_custkey")
    )
    suppliers = (
        t("supplier")
        .join(t("nation"), left_on="s_nationkey", right_on="n_nationkey")
        .select("s_suppkey", pl.col("n_name").alias("nation"))
    )
    return (
        t("lineitem")
        .join(
            t("part").filter(pl.col("p_type") == "ECONOMY ANODIZED STEEL"),
            left_on="l_partkey",
            right_on="p_partkey",
        )
        .join(
            t("orders").filter(
                pl.col("o_orderdate").is_between(date(1995, 1, 1), date(1996, 12, 31))
            ),
            left_on="l_orderkey",
            right_on="o_orderkey",
        )
        .join(customers, left_on="o_custkey", right_on="c_custkey")
        .join(suppliers, left_on="l_suppkey", right_on="s_suppkey")
        .with_columns(_volume().alias("volume"), pl.col("o_orderdate").dt.year().alias("o_year"))
        .group_by("o_year")
        .agg(
            (
                pl.when(pl.col("nation") == "BRAZIL").then(pl.col("volume")).otherwise(0.0).sum()
                / pl.col("volume").sum()
            ).alias("mkt_share")
        )
        .sort("o_year")
    )


def q9(t: GetTable) -> pl.LazyFrame:
    return (
        t("part")
        .filter(pl.col("p_name").str.contains("green", literal=True))
        .join(t("lineitem"), left_on="p_partkey", right_on="l_partkey")
        .join(
            t("partsupp"), left_on=["p_partkey", "l_suppkey"], right_on=["ps_partkey", "ps_suppkey"]
        )
        .join(t("supplier"), left_on="l_suppkey", right_on="s_suppkey")
        .join(t("nation"), left_on="s_nationkey", right_on="n_nationkey")
        .join(t("orders"), left_on="l_orderkey", right_on="o_orderkey")
        .group_by(pl.col("n_name").alias("nation"), pl.col("o_orderdate").dt.year().alias("o_year"))
        .agg((_volume() - pl.col("ps_supplycost") * pl.col("l_quantity")).sum().alias("sum_profit"))
        .sort(["nation", "o_year"], descending=[False, True])
    )


def q10(t: GetTable) -> pl.LazyFrame:
    keys = ["c_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address", "c_comment"]
    return (
        t("customer")
        .join(
            t("orders").filter(_in_range("o_orderdate", date(1993, 10, 1), date(1994, 1, 1))),
            left_on="c_custkey",
            right_on="o_custkey",
        )
        .join(
            t("lineitem").filter(pl.col("l_returnflag") == "R"),
            left_on="o_orderkey",
            right_on="l_orderkey",
        )
        .join(t("nation"), left_on="c_nationkey", right_on="n_nationkey")
        .group_by(keys)
        .agg(_volume().sum().alias("revenue"))
        .select(
            "c_custkey",
            "c_name",
            "revenue",
            "c_acctbal",
            "n_name",
            "c_address",
            "c_phone",
            "c_comment",
        )
        .sort("revenue", descending=True)
        .head(20)
    )


def q11(t: GetTable) -> pl.LazyFrame:
    stock = (
        t("partsupp")
        .join(t("supplier"), left_on="ps_suppkey", right_on="s_suppkey")
        .join(
            t("nation").filter(pl.col("n_name") == "GERMANY"),
            left_on="s_nationkey",
            right_on="n_nationkey",
        )
        .select("ps_partkey", (pl.col("ps_supplycost") * pl.col("ps_availqty")).alias("v"))
    )
    return (
        stock.group_by("ps_partkey")
        .agg(pl.col("v").sum().alias("value"))
        .join(stock.select((pl.col("v").sum() * 0.0001).alias("threshold")), how="cross")
        .filter(pl.col("value") > pl.col("threshold"))
        .select("ps_partkey", "value")
        .sort("value", descending=True)
    )


def q12(t: GetTable) -> pl.LazyFrame:
    high = pl.col("o_orderpriority").is_in(["1-URGENT", "2-HIGH"])
    return (
        t("orders")
        .join(
            t("lineitem").filter(
                pl.col("l_shipmode").is_in(["MAIL", "SHIP"])
                & (pl.col("l_commitdate") < pl.col("l_receiptdate"))
                & (pl.col("l_shipdate") < pl.col("l_commitdate"))
                & _in_range("l_receiptdate", date(1994, 1, 1), date(1995, 1, 1))
            ),
            left_on="o_orderkey",
            right_on="l_orderkey",
        )
        .group_by("l_shipmode")
        .agg(high.sum().alias("high_line_count"), (~high).sum().alias("low_line_count"))
        .sort("l_shipmode")
    )


def q13(t: GetTable) -> pl.LazyFrame:
    orders = t("orders").filter(~pl.col("o_comment").str.contains("special.*requests"))
    return (
        t("customer")
        .join(orders, left_on="c_custkey", right_on="o_custkey", how="left")
        .group_by("c_custkey")
        .agg(pl.col("o_orderkey").count().alias("c_count"))
        .group_by("c_count")
        .agg(pl.len().alias("custdist"))
        .sort(["custdist", "c_count"], descending=[True, True])
    )


def q14(t: GetTable) -> pl.LazyFrame:
    volume = _volume()
    promo = pl.when(pl.col("p_type").str.starts_with("PROMO")).then(volume).otherwise(0.0)
    return (
        t("lineitem")
        .filter(_in_range("l_shipdate", date(1995, 9, 1), date(1995, 10, 1)))
        .join(t("part"), left_on="l_partkey", right_on="p_partkey")
        .select((100.0 * promo.sum() / volume.sum()).alias("promo_revenue"))
    )


def q15(t: GetTable) -> pl.LazyFrame:
    revenue = (
        t("lineitem")
        .filter(_in_range("l_shipdate", date(1996, 1, 1), date(1996, 4, 1)))
        .group_by("l_suppkey")
        .agg(_volume().sum().alias("total_revenue"))
    )
    return (
        t("supplier")
        .join(revenue, left_on="s_suppkey", right_on="l_suppkey")
        .filter(pl.col("total_revenue") == pl.col("total_revenue").max())
        .select("s_suppkey", "s_name", "s_address", "s_phone", "total_revenue")
        .sort("s_suppkey")
    )


def q16(t: GetTable) -> pl.LazyFrame:
    complaints = t("supplier").filter(pl.col("s_comment").str.contains("Customer.*Complaints"))
    return (
        t("part")
        .filter(
            (pl.col("p_brand") != "Brand#45")
            & ~pl.col("p_type").str.starts_with("MEDIUM POLISHED")
            & pl.col("p_size").is_in([49, 14, 23, 45, 19, 3, 36, 9])
        )
        .join(t("partsupp"), left_on="p_partkey", right_on="ps_partkey")
        .join(complaints, left_on="ps_suppkey", right_on="s_suppkey", how="anti")
        .group_by("p_brand", "p_type", "p_size")
        .agg(pl.col("ps_suppkey").n_unique().alias("supplier_cnt"))
        .sort(
            ["supplier_cnt", "p_brand", "p_type", "p_size"], descending=[True, False, False, False]
        )
    )


def q17(t: GetTable) -> pl.LazyFrame:
    items = (
        t("part")
        .filter((pl.col("p_brand") == "Brand#23") & (pl.col("p_container") == "MED BOX"))
        .join(t("lineitem"), left_on="p_partkey", right_on="l_partkey")
    )
    return items.filter(
        pl.col("l_quantity") < 0.2 * pl.col("l_quantity").mean().over("p_partkey")
    ).select((pl.col("l_extendedprice").sum() / 7.0).alias("avg_yearly"))


def q18(t: GetTable) -> pl.LazyFrame:
    large = (
        t("lineitem")
        .group_by("l_orderkey")
        .agg(pl.col("l_quantity").sum().alias("total"))
        .filter(pl.col("total") > 300)
    )
    return (
        t("orders")
        .join(large, left_on="o_orderkey", right_on="l_orderkey", how="semi")
        .join(t("lineitem"), left_on="o_orderkey", right_on="l_orderkey")
        .join(t("customer"), left_on="o_custkey", right_on="c_custkey")
        .group_by(
            "c_name",
            pl.col("o_custkey").alias("c_custkey"),
            "o_orderkey",
            "o_orderdate",
            "o_totalprice",
        )
        .agg(pl.col("l_quantity").sum().alias("sum_qty"))
        .sort(["o_totalprice", "o_orderdate"], descending=[True, False])
        .head(100)
    )


def _q19_branch(brand: str, containers: list[str], qty: int, max_size: int) -> pl.Expr:
    return (
        (pl.col("p_brand") == brand)
        & pl.col("p_container").is_in(containers)
        & pl.col("l_quantity").is_between(qty, qty + 10)
        & pl.col("p_size").is_between(1, max_size)
    )


def q19(t: GetTable) -> pl.LazyFrame:
    return (
        t("lineitem")
        .filter(
            pl.col("l_shipmode").is_in(["AIR", "AIR REG"])
            & (pl.col("l_shipinstruct") == "DELIVER IN PERSON")
        )
        .join(t("part"), left_on="l_partkey", right_on="p_partkey")
        .filter(
            _q19_branch("Brand#12", ["SM CASE", "SM BOX", "SM PACK", "SM PKG"], 1, 5)
            | _q19_branch("Brand#23", ["MED BAG", "MED BOX", "MED PKG", "MED PACK"], 10, 10)
            | _q19_branch("Brand#34", ["LG CASE", "LG BOX", "LG PACK", "LG PKG"], 20, 15)
        )
        .select(_volume().sum().alias("revenue"))
    )


def q20(t: GetTable) -> pl.LazyFrame:
    shipped = (
        t("lineitem")
        .filter(_in_range("l_shipdate", date(1994, 1, 1), date(1995, 1, 1)))
        .group_by("l_partkey", "l_suppkey")
        .agg((0.5 * pl.col("l_quantity").sum()).alias("half_qty"))
    )
    excess = (
        t("partsupp")
        .join(
            t("part").filter(pl.col("p_name").str.starts_with("forest")),
            left_on="ps_partkey",
            right_on="p_partkey",
            how="semi",
        )
        .join(shipped, left_on=["ps_partkey", "ps_suppkey"], right_on=["l_partkey", "l_suppkey"])
        .filter(pl.col("ps_availqty") > pl.col("half_qty"))
    )
    return (
        t("supplier")
        .join(
            t("nation").filter(pl.col("n_name") == "CANADA"),
            left_on="s_nationkey",
            right_on="n_nationkey",
        )
        .join(excess, left_on="s_suppkey", right_on="ps_suppkey", how="semi")
        .select("s_name", "s_address")
        .sort("s_name")
    )


def _orders_by_supplier_count(lines: pl.LazyFrame, single: bool) -> pl.LazyFrame:
    """Order keys with lines from one supplier (``single``) or several (min vs max)."""
    same = pl.col("l_suppkey").min() == pl.col("l_suppkey").max()
    return (
        lines.group_by("l_orderkey")
        .agg(same.alias("same"))
        .filter(pl.col("same") if single else ~pl.col("same"))
    )


def q21(t: GetTable) -> pl.LazyFrame:
    lineitem = t("lineitem")
    late = lineitem.filter(pl.col("l_receiptdate") > pl.col("l_commitdate"))
    return (
        late.join(t("supplier"), left_on="l_suppkey", right_on="s_suppkey")
        .join(
            t("nation").filter(pl.col("n_name") == "SAUDI ARABIA"),
            left_on="s_nationkey",
            right_on="n_nationkey",
        )
        .join(
            t("orders").filter(pl.col("o_orderstatus") == "F"),
            left_on="l_orderkey",
            right_on="o_orderkey",
            how="semi",
        )
        .join(_orders_by_supplier_count(lineitem, False), on="l_orderkey", how="semi")
        .join(_orders_by_supplier_count(late, True), on="l_orderkey", how="semi")
        .group_by("s_name")
        .agg(pl.len().alias("numwait"))
        .sort(["numwait", "s_name"], descending=[True, False])
        .head(100)
    )


def q22(t: GetTable) -> pl.LazyFrame:
    codes = ["13", "31", "23", "29", "30", "18", "17"]
    candidates = (
        t("customer")
        .with_columns(pl.col("c_phone").str.slice(0, 2).alias("cntrycode"))
        .filter(pl.col("cntrycode").is_in(codes))
    )
    average = candidates.filter(pl.col("c_acctbal") > 0.0).select(
        pl.col("c_acctbal").mean().alias("avg_acctbal")
    )
    return (
        candidates.join(t("orders"), left_on="c_custkey", right_on="o_custkey", how="anti")
        .join(average, how="cross")
        .filter(pl.col("c_acctbal") > pl.col("avg_acctbal"))
        .group_by("cntrycode")
        .agg(pl.len().alias("numcust"), pl.col("c_acctbal").sum().alias("totacctbal"))
        .sort("cntrycode")
    )


QUERIES: dict[int, Callable[[GetTable], Any]] = {n: globals()[f"q{n}"] for n in range(1, 23)}
