"""Runner options are validated before any cluster starts."""

from __future__ import annotations

import pytest
from spillframe_dask.options import DaskRunnerOptions

from spillframe.runners.base import available_runners, create_runner


def test_runner_is_registered_under_the_entry_point():
    assert "dask" in available_runners()


def test_unknown_option_names_it_and_lists_valid_ones():
    with pytest.raises(
        TypeError, match=r"'num_wrkers'.*valid options are: address, security, n_workers"
    ):
        create_runner("dask", num_wrkers=2)


@pytest.mark.parametrize(
    "name", ["memory_target", "memory_spill", "memory_pause", "memory_terminate"]
)
@pytest.mark.parametrize("value", [0, 1.5, -0.1, "0.5", True])
def test_thresholds_must_be_fractions(name, value):
    with pytest.raises(ValueError, match=f"{name} must be a fraction"):
        DaskRunnerOptions(**{name: value})


def test_thresholds_map_to_worker_memory_config():
    options = DaskRunnerOptions(memory_target=0.5, memory_spill=False)
    assert options.threshold_config() == {
        "distributed.worker.memory.target": 0.5,
        "distributed.worker.memory.spill": False,
    }


def test_cluster_options_conflict_with_an_address():
    with pytest.raises(ValueError, match="n_workers only apply to a LocalCluster"):
        DaskRunnerOptions(address="tcp://127.0.0.1:8786", n_workers=2)


def test_worker_counts_must_be_positive():
    with pytest.raises(ValueError, match="n_workers must be a positive integer"):
        DaskRunnerOptions(n_workers=0)


def test_a_spill_dir_that_is_a_file_is_refused_before_workers_start(tmp_path):
    from spillframe.errors import SpillError

    path = tmp_path / "a-file"
    path.write_text("x")
    with pytest.raises(SpillError, match=r"spill_dir=.*a-file.*is a file, not a directory"):
        create_runner("dask", n_workers=1, spill_dir=str(path))
    assert path.read_text() == "x"
