"""The ``.str`` namespace, compared with pandas' ``.str`` on the same data."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

import spillframe as sf
from spillframe import ExpressionTypeError, col, lit

WORDS = ["Apple pie", "banana", None, "  padded  ", "", "a.b.c", "Ünïcode", "apple"]


def _pandas(method, *args, **kwargs):
    series = pd.Series(WORDS, dtype=object)
    return getattr(series.str, method)(*args, **kwargs)


CASES = {
    "contains": (lambda e: e.str.contains("pp"), lambda: _pandas("contains", "pp", regex=False)),
    "contains-dot": (lambda e: e.str.contains("."), lambda: _pandas("contains", ".", regex=False)),
    "startswith": (lambda e: e.str.startswith("a"), lambda: _pandas("startswith", "a")),
    "endswith": (lambda e: e.str.endswith("e"), lambda: _pandas("endswith", "e")),
    "lower": (lambda e: e.str.lower(), lambda: _pandas("lower")),
    "upper": (lambda e: e.str.upper(), lambda: _pandas("upper")),
    "length": (lambda e: e.str.length(), lambda: _pandas("len")),
    "strip": (lambda e: e.str.strip(), lambda: _pandas("strip")),
    "split": (lambda e: e.str.split("."), lambda: _pandas("split", ".", regex=False)),
    "split-regex": (
        lambda e: e.str.split(r"[.\s]+", regex=True),
        lambda: _pandas("split", r"[.\s]+", regex=True),
    ),
    "concat": (lambda e: e.str.concat("!"), lambda: pd.Series(WORDS, dtype=object) + "!"),
    "replace": (
        lambda e: e.str.replace(".", "-"),
        lambda: _pandas("replace", ".", "-", regex=False),
    ),
    "replace-regex": (
        lambda e: e.str.replace(r"[aeiou]+", "_", regex=True),
        lambda: _pandas("replace", r"[aeiou]+", "_", regex=True),
    ),
    "substr": (lambda e: e.str.substr(1, 3), lambda: _pandas("slice", 1, 4)),
    "substr-to-end": (lambda e: e.str.substr(2), lambda: _pandas("slice", 2)),
    "match": (lambda e: e.str.match(r"^[ab]"), lambda: _pandas("contains", r"^[ab]", regex=True)),
    "match-anywhere": (
        lambda e: e.str.match(r"p+l"),
        lambda: _pandas("contains", r"p+l", regex=True),
    ),
}

TYPES = {
    "contains": pa.bool_(),
    "contains-dot": pa.bool_(),
    "startswith": pa.bool_(),
    "endswith": pa.bool_(),
    "length": pa.int64(),
    "match": pa.bool_(),
    "match-anywhere": pa.bool_(),
    "split": pa.list_(pa.string()),
    "split-regex": pa.list_(pa.string()),
}


@pytest.mark.parametrize("case", list(CASES))
def test_str_function_matches_pandas(sf_runner, make_df, ex, nparts, case):
    build, pandas = CASES[case]
    table = ex.run(make_df({"s": WORDS}, num_partitions=nparts), build(col("s")))
    assert ex.column(table, "s") == ex.values(pandas())
    assert table.schema.field("s").type == TYPES.get(case, pa.string())


def test_concat_two_columns(sf_runner, make_df, ex):
    table = ex.run(
        make_df({"a": ["x", None, "z"], "b": ["1", "2", None]}, num_partitions=2),
        col("a").str.concat(col("b")),
    )
    assert ex.column(table, "a") == ["x1", None, None]


@pytest.mark.parametrize("case", ["lower", "length", "concat", "replace", "contains", "substr"])
def test_large_string_input_keeps_working(sf_runner, make_df, ex, case):
    build, pandas = CASES[case]
    data = pa.table({"s": pa.array(WORDS, type=pa.large_string())})
    table = ex.run(make_df(data, num_partitions=2), build(col("s")))
    assert ex.column(table, "s") == ex.values(pandas())


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: col("s").str.substr(-1), "substr start must be an int >= 0, got -1"),
        (lambda: col("s").str.substr(0, -2), "substr length must be an int >= 0 or None, got -2"),
        (lambda: col("s").str.contains(1), "contains needs a string argument, got 1"),
        (lambda: col("s").str.replace("a", None), "replace needs a string argument, got None"),
    ],
)
def test_bad_arguments_raise_at_build_time(build, message):
    with pytest.raises((TypeError, ValueError), match=message):
        build()


@pytest.mark.parametrize("method", ["lower", "length", "strip"])
def test_str_on_non_string_column_fails_at_build_time(make_df, method):
    df = make_df({"n": [1, 2]})
    with pytest.raises(ExpressionTypeError, match=rf"str\.{method}.*col\(n\).*int64"):
        df.select(getattr(col("n").str, method)())


def test_str_on_literal(sf_runner, make_df, ex):
    table = ex.run(make_df({"n": [1, 2]}), col("n"), lit("Hello").str.upper().alias("h"))
    assert ex.column(table, "h") == ["HELLO", "HELLO"]


def test_plus_on_strings_concatenates_like_daft(sf_runner, make_df, ex, nparts):
    table = ex.run(
        make_df({"s": WORDS}, num_partitions=nparts),
        (col("s") + "!").alias("a"),
        ("<" + col("s")).alias("b"),
        (col("s") + col("s")).alias("c"),
    )
    assert ex.column(table, "a") == [None if w is None else w + "!" for w in WORDS]
    assert ex.column(table, "b") == [None if w is None else "<" + w for w in WORDS]
    assert ex.column(table, "c") == [None if w is None else w + w for w in WORDS]


@pytest.mark.parametrize(
    "build",
    [
        lambda: col("s").str.match("(unclosed"),
        lambda: col("s").str.replace("[a-", "x", regex=True),
        lambda: col("s").str.split("a{2,1}", regex=True),
    ],
    ids=["match", "replace", "split"],
)
def test_bad_regex_raises_at_build_time(build):
    with pytest.raises(ValueError, match="bad regular expression"):
        build()


def test_plain_replace_and_split_take_regex_characters_literally(sf_runner, make_df, ex):
    table = ex.run(
        make_df({"s": ["a(b", "(("]}),
        col("s").str.replace("(", "["),
        col("s").str.split("(").alias("p"),
    )
    assert table.to_pydict() == {"s": ["a[b", "[["], "p": [["a", "b"], ["", "", ""]]}


def test_regex_replace_with_group_reference(sf_runner, make_df, ex):
    table = ex.run(
        make_df({"s": ["ab12", None]}), col("s").str.replace(r"([a-z]+)(\d+)", r"\2-\1", regex=True)
    )
    assert ex.column(table, "s") == ["12-ab", None]


@pytest.mark.parametrize("pattern", [".*special.*requests.*", ".*b", "b.*", r"a\.*", ".*", ".*?b"])
def test_match_is_a_regex_search_with_or_without_outer_wildcards(pattern):
    import re

    values = [
        "special requests",
        "a special b requests",
        "requests special",
        "b",
        "a.",
        "a",
        "",
        None,
    ]
    result = sf.from_pydict({"s": values}).select(col("s").str.match(pattern)).to_pydict()
    assert result["s"] == [None if v is None else re.search(pattern, v) is not None for v in values]
