"""Each of the 22 TPC-H queries on spillframe returns DuckDB's answer (scale 0.01).

The data is generated once with ``tpchgen-cli`` and cached under ``benchmarks/data``;
the test is skipped when ``tpchgen-cli`` or DuckDB is not installed. It runs on every
runner the ``sf_runner`` fixture selects (``--spillframe-runner``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

try:
    import benchmarks.tpch  # noqa: F401
except ImportError:  # pytest's rootdir is not on sys.path when run as plain `pytest`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.tpch import datagen
from benchmarks.tpch.answers import check_query, reference_answers
from benchmarks.tpch.queries import QUERIES, make_get_table

SCALE = 0.01


@pytest.fixture(scope="session", params=["normalized", "raw"])
def tpch_tables(request) -> dict[str, str]:
    """Paths of the TPC-H tables at scale 0.01, generated on first use: as generated
    ("raw": decimal128 money, string_view text) and normalized (float64, string)."""
    if not datagen.tpchgen_available():
        pytest.skip("tpchgen-cli is not installed (pip install 'spillframe[benchmark]')")
    return datagen.generate(SCALE)[request.param]


@pytest.fixture(scope="session")
def tpch_answers(tpch_tables):
    """DuckDB's answers to the 22 queries over the same files."""
    pytest.importorskip("duckdb", reason="duckdb computes the reference answers")
    return reference_answers(tpch_tables, sorted(QUERIES))


@pytest.mark.parametrize("qnum", sorted(QUERIES))
def test_query(sf_runner, qnum, tpch_tables, tpch_answers):
    import spillframe

    result = QUERIES[qnum](make_get_table(spillframe, tpch_tables)).to_arrow()
    check_query(qnum, result, tpch_answers[qnum])


def _table(**columns):
    import pyarrow as pa

    return pa.table(columns)


def test_compare_accepts_float_noise_and_tied_rows_in_any_order():
    from benchmarks.tpch.answers import compare_answers

    expected = _table(k=["a", "b", "c"], v=[2.0, 1.0, 1.0])
    actual = _table(K=["a", "c", "b"], v=[2.0 + 1e-9, 1.0, 1.0])
    compare_answers(actual, expected, [("v", True)])


@pytest.mark.parametrize(
    ("actual", "message"),
    [
        (_table(k=["b", "a"], v=[1.0, 2.0]), "out of order"),
        (_table(k=["a", "b"], v=[2.0, 1.5]), "differs in"),
        (_table(k=["a"], v=[2.0]), "1 rows, expected 2"),
        (_table(key=["a", "b"], v=[2.0, 1.0]), "columns differ"),
    ],
)
def test_compare_rejects_wrong_answers(actual, message):
    from benchmarks.tpch.answers import AnswerMismatch, compare_answers

    expected = _table(k=["a", "b"], v=[2.0, 1.0])
    with pytest.raises(AnswerMismatch, match=message):
        compare_answers(actual, expected, [("v", True)])
