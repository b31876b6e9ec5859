"""SerialRunner, the executable spec of the Runner contract, passes RunnerConformance;
and the suite's contract tests fail for runners that break the contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from spillframe.physical.plan import PhysicalPlan
from spillframe.runners.serial import SerialRunner
from spillframe.testing import RunnerConformance


class TestSerialRunnerConformance(RunnerConformance):
    runner_factory = SerialRunner


class EagerRunner(SerialRunner):
    """Runs the whole plan inside run()."""

    def run(self, plan: PhysicalPlan) -> Iterator[pa.Table]:
        return iter(list(super().run(plan)))


class EveryStageRunner(SerialRunner):
    """Runs every stage, reachable or not, then the plan."""

    def run(self, plan: PhysicalPlan) -> Iterator[pa.Table]:
        for stage in plan.topological_stages():
            for task in stage.tasks:
                if not task.refs():
                    task.kernel(*task.args)
        return super().run(plan)


class WrappingRunner(SerialRunner):
    """Turns kernel errors into RuntimeError."""

    def run(self, plan: PhysicalPlan) -> Iterator[pa.Table]:
        try:
            yield from super().run(plan)
        except Exception as exc:
            raise RuntimeError(f"task failed: {exc}") from exc


class UncheckedRunner(SerialRunner):
    """Runs tasks whatever they request."""

    def _check(self, plan: PhysicalPlan, key: tuple[int, int]) -> None:
        pass


FAILED = (AssertionError, pytest.fail.Exception)


@pytest.mark.parametrize(
    ("runner", "test", "failure"),
    [
        (EagerRunner, "test_nothing_runs_before_the_first_partition", FAILED),
        (EveryStageRunner, "test_unreachable_stages_never_run", FAILED),
        (EagerRunner, "test_closing_the_stream_stops_the_work", FAILED),
        (WrappingRunner, "test_a_kernel_error_keeps_its_type", RuntimeError),
        (UncheckedRunner, "test_an_impossible_request_fails_before_any_task_runs", FAILED),
    ],
)
def test_the_contract_tests_catch_a_broken_runner(runner, test, failure, tmp_path: Path):
    check = getattr(RunnerConformance(), test)
    args = (runner(),) if test == "test_a_kernel_error_keeps_its_type" else (runner(), tmp_path)
    with pytest.raises(failure):
        check(*args)
