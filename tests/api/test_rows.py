"""offset, limit + offset, drop_nan and sample (size=, with_replacement=) against
pandas, on several partitionings."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import spillframe as sf
from spillframe import col
from spillframe.testing import assert_df_equal

ROWS = list(range(23))


@pytest.mark.parametrize("parts", [1, 4])
@pytest.mark.parametrize(("k", "n"), [(0, 5), (3, 4), (7, 100), (30, 2), (22, 1)])
def test_offset_then_limit_pages_like_pandas(sf_runner, make_df, parts, k, n):
    df = make_df({"i": ROWS}, num_partitions=parts).where(col("i") % 2 == 0)
    evens = pd.DataFrame({"i": [i for i in ROWS if i % 2 == 0]}, dtype="int64")
    paged = df.offset(k).limit(n)
    assert_df_equal(paged.to_arrow(), evens.iloc[k : k + n].reset_index(drop=True))
    assert_df_equal(df.offset(k).to_arrow(), evens.iloc[k:].reset_index(drop=True))


@pytest.mark.parametrize("parts", [1, 3])
def test_limit_then_offset(sf_runner, make_df, parts):
    df = make_df({"i": ROWS}, num_partitions=parts)
    assert df.limit(10).offset(7).to_pydict() == {"i": ROWS[7:10]}
    assert df.sort("i", desc=True).offset(20).to_pydict() == {"i": [2, 1, 0]}


def test_offset_errors(make_df):
    with pytest.raises(ValueError, match="offset needs an int >= 0, got -1"):
        make_df({"i": ROWS}).offset(-1)


NAN = float("nan")
FLOATS = {"f": [1.0, NAN, None, 2.5, NAN], "g": [NAN, 1.0, 2.0, 3.0, 4.0], "s": list("abcde")}


@pytest.mark.parametrize("cols", [(), ("f",), ("g", "s")])
def test_drop_nan_matches_pandas(sf_runner, make_df, cols):
    df = make_df(FLOATS, num_partitions=2)
    pdf = pd.DataFrame(FLOATS)
    checked = [c for c in (cols or pdf.columns) if pdf[c].dtype == "float64"]
    # pandas' isna() is true for both null and NaN; here only NaN (Arrow keeps them apart)
    nan = pd.concat(
        [pd.Series([isinstance(v, float) and math.isnan(v) for v in FLOATS[c]]) for c in checked],
        axis=1,
    ).any(axis=1)
    out = df.drop_nan(*cols)
    assert out.schema() == df.schema()
    # rows are told apart by "s" (NaN != NaN would fail a comparison of whole rows)
    assert out.to_pydict()["s"] == [s for s, drop in zip(FLOATS["s"], nan) if not drop]


def test_nan_expressions(sf_runner, make_df):
    df = make_df({"f": [1.0, NAN, None, math.inf], "i": [1, 2, None, 4]})
    out = df.select(
        col("f").is_nan().alias("nan"),
        col("f").not_nan().alias("not_nan"),
        col("f").is_inf().alias("inf"),
        col("f").fill_nan(0.0).alias("filled"),
        col("i").is_nan().alias("int_nan"),
        col("i").fill_nan(0).alias("int_filled"),
    ).to_pydict()
    assert out == {
        "nan": [False, True, None, False],
        "not_nan": [True, False, None, True],
        "inf": [False, False, None, True],
        "filled": [1.0, 0.0, None, math.inf],
        "int_nan": [False, False, None, False],
        "int_filled": [1, 2, None, 4],
    }
    with pytest.raises(sf.ExpressionTypeError, match="expected a number"):
        make_df({"s": ["x"]}).select(col("s").is_nan())


LISTS = {"id": [1, 2, 3, 4], "l": [[1, 2], [], None, [3]], "m": [["a", "b"], [], None, ["c"]]}


@pytest.mark.parametrize("parts", [1, 2])
def test_explode_expression_matches_pandas(sf_runner, make_df, parts):
    df = make_df(LISTS, num_partitions=parts)
    out = df.select("id", col("l").explode(), col("m").explode().alias("mm"))
    table = out.to_arrow()
    assert table.schema == out.schema()
    pdf = pd.DataFrame(LISTS).explode(["l", "m"]).rename(columns={"m": "mm"})
    expected = pdf.astype({"l": "Int64"}).replace({float("nan"): None})
    assert_df_equal(table, expected.reset_index(drop=True), check_dtype=False)
    kept = df.with_columns({"l": col("l").explode(ignore_empty_and_null=True)}).exclude("m")
    assert kept.to_pydict() == {"id": [1, 1, 4], "l": [1, 2, 3]}


def test_explode_only_as_a_whole_column(make_df):
    df = make_df(LISTS)
    with pytest.raises(sf.ExpressionTypeError, match="whole column of select"):
        df.select(col("l").explode() + 1)
    with pytest.raises(sf.ExpressionTypeError, match="whole column of select"):
        df.where(col("l").explode() > 1)


@pytest.mark.parametrize("with_replacement", [False, True])
def test_sample_size_is_exact_and_independent_of_partitioning(sf_runner, make_df, with_replacement):
    base = make_df({"i": list(range(40))}, num_partitions=3).where(col("i") >= 10)
    drawn = base.sample(size=12, with_replacement=with_replacement, seed=5).to_pydict()["i"]
    assert len(drawn) == 12 and set(drawn) <= set(range(10, 40))
    assert drawn == sorted(drawn)  # input order
    if not with_replacement:
        assert len(set(drawn)) == 12
    for other in (base.into_partitions(1), base.into_partitions(7)):
        same = other.sample(size=12, with_replacement=with_replacement, seed=5)
        assert same.to_pydict()["i"] == drawn
    assert base.sample(size=0, seed=1).count_rows() == 0


def test_seeded_fraction_sample_is_independent_of_partitioning(sf_runner, make_df):
    base = make_df({"i": list(range(400))}, num_partitions=3)
    kept = base.sample(0.3, seed=9).to_pydict()["i"]
    assert 80 < len(kept) < 160 and kept == sorted(kept)
    assert base.into_partitions(7).sample(0.3, seed=9).to_pydict()["i"] == kept
    assert base.sample(0.3, seed=10).to_pydict()["i"] != kept
    assert base.sample(0.0, seed=1).count_rows() == 0
    assert base.sample(1.0, seed=1).count_rows() == 400


def test_sample_with_replacement_by_fraction_draws_round_fraction_rows(sf_runner, make_df):
    df = make_df({"i": list(range(10))}, num_partitions=2)
    drawn = df.sample(0.5, with_replacement=True, seed=3).to_pydict()["i"]
    assert len(drawn) == 5
    many = pd.Series(df.sample(size=3000, with_replacement=True, seed=11).to_pydict()["i"])
    counts = many.value_counts()
    assert set(counts.index) == set(range(10)) and counts.between(240, 360).all()


def test_sample_size_is_uniform(sf_runner, make_df):
    df = make_df({"i": list(range(8))}, num_partitions=2)
    picks = pd.Series(
        [i for seed in range(30) for i in df.sample(size=4, seed=seed).to_pydict()["i"]]
    )
    # each row is drawn with probability 1/2: 15 of 30 expected, 6..24 is beyond 3 sigma
    assert picks.value_counts().reindex(range(8), fill_value=0).between(6, 24).all()


def test_sample_errors(make_df):
    df = make_df({"i": [1, 2, 3]})
    with pytest.raises(ValueError, match="either fraction= or size="):
        df.sample(0.5, size=2)
    with pytest.raises(ValueError, match="either fraction= or size="):
        df.sample()
    with pytest.raises(ValueError, match="size must be an int >= 0"):
        df.sample(size=-1)
    with pytest.raises(
        ValueError, match=r"sample\(size=5\) without replacement needs at least 5 rows"
    ):
        df.sample(size=5).to_pydict()


def test_dataframe_explode_can_drop_empty_and_null_lists(sf_runner, make_df):
    df = make_df(LISTS, num_partitions=2)
    dropped = df.explode("l", "m", ignore_empty_and_null=True)
    pdf = pd.DataFrame(LISTS).explode(["l", "m"]).dropna(subset=["l"])
    assert_df_equal(dropped.to_arrow(), pdf.reset_index(drop=True), check_dtype=False)
    with pytest.raises(ValueError, match="index_column=...\\) is not supported"):
        df.explode("l", index_column="i")
