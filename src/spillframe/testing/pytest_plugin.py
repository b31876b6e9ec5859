"""pytest plugin: run tests on every spillframe runner.

Registered through the ``pytest11`` entry point, so installing spillframe is enough.

- ``--spillframe-runner=py|dask|all`` (or a comma list; env ``SPILLFRAME_TEST_RUNNER``;
  default ``py``) selects the runners; ``all`` means every installed runner.
- ``sf_runner`` parametrizes a test over the selected runners (ids ``[py]``,
  ``[dask]``); the runner is active during the test and restored after. Runners
  (and their clusters) are created once per session.
- ``make_df(data, num_partitions=None)`` builds a DataFrame from a dict, list of rows,
  pandas DataFrame or Arrow table.
- A runner's own pytest plugin says which options its tests run it with, through the
  ``pytest_spillframe_runner_options(name)`` hook (the Dask plugin's gives a small
  cluster); runner-specific fixtures live there too (the Dask plugin's
  ``dask_cluster``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from spillframe.runners.base import (
    KNOWN_PLUGINS,
    Runner,
    available_runners,
    create_runner,
    set_active_runner,
)

OPTION = "--spillframe-runner"
ENV = "SPILLFRAME_TEST_RUNNER"
OPTIONS_ENV = "SPILLFRAME_TEST_RUNNER_OPTIONS"


class _Hooks:
    """Hooks a runner's own pytest plugin implements."""

    @pytest.hookspec(firstresult=True)
    def pytest_spillframe_runner_options(self, name: str) -> dict[str, Any] | None:
        """Small, test-friendly options for the runner called ``name`` (None: not
        this plugin's runner). SPILLFRAME_TEST_RUNNER_OPTIONS (JSON ``{name: {...}}``)
        overrides them."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(_Hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("spillframe")
    group.addoption(
        OPTION,
        action="store",
        default=None,
        help="runner(s) for tests using sf_runner: py, dask, a comma list, or all "
        f"(default: ${ENV} or py)",
    )


def selected_runners(config: pytest.Config) -> list[str]:
    """Runner names chosen by the option, the environment, or the default."""
    value = config.getoption(OPTION) or os.environ.get(ENV) or "py"
    if value == "all":
        return available_runners()
    return [v.strip() for v in value.split(",") if v.strip()]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "sf_runner" in metafunc.fixturenames:
        names = selected_runners(metafunc.config)
        metafunc.parametrize("sf_runner", names, ids=names, indirect=True)


def _runner_options(config: pytest.Config, name: str) -> dict[str, Any]:
    options = dict(config.hook.pytest_spillframe_runner_options(name=name) or {})
    raw = os.environ.get(OPTIONS_ENV)
    if raw:
        options.update(json.loads(raw).get(name, {}))
    return options


class _RunnerPool:
    """Creates each runner once per session and closes them all at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.runners: dict[str, Runner] = {}

    def get(self, name: str) -> Runner:
        if name not in self.runners:
            if name not in available_runners():
                hint = (
                    f"pip install {KNOWN_PLUGINS[name]}"
                    if name in KNOWN_PLUGINS
                    else f"install the distribution providing {name!r}"
                )
                pytest.skip(f"spillframe runner {name!r} is not installed; {hint}")
            self.runners[name] = create_runner(name, **_runner_options(self.config, name))
        return self.runners[name]

    def close(self) -> None:
        for runner in self.runners.values():
            runner.close()
        self.runners.clear()


@pytest.fixture(scope="session")
def _sf_runner_pool(pytestconfig: pytest.Config) -> Iterator[_RunnerPool]:
    pool = _RunnerPool(pytestconfig)
    yield pool
    pool.close()


@pytest.fixture
def sf_runner(request: pytest.FixtureRequest, _sf_runner_pool: _RunnerPool) -> Iterator[Runner]:
    """The runner under test (parametrized over the selected runners), active for the test."""
    name = getattr(request, "param", None) or selected_runners(request.config)[0]
    runner = _sf_runner_pool.get(name)
    previous = set_active_runner(runner)
    try:
        yield runner
    finally:
        set_active_runner(previous)


@pytest.fixture
def make_df() -> Callable[..., Any]:
    """``make_df(data, num_partitions=None)``: a spillframe DataFrame from test data."""
    import pandas as pd
    import pyarrow as pa

    import spillframe as sf

    def make(data: Any, num_partitions: int | None = None) -> sf.DataFrame:
        if isinstance(data, dict):
            return sf.from_pydict(data, num_partitions=num_partitions)
        if isinstance(data, list):
            return sf.from_pylist(data, num_partitions=num_partitions)
        if isinstance(data, pd.DataFrame):
            return sf.from_pandas(data, num_partitions=num_partitions)
        if isinstance(data, (pa.Table, pa.RecordBatch)):
            return sf.from_arrow(data, num_partitions=num_partitions)
        raise TypeError(
            f"make_df takes a dict, list of rows, pandas DataFrame or Arrow "
            f"table, got {type(data).__name__}"
        )

    return make
