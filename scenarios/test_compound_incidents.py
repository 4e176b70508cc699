"""Compound incidents: each knocks out the first strategies of a recovery chain, so a later one must win.

Stacked markers are injected in reading order, top first.
"""

from __future__ import annotations

import pytest

incident = pytest.mark.incident


def strategies_tried(env) -> list[str]:
    return [attempt.strategy for attempt in env.recover().attempts]


@incident("data_corruption", mode="missing_values", fraction=0.3)
@incident("storage_loss", mode="backup_loss")
def test_data_without_backups_comes_back_from_the_dvc_cache(ml_env):
    result = ml_env.recover()
    assert result.recovered
    assert "dvc_cache" in result.strategy


@incident("data_corruption", mode="bitflip", flips=4)
@incident("storage_loss", mode="backup_loss")
@incident("storage_loss", mode="dvc_cache_loss")
def test_data_without_backups_or_cache_comes_back_from_the_remote(ml_env):
    result = ml_env.recover()
    assert result.recovered
    assert "dvc_remote" in result.strategy


@incident("model_loss", mode="delete")
@incident("storage_loss", mode="backup_loss")
@incident("storage_loss", mode="dvc_cache_loss")
@incident("storage_loss", mode="dvc_remote_loss", how="unreachable")
def test_a_model_with_no_file_copies_left_comes_back_from_the_registry(ml_env):
    result = ml_env.recover()
    assert result.recovered
    assert "mlflow_registry" in result.strategy


@incident("model_loss", mode="corrupt")
@incident("storage_loss", mode="dvc_cache_corruption", objects=8)
@incident("storage_loss", mode="backup_loss")
def test_a_corrupted_cache_is_not_trusted_when_restoring_a_model(ml_env):
    """The cache object looks fine to DVC (same size, mode, mtime); only its md5 tells."""
    assert ml_env.recover().recovered


@incident("data_corruption", mode="noise", fraction=0.2)
@incident("model_loss", mode="wrong_model")
@incident("pipeline_failure", mode="stale_lock", lock="rwlock", blocking=False)
def test_damage_to_data_model_and_pipeline_at_once_is_all_repaired(ml_env):
    assert len(ml_env.incidents) == 3


@incident("pipeline_failure", mode="crash", stage="train", persistent=True)
def test_a_persistently_crashing_stage_leaves_the_last_good_outputs_in_place(ml_env):
    """Resetting the outputs to dvc.lock is a recovery; the next pipeline run would still fail."""
    assert ml_env.recover().recovered


@incident("pipeline_failure", mode="crash", stage="train", persistent=True, expect="unrecoverable")
@incident("storage_loss", mode="dvc_remote_loss", how="emptied")
@incident("storage_loss", mode="dvc_cache_loss")
@incident("storage_loss", mode="backup_loss")
def test_a_crashing_stage_with_no_copies_left_is_reported_unrecoverable(ml_env):
    """Only a rerun could bring the model back, and the stage keeps crashing: the system must say so."""
    assert ml_env.detect()
