"""The pytest plugin works for a downstream project (run through pytester)."""

from __future__ import annotations

import pytest

import spillframe as sf

pytest_plugins = ["pytester"]

DOWNSTREAM_TEST = """
import spillframe as sf
from spillframe.testing import assert_df_equal

def test_totals(sf_runner, make_df):
    assert sf.get_runner() is sf_runner
    df = make_df({"k": ["a", "b", "a"], "v": [1, 2, 3]}, num_partitions=2)
    assert_df_equal(df.groupby("k").agg(sf.col("v").sum()), {"k": ["a", "b"], "v": [4, 2]})
"""


def test_fixtures_found_and_ids_show_the_runner(pytester):
    pytester.makepyfile(DOWNSTREAM_TEST)
    result = pytester.runpytest("--spillframe-runner=py", "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_totals?py? PASSED*"])


def test_environment_variable_selects_runners(pytester, monkeypatch):
    monkeypatch.setenv("SPILLFRAME_TEST_RUNNER", "py,py")
    pytester.makepyfile(DOWNSTREAM_TEST)
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_missing_runner_is_skipped_with_install_hint(pytester):
    pytester.makepyfile(DOWNSTREAM_TEST)
    result = pytester.runpytest("--spillframe-runner=nosuch", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*runner 'nosuch' is not installed*"])


def test_option_all_runs_every_installed_runner(pytester):
    pytester.makepyfile(DOWNSTREAM_TEST)
    result = pytester.runpytest_subprocess(
        "--spillframe-runner=all", "-v", "-p", "no:cacheprovider"
    )
    names = sf.available_runners()
    result.assert_outcomes(passed=len(names))
    for name in names:
        result.stdout.fnmatch_lines([f"*test_totals?{name}? PASSED*"])


def test_restores_previous_runner(pytester):
    pytester.makepyfile("""
import spillframe as sf

def test_a(sf_runner):
    pass

def test_b():
    assert sf.get_runner().name == "py"
""")
    result = pytester.runpytest("--spillframe-runner=py", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_make_df_rejects_unknown_input(make_df):
    with pytest.raises(TypeError, match="make_df takes a dict"):
        make_df(42)
