"""repr, _repr_html_ and _repr_markdown_: bounded previews that never run a query."""

from __future__ import annotations

import pytest

import spillframe as sf
from spillframe import col
from spillframe.api.display import PREVIEW_ROWS
from spillframe.runners.py_runner import PyRunner

VIEWS = ("__repr__", "_repr_html_", "_repr_markdown_")


class _NoQueries(PyRunner):
    def run(self, plan, stats=None):
        raise AssertionError(f"a display ran query {plan.name}")


@pytest.fixture
def no_queries():
    runner = _NoQueries(num_threads=1)
    previous = sf.runners.base.set_active_runner(runner)
    yield runner
    sf.runners.base.set_active_runner(previous)
    runner.close()


def _frame(n=20):
    return sf.from_pydict(
        {"id": list(range(n)), "note": [f"<b>{i}</b> | x" for i in range(n)]}, num_partitions=4
    )


@pytest.mark.parametrize("view", VIEWS)
def test_a_lazy_frame_shows_its_columns_and_runs_nothing(no_queries, view):
    df = _frame().where(col("id") > 3).sort("id", desc=True)
    shown = getattr(df, view)()
    assert "id" in shown and "note" in shown and "int64" in shown
    assert "No data to display: DataFrame not materialized" in shown
    assert ".show()" in shown and ".collect()" in shown


@pytest.mark.parametrize("view", VIEWS)
def test_a_collected_frame_previews_its_first_rows_from_the_cache(view):
    df = _frame().where(col("id") >= 2).collect()
    runner = _NoQueries(num_threads=1)
    previous = sf.runners.base.set_active_runner(runner)
    try:
        shown = getattr(df, view)()
    finally:
        sf.runners.base.set_active_runner(previous)
        runner.close()
    assert f"(showing first {PREVIEW_ROWS} of 18 rows)" in shown
    assert "9" in shown and "10" not in shown.replace("18 rows", "")  # ids 2..9 only


def test_html_escapes_cells_and_markdown_escapes_pipes():
    df = _frame(3).collect()
    html = df._repr_html_()
    assert "&lt;b&gt;0&lt;/b&gt;" in html and "<b>0</b>" not in html
    assert html.count("<tr>") == 1 + 3  # header + rows
    assert "(showing all 3 rows)" in html
    markdown = df._repr_markdown_()
    assert "| id (int64) | note (string) |" in markdown
    assert "<b>0</b> \\| x" in markdown


def test_long_cells_are_cut():
    df = sf.from_pydict({"s": ["y" * 500]}).collect()
    assert "y" * 500 not in df._repr_html_() and "…" in df._repr_html_()
