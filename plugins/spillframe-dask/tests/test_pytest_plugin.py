"""The plugin's own pytest plugin: the core's sf_runner asks it for the Dask options."""

from __future__ import annotations

import pytest
from spillframe_dask import testing


def test_the_hook_answers_for_dask_only():
    assert testing.pytest_spillframe_runner_options("dask") == testing.TEST_OPTIONS
    assert testing.pytest_spillframe_runner_options("py") is None


def test_the_plugin_is_registered_with_pytest(pytestconfig: pytest.Config):
    """Through the pytest11 entry point: installing the plugin is enough."""
    answer = pytestconfig.hook.pytest_spillframe_runner_options(name="dask")
    assert answer == testing.TEST_OPTIONS
    assert pytestconfig.hook.pytest_spillframe_runner_options(name="py") is None


def test_dask_cluster_fixture_comes_from_the_plugin(request: pytest.FixtureRequest):
    defs = request._fixturemanager.getfixturedefs("dask_cluster", request.node)
    assert defs and defs[-1].func.__module__ == "spillframe_dask.testing"
