"""DataFrame operators of the core: projection, rows, partitions, plans, running."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import col
from spillframe.testing import assert_df_equal

DATA = {
    "a": [1, 2, None, 4, 5, 6],
    "b": ["x", "y", "z", None, "x", "y"],
    "l": [[1, 2], [], None, [3], [4, 5, 6], [7]],
}


@pytest.fixture(params=[1, 3], ids=["1part", "3parts"])
def df(request, make_df):
    return make_df(DATA, num_partitions=request.param)


def check_schema(result: sf.DataFrame) -> pa.Table:
    """Run ``result``, checking the predicted schema equals the produced one."""
    table = result.to_arrow()
    assert table.schema == result.schema()
    return table


def test_select_and_with_columns(sf_runner, df):
    out = df.select("b", (col("a") * 10).alias("a10"))
    assert check_schema(out).to_pydict() == {"b": DATA["b"], "a10": [10, 20, None, 40, 50, 60]}
    replaced = df.with_columns({"a": col("a") + 1, "c": sf.lit(1)})
    assert replaced.column_names == ["a", "b", "l", "c"]
    assert check_schema(replaced).column("a").to_pylist() == [2, 3, None, 5, 6, 7]


def test_select_names_keyword_and_dict_projections(sf_runner, df):
    pdf = pd.DataFrame(DATA).astype({"a": "Int64"})
    out = df.select("b", {"twice": col("a") * 2}, plus=col("a") + 1, same="a")
    assert out.column_names == ["b", "twice", "plus", "same"]
    expected = pd.DataFrame({"b": pdf.b, "twice": pdf.a * 2, "plus": pdf.a + 1, "same": pdf.a})
    assert_df_equal(check_schema(out), expected, check_dtype=False)
    # with_columns names its values whatever their own alias says
    renamed = df.with_columns({"c": col("a").alias("ignored"), "d": "b"})
    assert renamed.column_names == ["a", "b", "l", "c", "d"]
    assert check_schema(renamed).column("d").to_pylist() == DATA["b"]


def test_rename_and_exclude(sf_runner, df):
    out = df.with_column_renamed("a", "alpha").exclude("l")
    assert out.column_names == ["alpha", "b"]
    assert check_schema(out).column("alpha").to_pylist() == DATA["a"]


def test_where_matches_pandas(sf_runner, df):
    out = df.where((col("a") > 1) & (col("b") != "y"))
    pdf = pd.DataFrame(DATA)
    # SQL semantics: a comparison with null is null, and where() drops it.
    expected = pdf[(pdf.a > 1) & (pdf.b != "y") & pdf.b.notna()][["a", "b"]]
    assert_df_equal(out.exclude("l"), expected, check_dtype=False)


def test_drop_null(sf_runner, df):
    assert check_schema(df.drop_null("a")).num_rows == 5
    assert check_schema(df.drop_null()).num_rows == 4


def test_explode(sf_runner, df):
    out = check_schema(df.select("a", "l").explode("l"))
    assert out.column("l").to_pylist() == [1, 2, None, None, 3, 4, 5, 6, 7]
    assert out.column("a").to_pylist() == [1, 1, 2, None, 4, 5, 5, 5, 6]


def test_explode_needs_list(df):
    with pytest.raises(sf.SchemaError, match="explode needs list columns; 'a' is int64"):
        df.explode("a")


def test_sample_is_seeded_and_bounded(sf_runner, make_df):
    big = make_df({"i": list(range(2000))}, num_partitions=4)
    first = big.sample(0.25, seed=3).to_pydict()["i"]
    assert first == big.sample(0.25, seed=3).to_pydict()["i"]
    assert 350 < len(first) < 650
    with pytest.raises(ValueError, match="between 0 and 1"):
        big.sample(1.5)


def test_concat_keeps_order(sf_runner, make_df):
    left, right = make_df({"i": [1, 2]}), make_df({"i": [3, 4, 5]}, num_partitions=2)
    out = left.concat(right)
    assert out.num_partitions() == 3
    assert out.to_pydict() == {"i": [1, 2, 3, 4, 5]}
    with pytest.raises(sf.SchemaError, match="concat needs equal schemas"):
        left.concat(make_df({"j": [1]}))


def test_top_level_concat_of_many(sf_runner, make_df):
    frames = [make_df({"i": list(range(k, k + 3))}, num_partitions=2) for k in (0, 10, 20)]
    expected = pd.concat([f.to_pandas() for f in frames], ignore_index=True)
    out = sf.concat(frames)
    assert_df_equal(check_schema(out), expected)
    assert sf.concat(frames[:1]).to_pydict() == frames[0].to_pydict()
    with pytest.raises(ValueError, match="at least one DataFrame"):
        sf.concat([])
    with pytest.raises(TypeError, match="concat takes DataFrames, got dict"):
        sf.concat([frames[0], {"i": [1]}])


@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_into_partitions_is_exact_and_keeps_order(sf_runner, make_df, n):
    df = make_df({"i": list(range(20))}, num_partitions=3).where(col("i") >= 0)
    split = df.into_partitions(n)
    parts = list(split.iter_partitions())
    assert split.num_partitions() == len(parts) == n
    assert pa.concat_tables(parts).column("i").to_pylist() == list(range(20))


def test_limit(sf_runner, df):
    assert check_schema(df.limit(2)).column("a").to_pylist() == [1, 2]
    assert check_schema(df.limit(0)).num_rows == 0
    inner = df.limit(3).where(col("a").not_null())
    assert check_schema(inner).column("a").to_pylist() == [1, 2]


def test_collect_caches_partitions(sf_runner, make_df, tmp_path):
    log = tmp_path / "calls.txt"

    def record(v):  # runs in worker processes on some runners: count through a file
        with open(log, "a") as f:
            f.write("x")
        return v

    df = make_df({"i": [1, 2, 3]}).with_column("j", col("i").apply(record, pa.int64()))
    df.collect()
    assert df.where(col("j") > 1).count_rows() == 2
    assert len(df) == 3 and len(log.read_text()) == 3


def test_results_and_conversions(sf_runner, df):
    assert df.to_pylist()[0] == {"a": 1, "b": "x", "l": [1, 2]}
    assert list(df.iter_rows())[1]["b"] == "y"
    assert df.count_rows() == 6
    assert df.to_pandas().shape == (6, 3)
    assert sum(p.num_rows for p in df.iter_partitions()) == 6


def test_schema_errors_at_build_time(df):
    with pytest.raises(sf.SchemaError, match=r"no column 'bb' in \[a, b, l\]; did you mean 'b'"):
        df.select("bb")
    with pytest.raises(sf.SchemaError, match="no column 'zz'"):
        df["zz"]
    with pytest.raises(sf.SchemaError, match="duplicate output column"):
        df.select("a", col("b").alias("a"))
    with pytest.raises(sf.SchemaError, match="where\\(\\) needs a boolean"):
        df.where(col("a") + 1)
    with pytest.raises(TypeError, match="no truth value"):
        df.where(col("a") > 1 and col("a") < 3)


def test_explain_shows_every_plan(make_df, capsys):
    make_df(DATA, num_partitions=3).where(col("a") > 1).select("b").explain(show_all=True)
    out = capsys.readouterr().out
    for section in ("Unoptimized logical plan", "Optimized logical plan", "Physical plan"):
        assert section in out
    assert "3 partitions" in out and "est." in out


def test_num_partitions_is_exact(sf_runner, make_df):
    df = make_df({"i": list(range(10))}, num_partitions=4).select(col("i") + 1)
    assert df.num_partitions() == len(list(df.iter_partitions())) == 4


def test_show_prints_a_grid(make_df, capsys):
    make_df(DATA).show(2)
    out = capsys.readouterr().out
    assert "(showing 2 rows)" in out and "| a " in out and "int64" in out


def test_show_and_repr_of_an_empty_result_say_so_as_daft(sf_runner, make_df, capsys):
    empty = make_df(DATA, num_partitions=2).where(col("a") > 100).select("a", "b")
    empty.show()
    out = capsys.readouterr().out
    assert out.rstrip().endswith("(No data to display: Materialized dataframe has no rows)")
    assert "| a " in out and "string" in out
    assert repr(empty.collect()).endswith(
        "(No data to display: Materialized dataframe has no rows)"
    )
    assert "(No data to display: DataFrame not materialized" in repr(make_df(DATA))
