"""The shared RunnerConformance suite, run against the built-in py runner."""

from __future__ import annotations

from spillframe.testing import RunnerConformance


class TestPyRunnerConformance(RunnerConformance):
    runner_name = "py"
    runner_options = {"num_threads": 2}
