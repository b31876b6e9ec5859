"""Daft 0.7's string and date methods (``col("s").contains("a")``, ``col("d").year()``)
and their ``spillframe.functions`` twins: Python's answers, and the same plan as the
``.str``/``.dt`` form they delegate to."""

from __future__ import annotations

import datetime
import re

import pyarrow as pa
import pytest

from spillframe import ExpressionTypeError, col
from spillframe import functions as F
from spillframe.expr.expression import structural_key

WORDS = ["Apple pie", "banana", None, "  padded  ", "", "a.b.c", "Ünïcode", "xbarx"]


def _each(fn):
    return [None if w is None else fn(w) for w in WORDS]


# name: (method form, its .str twin, spillframe.functions form, Python's answer)
STRING_CASES = {
    "contains": (
        lambda e: e.contains("."),
        lambda e: e.str.contains("."),
        lambda e: F.contains(e, "."),
        _each(lambda w: "." in w),
    ),
    "startswith": (
        lambda e: e.startswith("ba"),
        lambda e: e.str.startswith("ba"),
        lambda e: F.startswith(e, "ba"),
        _each(lambda w: w.startswith("ba")),
    ),
    "endswith": (
        lambda e: e.endswith("e"),
        lambda e: e.str.endswith("e"),
        lambda e: F.endswith(e, "e"),
        _each(lambda w: w.endswith("e")),
    ),
    "regexp": (
        lambda e: e.regexp("a.a"),
        lambda e: e.str.match("a.a"),
        lambda e: F.regexp(e, "a.a"),
        _each(lambda w: re.search("a.a", w) is not None),
    ),
    "regexp-anchored": (
        lambda e: e.regexp("^a"),
        lambda e: e.str.match("^a"),
        lambda e: F.regexp(e, "^a"),
        _each(lambda w: w.startswith("a")),
    ),
    "like": (
        lambda e: e.like("%a_a%"),
        lambda e: e.str.like("%a_a%"),
        lambda e: F.like(e, "%a_a%"),
        _each(lambda w: re.fullmatch(".*a.a.*", w, re.DOTALL) is not None),
    ),
    "like-whole-string": (
        lambda e: e.like("a%"),
        lambda e: e.str.like("a%"),
        lambda e: F.like(e, "a%"),
        _each(lambda w: w.startswith("a")),
    ),
    "ilike": (
        lambda e: e.ilike("a%"),
        lambda e: e.str.ilike("a%"),
        lambda e: F.ilike(e, "a%"),
        _each(lambda w: w.lower().startswith("a")),
    ),
    "lower": (lambda e: e.lower(), lambda e: e.str.lower(), F.lower, _each(str.lower)),
    "upper": (lambda e: e.upper(), lambda e: e.str.upper(), F.upper, _each(str.upper)),
    "strip": (lambda e: e.strip(), lambda e: e.str.strip(), F.strip, _each(str.strip)),
    "length": (lambda e: e.length(), None, F.length, _each(len)),
    "split": (
        lambda e: e.split("."),
        lambda e: e.str.split("."),
        lambda e: F.split(e, "."),
        _each(lambda w: w.split(".")),
    ),
    "regexp_split": (
        lambda e: e.regexp_split(r"[.\s]+"),
        lambda e: e.str.split(r"[.\s]+", regex=True),
        lambda e: F.regexp_split(e, r"[.\s]+"),
        _each(lambda w: re.split(r"[.\s]+", w)),
    ),
    "concat": (
        lambda e: e.concat("!"),
        lambda e: e.str.concat("!"),
        lambda e: F.concat(e, "!"),
        _each(lambda w: w + "!"),
    ),
    "replace": (
        lambda e: e.replace(".", "-"),
        lambda e: e.str.replace(".", "-"),
        lambda e: F.replace(e, ".", "-"),
        _each(lambda w: w.replace(".", "-")),
    ),
    "regexp_replace": (
        lambda e: e.regexp_replace("[aeiou]+", "_"),
        lambda e: e.str.replace("[aeiou]+", "_", regex=True),
        lambda e: F.regexp_replace(e, "[aeiou]+", "_"),
        _each(lambda w: re.sub("[aeiou]+", "_", w)),
    ),
    "substr": (
        lambda e: e.substr(0, 2),
        lambda e: e.str.substr(0, 2),
        lambda e: F.substr(e, 0, 2),
        _each(lambda w: w[:2]),
    ),
    "substr-to-end": (
        lambda e: e.substr(2),
        lambda e: e.str.substr(2),
        lambda e: F.substr(e, 2),
        _each(lambda w: w[2:]),
    ),
}


@pytest.mark.parametrize("case", list(STRING_CASES))
def test_string_methods_give_pythons_answer(sf_runner, make_df, ex, nparts, case):
    method, _, function, expected = STRING_CASES[case]
    df = make_df({"s": WORDS}, num_partitions=nparts)
    table = ex.run(df, method(col("s")), function(col("s")).alias("f"))
    assert ex.column(table, "s") == expected
    assert ex.column(table, "f") == expected


@pytest.mark.parametrize("case", [c for c, v in STRING_CASES.items() if v[1] is not None])
def test_string_methods_build_the_str_namespace_plan(case):
    method, namespaced, function, _ = STRING_CASES[case]
    key = structural_key(namespaced(col("s")))
    assert structural_key(method(col("s"))) == key
    assert structural_key(function(col("s"))) == key


def test_like_escapes_wildcards_with_a_backslash(sf_runner, make_df, ex):
    table = ex.run(make_df({"s": ["100%", "100x", "a_b", "axb"]}), col("s").like(r"%\%"))
    assert ex.column(table, "s") == [True, False, False, False]
    table = ex.run(make_df({"s": ["100%", "100x", "a_b", "axb"]}), col("s").like(r"a\_b"))
    assert ex.column(table, "s") == [False, False, True, False]


def test_length_counts_characters_bytes_and_list_elements(sf_runner, make_df, ex, nparts):
    data = pa.table(
        {
            "s": pa.array(["héllo", None, ""], pa.large_string()),
            "b": pa.array([b"\x00\x01", b"", None]),
            "l": pa.array([[1, 2, 3], None, []]),
        }
    )
    df = make_df(data, num_partitions=nparts)
    table = ex.run(df, col("s").length(), col("b").length(), F.length(col("l")))
    assert table.to_pydict() == {"s": [5, None, 0], "b": [2, 0, None], "l": [3, None, 0]}
    assert {f.type for f in table.schema} == {pa.int64()}


STAMPS = [
    datetime.datetime(2024, 2, 29, 23, 59, 58),
    None,
    datetime.datetime(1999, 1, 4, 12, 15, 1),
    datetime.datetime(2024, 7, 7, 0, 0, 0),
]
PARTS = {
    "year": lambda t: t.year,
    "month": lambda t: t.month,
    "day": lambda t: t.day,
    "hour": lambda t: t.hour,
    "minute": lambda t: t.minute,
    "second": lambda t: t.second,
    "day_of_week": lambda t: t.weekday(),
    "date": lambda t: t.date(),
}


@pytest.mark.parametrize("part", list(PARTS))
def test_temporal_methods_give_pythons_answer(sf_runner, make_df, ex, nparts, part):
    df = make_df(pa.table({"t": pa.array(STAMPS, pa.timestamp("us"))}), num_partitions=nparts)
    table = ex.run(df, getattr(col("t"), part)(), getattr(F, part)(col("t")).alias("f"))
    expected = [None if t is None else PARTS[part](t) for t in STAMPS]
    assert ex.column(table, "t") == expected
    assert ex.column(table, "f") == expected
    assert structural_key(getattr(col("t"), part)()) == structural_key(getattr(col("t").dt, part)())


def test_date_trunc_method_and_function(sf_runner, make_df, ex):
    df = make_df(pa.table({"t": pa.array(STAMPS, pa.timestamp("us"))}), num_partitions=2)
    table = ex.run(
        df, col("t").date_trunc("1 hour"), F.date_trunc("15 minutes", col("t")).alias("q")
    )
    assert ex.column(table, "t") == [
        None if t is None else t.replace(minute=0, second=0) for t in STAMPS
    ]
    assert ex.column(table, "q") == [
        None if t is None else t.replace(minute=t.minute // 15 * 15, second=0) for t in STAMPS
    ]


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: col("s").contains(1), TypeError, "contains needs a string argument, got 1"),
        (
            lambda: col("s").startswith(col("p")),
            TypeError,
            r"startswith needs a string argument, got the expression col\(p\); a value per row",
        ),
        (lambda: F.endswith(col("s"), None), TypeError, "endswith needs a string argument"),
        (lambda: col("s").ilike(["a%"]), TypeError, r"ilike needs a string argument, got \['a%'\]"),
        (lambda: col("s").regexp("(x"), ValueError, "match/regexp: bad regular expression '\\(x'"),
        (
            lambda: col("s").regexp_split("[a-"),
            ValueError,
            "split/regexp_split: bad regular expression",
        ),
        (
            lambda: col("s").regexp_replace("a", 2),
            TypeError,
            "replace/regexp_replace needs a string argument, got 2",
        ),
        (lambda: col("s").substr("1"), TypeError, "substr start must be an int >= 0, got '1'"),
        (lambda: F.substr(col("s"), 0, -1), ValueError, "substr length must be an int >= 0"),
        (
            lambda: col("t").date_trunc("1 fortnight"),
            ValueError,
            "truncate/date_trunc: bad interval '1 fortnight'",
        ),
        (
            lambda: col("t").date_trunc("1 day", relative_to=col("t")),
            ValueError,
            r"date_trunc\(relative_to=...\) is not supported",
        ),
    ],
)
def test_bad_arguments_name_the_function_and_the_expected_type(build, error, message):
    with pytest.raises(error, match=message):
        build()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: col("n").length(), r"length.*col\(n\) \(int64\).*string, binary or list"),
        (lambda: col("n").contains("1"), r"str\.contains.*col\(n\) \(int64\).*expected a string"),
        (lambda: col("n").year(), r"dt\.year.*col\(n\) \(int64\).*expected a date or timestamp"),
    ],
)
def test_wrong_column_type_fails_when_the_plan_is_built(make_df, build, message):
    with pytest.raises(ExpressionTypeError, match=message):
        make_df({"n": [1, 2]}).select(build())
