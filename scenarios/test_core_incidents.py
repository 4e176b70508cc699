"""Chaos scenarios for the reference project: the core incidents, each recovered and verified.

Each test gets a fresh clone of the snapshotted baseline with the marker's incident injected.
The body checks that the system notices the damage; after it, the plugin lets the recovery
manager repair it and checks digests and metrics on its own.
"""

from __future__ import annotations

import pytest


@pytest.mark.incident("data_corruption", mode="noise", fraction=0.2)
def test_noise_in_numeric_features_is_detected_and_restored(ml_env):
    assert any("churn.csv" in problem for problem in ml_env.detect())


@pytest.mark.incident("data_corruption", mode="missing_values", fraction=0.2)
def test_missing_values_are_detected_and_restored(ml_env):
    assert ml_env.detect()


@pytest.mark.incident("data_corruption", mode="duplicates", fraction=0.1)
def test_duplicated_rows_are_detected_and_restored(ml_env):
    assert ml_env.detect()


@pytest.mark.incident("model_loss", mode="delete")
def test_a_deleted_model_is_restored(ml_env):
    assert any("model" in problem for problem in ml_env.detect())


@pytest.mark.incident("model_loss", mode="corrupt")
def test_a_corrupted_model_file_is_restored(ml_env):
    assert ml_env.project.check_model(ml_env.root) is not None


STAGES = ("generate", "process", "train", "evaluate")


@pytest.mark.parametrize(
    "stage", [pytest.param(s, marks=pytest.mark.incident("pipeline_failure", stage=s)) for s in STAGES]
)
def test_a_crashed_stage_is_noticed_and_rerun(ml_env, stage):
    assert any(stage in problem for problem in ml_env.detect())
