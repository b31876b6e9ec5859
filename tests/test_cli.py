"""``spillframe demo``: generates data, runs a query, prints result, plan and time."""

from __future__ import annotations

from spillframe.cli import main


def test_demo_prints_result_plan_and_time(tmp_path, capsys, sf_runner):
    assert main(["demo", "--rows", "20000", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Generated 20,000 sales rows" in out
    assert "(showing" in out and "region" in out
    assert "== Physical plan ==" in out and "partitions" in out
    assert "Query time:" in out
    assert "What each stage did" in out and "rows_out" in out and "spillframe-sort-from" in out
