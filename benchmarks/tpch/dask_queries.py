"""The TPC-H queries in dask.dataframe (the dask-dataframe peer).

Each ``qN(get_table)`` takes a callable returning a lazy dask DataFrame per table. The
distributed part (filters, joins, aggregations) stays in dask; the small aggregated
result is computed and finished in pandas (final ORDER BY / LIMIT), as one would
write it by hand. Semi and anti joins are merges against de-duplicated keys, since
``isin`` takes only in-memory values.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd

Frame = Any
GetTable = Callable[[str], Frame]

# Queries dask.dataframe cannot express, with the reason (none so far).
UNSUPPORTED: dict[int, str] = {}


def _volume(df: Frame) -> Frame:
    return df.l_extendedprice * (1 - df.l_discount)


def _in_range(series: Frame, lo: date, hi: date) -> Frame:
    return (series >= lo) & (series < hi)


def _semi(left: Frame, right: Frame, left_on: str | list[str], right_on: str | list[str]) -> Frame:
    """Rows of ``left`` with a match in ``right`` (columns of ``left`` only)."""
    keys = right[right_on if isinstance(right_on, list) else [right_on]].drop_duplicates()
    return left.merge(keys, left_on=left_on, right_on=right_on)[list(left.columns)]


def _anti(left: Frame, right: Frame, left_on: str, right_on: str) -> Frame:
    """Rows of ``left`` without a match in ``right``."""
    keys = right[[right_on]].drop_duplicates().assign(_matched=1)
    merged = left.merge(keys, how="left", left_on=left_on, right_on=right_on)
    return merged[merged._matched.isna()][list(left.columns)]


def _top(df: pd.DataFrame, by: list[str], desc: list[bool], n: int | None = None) -> pd.DataFrame:
    out = df.sort_values(by, ascending=[not d for d in desc]).reset_index(drop=True)
    return out.head(n) if n is not None else out


def q1(t: GetTable) -> pd.DataFrame:
    li = t("lineitem")
    li = li[li.l_shipdate <= date(1998, 9, 2)]
    li = li.assign(disc_price=_volume(li))
    li = li.assign(charge=li.disc_price * (1 + li.l_tax))
    out = li.groupby(["l_returnflag", "l_linestatus"]).agg(
        sum_qty=("l_quantity", "sum"),
        sum_base_price=("l_extendedprice", "sum"),
        sum_disc_price=("disc_price", "sum"),
        sum_charge=("charge", "sum"),
        avg_qty=("l_quantity", "mean"),
        avg_price=("l_extendedprice", "mean"),
        avg_disc=("l_discount", "mean"),
        count_order=("l_orderkey", "count"),
    )
    return _top(out.compute().reset_index(), ["l_returnflag", "l_linestatus"], [False, False])


def q2(t: GetTable) -> pd.DataFrame:
    region = t("region")
    nation = t("nation")
    europe = nation.merge(
        region[region.r_name == "EUROPE"], left_on="n_regionkey", right_on="r_regionkey"
    )
    suppliers = t("supplier").merge(europe, left_on="s_nationkey", right_on="n_nationkey")
    part = t("part")
    part = part[(part.p_size == 15) & part.p_type.str.endswith("BRASS")]
    offers = (
        t("partsupp")
        .merge(part, left_on="ps_partkey", right_on="p_partkey")
        .merge(suppliers, left_on="ps_suppkey", right_on="s_suppkey")
    )
    min_cost = offers.groupby("p_partkey").ps_supplycost.min().rename("min_cost").reset_index()
    best = offers.merge(min_cost, on="p_partkey")
    best = best[best.ps_supplycost == best.min_cost]
    cols = [
        "s_acctbal",
        "s_name",
        "n_name",
        "p_partkey",
        "p_mfgr",
        "s_address",
        "s_phone",
        "s_comment",
    ]
    return _top(
        best[cols].compute(),
        ["s_acctbal", "n_name", "s_name", "p_partkey"],
        [True, False, False, False],
        100,
    )


def q3(t: GetTable) -> pd.DataFrame:
    cutoff = date(1995, 3, 15)
    customer, orders, li = t("customer"), t("orders"), t("lineitem")
    customer = customer[customer.c_mktsegment == "BUILDING"][["c_custkey"]]
    orders = orders[orders.o_orderdate < cutoff]
    li = li[li.l_shipdate > cutoff]
    joined = li.merge(orders, left_on="l_orderkey", right_on="o_orderkey").merge(
        customer, left_on="o_custkey", right_on="c_custkey"
    )
    joined = joined.assign(volume=_volume(joined))
    out = joined.groupby(["l_orderkey", "o_orderdate", "o_shippriority"]).volume.sum()
    out = out.rename("revenue").compute().reset_index()
    out = _top(out, ["revenue", "o_orderdate"], [True, False], 10)
    return out[["l_orderkey", "revenue", "o_orderdate", "o_shippriority"]]


def q4(t: GetTable) -> pd.DataFrame:
    orders, li = t("orders"), t("lineitem")
    orders = orders[_in_range(orders.o_orderdate, date(1993, 7, 1), date(1993, 10, 1))]
    late = li[li.l_commitdate < li.l_receiptdate]
    out = _semi(orders, late, "o_orderkey", "l_orderkey").groupby("o_orderpriority").size()
    out = out.rename("order_count").compute().reset_index()
    return _top(out, ["o_orderpriority"], [False])


def q5(t: GetTable) -> pd.DataFrame:
    region = t("region")
    nations = t("nation").merge(
        region[region.r_name == "ASIA"], left_on="n_regionkey", right_on="r_regionkey"
    )
    suppliers = t("supplier").merge(nations, left_on="s_nationkey", right_on="n_nationkey")
    orders = t("orders")
    orders = orders[_in_range(orders.o_orderdate, date(1994, 1, 1), date(1995, 1, 1))]
    joined = (
        t("lineitem")
        .merge(orders, left_on="l_orderkey", right_on="o_orderkey")
        .merge(t("customer"), left_on="o_custkey", right_on="c_custkey")
        .merge(
            suppliers, left_on=["l_suppkey", "c_nationkey"], right_on=["s_suppkey", "s_nationkey"]
        )
    )
    out = joined.assign(volume=_volume(joined)).groupby("n_name").volume.sum()
    out = out.rename("revenue").compute().reset_index()
    return _top(out, ["revenue"], [True])


def q6(t: GetTable) -> pd.DataFrame:
    li = t("lineitem")
    li = li[
        _in_range(li.l_shipdate, date(1994, 1, 1), date(1995, 1, 1))
        & li.l_discount.between(0.05, 0.07)
        & (li.l_quantity < 24)
    ]
    revenue = (li.l_extendedprice * li.l_discount).sum().compute()
    return pd.DataFrame({"revenue": [revenue]})


def q7(t: GetTable) -> pd.DataFrame:
    nation = t("nation")
    nations = nation[nation.n_name.isin(["FRANCE", "GERMANY"])]
    suppliers = t("supplier").merge(nations, left_on="s_nationkey", right_on="n_nationkey")
    suppliers = suppliers[["s_suppkey", "n_name"]].rename(columns={"n_name": "supp_nation"})
    customers = t("customer").merge(nations, left_on="c_nationkey", right_on="n_nationkey")
    customers = customers[["c_custkey", "n_name"]].rename(columns={"n_name": "cust_nation"})
    li = t("lineitem")
    li = li[li.l_shipdate.between(date(1995, 1, 1), date(1996, 12, 31))]
    joined = (
        li.merge(suppliers, left_on="l_suppkey", right_on="s_suppkey")
        .merge(
            t("orders")[["o_orderkey", "o_custkey"]], left_on="l_orderkey", right_on="o_orderkey"
        )
        .merge(customers, left_on="o_custkey", right_on="c_custkey")
    )
    joined = joined[joined.supp_nation != joined.cust_nation]
    joined = joined.assign(l_year=joined.l_shipdate.dt.year, volume=_volume(joined))
    keys = ["supp_nation", "cust_nation", "l_year"]
    out = joined.groupby(keys).volume.sum().rename("revenue").compute().reset_index()
    return _top(out, keys, [False, False, False])


def q8(t: GetTable) -> pd.DataFrame:
    region, nation, part, orders = t("region"), t("nation"), t("part"), t("orders")
    america = nation.merge(
        region[region.r_name == "AMERICA"], left_on="n_regionkey", right_on="r_regionkey"
    )[["n_nationkey"]]
    customers = t("customer").merge(america, left_on="c_nationkey", right_on="n_nationkey")
    suppliers = t("supplier").merge(nation, left_on="s_nationkey", right_on="n_nationkey")
    suppliers = suppliers[["s_suppkey", "n_name"]].rename(columns={"n_name": "nation"})
    orders = orders[orders.o_orderdate.between(date(1995, 1, 1), date(1996, 12, 31))]
    joined = (
        t("lineitem")
        .merge(
            part[part.p_type == "ECONOMY ANODIZED STEEL"], left_on="l_partkey", right_on="p_partkey"
        )
        .merge(orders, left_on="l_orderkey", right_on="o_orderkey")
        .merge(customers[["c_custkey"]], left_on="o_custkey", right_on="c_custkey")
        .merge(suppliers, left_on="l_suppkey", right_on="s_suppkey")
    )
    volume = _volume(joined)
    joined = joined.assign(
        o_year=joined.o_orderdate.dt.year,
        volume=volume,
        brazil=volume.where(joined.nation == "BRAZIL", 0.0),
    )
    sums = joined.groupby("o_year")[["brazil", "volume"]].sum().compute().reset_index()
    out = pd.DataFrame({"o_year": sums.o_year, "mkt_share": sums.brazil / sums.volume})
    return _top(out, ["o_year"], [False])


def q9(t: GetTable) -> pd.DataFrame:
    part = t("part")
    part = part[part.p_name.str.contains("green", regex=False)][["p_partkey"]]
    suppliers = t("supplier").merge(t("nation"), left_on="s_nationkey", right_on="n_nationkey")
    joined = (
        t("lineitem")
        .merge(part, left_on="l_partkey", right_on="p_partkey")
        .merge(
            t("partsupp"), left_on=["l_partkey", "l_suppkey"], right_on=["ps_partkey", "ps_suppkey"]
        )
        .merge(suppliers[["s_suppkey", "n_name"]], left_on="l_suppkey", right_on="s_suppkey")
        .merge(
            t("orders")[["o_orderkey", "o_orderdate"]], left_on="l_orderkey", right_on="o_orderkey"
        )
    )
    joined = joined.assign(
        nation=joined.n_name,
        o_year=joined.o_orderdate.dt.year,
        amount=_volume(joined) - joined.ps_supplycost * joined.l_quantity,
    )
    out = joined.groupby(["nation", "o_year"]).amount.sum().rename("sum_profit")
    return _top(out.compute().reset_index(), ["nation", "o_year"], [False, True])


def q10(t: GetTable) -> pd.DataFrame:
    orders, li = t("orders"), t("lineitem")
    orders = orders[_in_range(orders.o_orderdate, date(1993, 10, 1), date(1994, 1, 1))]
    li = li[li.l_returnflag == "R"]
    joined = (
        li.merge(orders, left_on="l_orderkey", right_on="o_orderkey")
        .merge(t("customer"), left_on="o_custkey", right_on="c_custkey")
        .merge(t("nation"), left_on="c_nationkey", right_on="n_nationkey")
    )
    keys = ["c_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address", "c_comment"]
    out = joined.assign(volume=_volume(joined)).groupby(keys).volume.sum().rename("revenue")
    out = _top(out.compute().reset_index(), ["revenue"], [True], 20)
    return out[
        [
            "c_custkey",
            "c_name",
            "revenue",
            "c_acctbal",
            "n_name",
            "c_address",
            "c_phone",
            "c_comment",
        ]
    ]


def q11(t: GetTable) -> pd.DataFrame:
    import dask

    nation = t("nation")
    suppliers = t("supplier").merge(
        nation[nation.n_name == "GERMANY"], left_on="s_nationkey", right_on="n_nationkey"
    )
    stock = t("partsupp").merge(
        suppliers[["s_suppkey"]], left_on="ps_suppkey", right_on="s_suppkey"
    )
    stock = stock.assign(value=stock.ps_supplycost * stock.ps_availqty)
    per_part, total = dask.compute(stock.groupby("ps_partkey").value.sum(), stock.value.sum())
    out = per_part[per_part > total * 0.0001].reset_index()
    return _top(out, ["value"], [True])


def q12(t: GetTable) -> pd.DataFrame:
    li = t("lineitem")
    li = li[
        li.l_shipmode.isin(["MAIL", "SHIP"])
        & (li.l_commitdate < li.l_receiptdate)
        & (li.l_shipdate < li.l_commitdate)
        & _in_range(li.l_receiptdate, date(1994, 1, 1), date(1995, 1, 1))
    ]
    joined = li.merge(t("orders"), left_on="l_orderkey", right_on="o_orderkey")
    high = joined.o_orderpriority.isin(["1-URGENT", "2-HIGH"])
    joined = joined.assign(
        high_line_count=high.astype("int64"), low_line_count=(~high).astype("int64")
    )
    out = joined.groupby("l_shipmode")[["high_line_count", "low_line_count"]].sum()
    return _top(out.compute().reset_index(), ["l_shipmode"], [False])


def q13(t: GetTable) -> pd.DataFrame:
    orders = t("orders")
    orders = orders[~orders.o_comment.str.contains("special.*requests", regex=True)]
    joined = t("customer")[["c_custkey"]].merge(
        orders[["o_orderkey", "o_custkey"]], how="left", left_on="c_custkey", right_on="o_custkey"
    )
    counts = joined.groupby("c_custkey").o_orderkey.count().rename("c_count")
    out = counts.to_frame().groupby("c_count").size().rename("custdist")
    return _top(out.compute().reset_index(), ["custdist", "c_count"], [True, True])


def q14(t: GetTable) -> pd.DataFrame:
    li = t("lineitem")
    li = li[_in_range(li.l_shipdate, date(1995, 9, 1), date(1995, 10, 1))]
    joined = li.merge(t("part"), left_on="l_partkey", right_on="p_partkey")
    volume = _volume(joined)
    promo = volume.where(joined.p_type.str.startswith("PROMO"), 0.0)
    import dask

    promo_sum, total = dask.compute(promo.sum(), volume.sum())
    return pd.DataFrame({"promo_revenue": [100.0 * promo_sum / total]})


def q15(t: GetTable) -> pd.DataFrame:
    li = t("lineitem")
    li = li[_in_range(li.l_shipdate, date(1996, 1, 1), date(1996, 4, 1))]
    revenue = li.assign(volume=_volume(li)).groupby("l_suppkey").volume.sum()
    revenue = revenue.rename("total_revenue").compute().reset_index()
    top = revenue[revenue.total_revenue == revenue.total_revenue.max()]
    supplier = t("supplier")[["s_suppkey", "s_name", "s_address", "s_phone"]].compute()
    out = supplier.merge(top, left_on="s_suppkey", right_on="l_suppkey")
    return _top(
        out[["s_suppkey", "s_name", "s_address", "s_phone", "total_revenue"]],
        ["s_suppkey"],
        [False],
    )


def q16(t: GetTable) -> pd.DataFrame:
    supplier, part = t("supplier"), t("part")
    complaints = supplier[supplier.s_comment.str.contains("Customer.*Complaints", regex=True)]
    part = part[
        (part.p_brand != "Brand#45")
        & ~part.p_type.str.startswith("MEDIUM POLISHED")
        & part.p_size.isin([49, 14, 23, 45, 19, 3, 36, 9])
    ]
    partsupp = _anti(t("partsupp"), complaints, "ps_suppkey", "s_suppkey")
    joined = partsupp.merge(part, left_on="ps_partkey", right_on="p_partkey")
    keys = ["p_brand", "p_type", "p_size"]
    out = joined.groupby(keys).ps_suppkey.nunique().rename("supplier_cnt")
    return _top(out.compute().reset_index(), ["supplier_cnt", *keys], [True, False, False, False])


def q17(t: GetTable) -> pd.DataFrame:
    part = t("part")
    part = part[(part.p_brand == "Brand#23") & (part.p_container == "MED BOX")][["p_partkey"]]
    items = t("lineitem").merge(part, left_on="l_partkey", right_on="p_partkey")
    limits = (items.groupby("l_partkey").l_quantity.mean() * 0.2).rename("max_qty").reset_index()
    items = items.merge(limits, on="l_partkey")
    total = items[items.l_quantity < items.max_qty].l_extendedprice.sum().compute()
    return pd.DataFrame({"avg_yearly": [total / 7.0]})


def q18(t: GetTable) -> pd.DataFrame:
    li = t("lineitem")
    totals = li.groupby("l_orderkey").l_quantity.sum()
    large = totals[totals > 300].rename("total").reset_index()
    orders = _semi(t("orders"), large, "o_orderkey", "l_orderkey")
    joined = orders.merge(
        li[["l_orderkey", "l_quantity"]], left_on="o_orderkey", right_on="l_orderkey"
    ).merge(t("customer"), left_on="o_custkey", right_on="c_custkey")
    keys = ["c_name", "c_custkey", "o_orderkey", "o_orderdate", "o_totalprice"]
    out = joined.groupby(keys).l_quantity.sum().rename("sum_qty").compute().reset_index()
    return _top(out, ["o_totalprice", "o_orderdate"], [True, False], 100)


def q19(t: GetTable) -> pd.DataFrame:
    li = t("lineitem")
    li = li[li.l_shipmode.isin(["AIR", "AIR REG"]) & (li.l_shipinstruct == "DELIVER IN PERSON")]
    j = li.merge(t("part"), left_on="l_partkey", right_on="p_partkey")

    def branch(brand: str, containers: list[str], qty: int, max_size: int) -> Frame:
        return (
            (j.p_brand == brand)
            & j.p_container.isin(containers)
            & j.l_quantity.between(qty, qty + 10)
            & j.p_size.between(1, max_size)
        )

    j = j[
        branch("Brand#12", ["SM CASE", "SM BOX", "SM PACK", "SM PKG"], 1, 5)
        | branch("Brand#23", ["MED BAG", "MED BOX", "MED PKG", "MED PACK"], 10, 10)
        | branch("Brand#34", ["LG CASE", "LG BOX", "LG PACK", "LG PKG"], 20, 15)
    ]
    return pd.DataFrame({"revenue": [_volume(j).sum().compute()]})


def q20(t: GetTable) -> pd.DataFrame:
    part, li, nation = t("part"), t("lineitem"), t("nation")
    forest = part[part.p_name.str.startswith("forest")]
    li = li[_in_range(li.l_shipdate, date(1994, 1, 1), date(1995, 1, 1))]
    shipped = li.groupby(["l_partkey", "l_suppkey"]).l_quantity.sum() * 0.5
    shipped = shipped.rename("half_qty").reset_index()
    partsupp = _semi(t("partsupp"), forest, "ps_partkey", "p_partkey")
    excess = partsupp.merge(
        shipped, left_on=["ps_partkey", "ps_suppkey"], right_on=["l_partkey", "l_suppkey"]
    )
    excess = excess[excess.ps_availqty > excess.half_qty]
    suppliers = t("supplier").merge(
        nation[nation.n_name == "CANADA"], left_on="s_nationkey", right_on="n_nationkey"
    )
    out = _semi(suppliers, excess, "s_suppkey", "ps_suppkey")[["s_name", "s_address"]]
    return _top(out.compute(), ["s_name"], [False])


def _orders_by_supplier_count(lines: Frame, single: bool) -> Frame:
    """Order keys with lines from one supplier (``single``) or several (min vs max)."""
    stats = lines.groupby("l_orderkey").l_suppkey.agg(["min", "max"])
    same = stats["min"] == stats["max"]
    return stats[same if single else ~same].reset_index()[["l_orderkey"]]


def q21(t: GetTable) -> pd.DataFrame:
    li = t("lineitem")[["l_orderkey", "l_suppkey", "l_receiptdate", "l_commitdate"]]
    late = li[li.l_receiptdate > li.l_commitdate][["l_orderkey", "l_suppkey"]]
    orders, nation = t("orders"), t("nation")
    finished = orders[orders.o_orderstatus == "F"]
    suppliers = t("supplier").merge(
        nation[nation.n_name == "SAUDI ARABIA"], left_on="s_nationkey", right_on="n_nationkey"
    )
    waiting = late.merge(
        suppliers[["s_suppkey", "s_name"]], left_on="l_suppkey", right_on="s_suppkey"
    )
    waiting = _semi(waiting, finished, "l_orderkey", "o_orderkey")
    waiting = _semi(waiting, _orders_by_supplier_count(li, False), "l_orderkey", "l_orderkey")
    waiting = _semi(waiting, _orders_by_supplier_count(late, True), "l_orderkey", "l_orderkey")
    out = waiting.groupby("s_name").size().rename("numwait").compute().reset_index()
    return _top(out, ["numwait", "s_name"], [True, False], 100)


def q22(t: GetTable) -> pd.DataFrame:
    customer = t("customer")
    customer = customer.assign(cntrycode=customer.c_phone.str.slice(0, 2))
    candidates = customer[customer.cntrycode.isin(["13", "31", "23", "29", "30", "18", "17"])]
    average = candidates[candidates.c_acctbal > 0.0].c_acctbal.mean()
    rich = candidates[candidates.c_acctbal > average]
    rich = _anti(rich, t("orders"), "c_custkey", "o_custkey")
    out = rich.groupby("cntrycode").agg(
        numcust=("c_custkey", "count"), totacctbal=("c_acctbal", "sum")
    )
    return _top(out.compute().reset_index(), ["cntrycode"], [False])


QUERIES: dict[int, Callable[[GetTable], pd.DataFrame]] = {
    n: globals()[f"q{n}"] for n in range(1, 23)
}
