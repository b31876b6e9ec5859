"""The runner registry and the active-runner setting."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import spillframe as sf
from spillframe.runners import base


@pytest.fixture
def fresh_setting(monkeypatch):
    """No active runner, so the next get_runner() reads the environment."""
    previous = base.set_active_runner(None)
    yield
    current = base.set_active_runner(previous)
    if current is not None and current is not previous:
        current.close()


@pytest.fixture
def registry(monkeypatch):
    """A registry holding only the given entry points."""

    def install(*eps):
        monkeypatch.setattr(base, "entry_points", lambda group: list(eps))
        monkeypatch.setattr(base._REGISTRY, "factories", None)

    yield install
    base._REGISTRY.factories = None


def test_py_is_registered_and_first():
    assert sf.available_runners()[0] == "py"


def test_unknown_runner_lists_installed():
    with pytest.raises(sf.RunnerError, match=r"no runner named 'nope'.*installed: py"):
        sf.set_runner("nope")


def test_missing_plugin_says_what_to_install(registry):
    registry(
        SimpleNamespace(
            name="py",
            value="spillframe.runners.py_runner:PyRunner",
            load=lambda: __import__("spillframe").runners.py_runner.PyRunner,
        )
    )
    with pytest.raises(sf.RunnerError, match="pip install spillframe-dask"):
        sf.set_runner_dask()


def test_duplicate_runner_names_are_an_error(registry):
    registry(
        SimpleNamespace(name="x", value="a:A", load=None),
        SimpleNamespace(name="x", value="b:B", load=None),
    )
    with pytest.raises(sf.RunnerError, match="two installed distributions register .*'x'"):
        sf.available_runners()


def test_environment_is_read_at_first_use(monkeypatch, fresh_setting):
    monkeypatch.setenv("SPILLFRAME_RUNNER", "py")
    monkeypatch.setenv("SPILLFRAME_RUNNER_OPTIONS", '{"num_threads": 1}')
    runner = sf.get_runner()
    assert runner.name == "py"
    assert runner.options["num_threads"] == 1


def test_bad_options_json_is_explained(monkeypatch, fresh_setting):
    monkeypatch.setenv("SPILLFRAME_RUNNER_OPTIONS", "{num_threads: 1}")
    with pytest.raises(sf.RunnerError, match="SPILLFRAME_RUNNER_OPTIONS is not valid JSON"):
        sf.get_runner()


def test_explicit_call_wins_over_environment(monkeypatch, fresh_setting):
    monkeypatch.setenv("SPILLFRAME_RUNNER", "nope")
    sf.set_runner_py(num_threads=1)
    assert sf.get_runner().options["num_threads"] == 1


def test_scoped_runner_is_restored(fresh_setting):
    outer = sf.set_runner_py(num_threads=2)
    with sf.runner("py", num_threads=1) as inner:
        assert sf.get_runner() is inner
        assert sf.from_pydict({"a": [1]}).to_pydict() == {"a": [1]}
    assert sf.get_runner() is outer


def test_bad_runner_options_fail_clearly():
    with pytest.raises(ValueError, match="num_threads must be a positive int"):
        sf.set_runner_py(num_threads=-1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        sf.set_runner("py", workers=3)
