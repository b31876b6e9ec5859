"""What a user sees of a query on Dask: per-stage stats, lost workers, progress bars."""

from __future__ import annotations

import pytest
import sfdask_kernels as k
import spillframe_dask.runner as runner_module

from spillframe.runners.stats import QueryRecorder


def test_stats_count_every_task_with_its_rows_bytes_and_grant(dask_runner):
    plan = k.shuffle_plan(rows=1000, parts=4, buckets=4)
    recorder = QueryRecorder(plan, "dask")
    parts = list(dask_runner.run(plan, stats=recorder))
    stats = recorder.finish()
    assert stats.rows_out == sum(p.num_rows for p in parts) == 1000
    names = [s.name for s in stats.stages]
    assert names == [s.name for s in plan.topological_stages()]
    for stage in stats.stages:
        assert stage.tasks == stage.planned_tasks == plan.stages[stage.stage_id].num_partitions
        assert stage.rows_out == 1000  # every row once per stage (the split: in its buckets)
        assert stage.bytes_out > 0 and stage.task_seconds > 0
        # The grant a worker gave: at least 1/16 of its 1 GiB limit.
        assert stage.peak_reserved_bytes >= (1 << 30) // 16
        assert stage.worker_restarts == 0
    assert stats.worker_restarts == 0


def test_a_killed_worker_is_counted_for_the_stage_it_was_running(dask_runner, tmp_path):
    marker = tmp_path / "killed-once"
    plan, kill_stage = k.killed_once_plan(str(marker))
    recorder = QueryRecorder(plan, "dask")
    (out,) = dask_runner.run(plan, stats=recorder)
    stats = recorder.finish()
    assert marker.exists() and out.num_rows == 400
    assert stats.worker_restarts >= 1
    assert stats.stage(kill_stage).worker_restarts >= 1
    assert stats.stage(kill_stage).tasks == 1  # the run that died published nothing


@pytest.fixture
def bars(dask_runner, monkeypatch):
    made = []

    def keep(plan, keys):
        created = real(plan, keys)
        made.append(created)
        return created

    real = runner_module.stage_bars
    monkeypatch.setattr(runner_module, "stage_bars", keep)
    monkeypatch.setattr(dask_runner, "progress", True)
    return made


def test_progress_shows_a_bar_per_stage_that_reaches_its_task_count(dask_runner, bars, capsys):
    plan = k.shuffle_plan(rows=1000, parts=4, buckets=4)
    list(dask_runner.run(plan))
    (made,) = bars
    assert sorted(made) == sorted(plan.stages)
    for stage_id, bar in made.items():
        assert bar.desc == f"{plan.stages[stage_id].name} [{stage_id}]"
        assert bar.n == bar.total == plan.stages[stage_id].num_partitions
    assert "hash-split [1]" in capsys.readouterr().err


def test_no_bars_unless_asked(dask_runner, monkeypatch):
    monkeypatch.setattr(runner_module, "stage_bars", lambda plan, keys: pytest.fail("a bar"))
    monkeypatch.setattr(dask_runner, "progress", False)
    assert len(list(dask_runner.run(k.shuffle_plan(rows=100, parts=2, buckets=2)))) == 2


def test_progress_follows_the_py_runners_rule(monkeypatch):
    from spillframe_dask.options import DaskRunnerOptions

    from spillframe.runners.progress import wants_progress

    monkeypatch.setenv("SPILLFRAME_PROGRESS", "1")
    assert wants_progress(DaskRunnerOptions().progress) is True
    assert wants_progress(DaskRunnerOptions(progress=False).progress) is False
