"""The Daft engine of the TPC-H benchmark needs Daft >= 0.7, and the shared query
functions give DuckDB's answers on it (scale 0.01; skipped without Daft)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

try:
    import benchmarks.tpch  # noqa: F401
except ImportError:  # pytest's rootdir is not on sys.path when run as plain `pytest`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.tpch import datagen
from benchmarks.tpch.answers import check_query, reference_answers
from benchmarks.tpch.engines import DaftEngine, EngineUnavailable, release
from benchmarks.tpch.queries import QUERIES


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.7.26", (0, 7, 26)), ("0.6.14", (0, 6, 14)), ("1.0.0rc1", (1, 0)), ("unknown", ())],
)
def test_release_reads_the_leading_numbers(version, expected):
    assert release(version) == expected


@pytest.mark.parametrize("version", ["0.6.14", "unknown"])
def test_daft_older_than_0_7_is_unavailable_with_the_install_line(monkeypatch, version):
    monkeypatch.setitem(sys.modules, "daft", types.SimpleNamespace(__version__=version))
    with pytest.raises(EngineUnavailable, match=rf"daft {version} is installed.*0\.7 or newer"):
        DaftEngine({})
    with pytest.raises(EngineUnavailable, match=r"pip install 'daft>=0\.7' --no-deps"):
        DaftEngine({})


def test_missing_daft_is_unavailable_with_the_install_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "daft", None)  # makes `import daft` raise ImportError
    with pytest.raises(
        EngineUnavailable, match=r"daft is not installed \(pip install 'daft>=0\.7'"
    ):
        DaftEngine({})


def test_queries_on_daft_give_duckdbs_answers():
    daft = pytest.importorskip("daft", reason="Daft is an optional peer (pip install 'daft>=0.7')")
    if release(daft.__version__) < (0, 7):
        pytest.skip(f"daft {daft.__version__} is older than 0.7")
    if not datagen.tpchgen_available():
        pytest.skip("tpchgen-cli is not installed (pip install 'spillframe[benchmark]')")
    pytest.importorskip("duckdb", reason="duckdb computes the reference answers")
    tables = datagen.generate(0.01)["normalized"]
    answers = reference_answers(tables, sorted(QUERIES))
    engine = DaftEngine(tables)
    for qnum in sorted(QUERIES):
        check_query(qnum, engine.execute(qnum), answers[qnum])
