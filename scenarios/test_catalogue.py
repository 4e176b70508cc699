"""Every incident of the catalogue against the reference project: recovered, or honestly unrecoverable.

The core incidents are in ``test_core_incidents.py``; compound incidents that knock out the
first strategies of a recovery chain are in ``test_compound_incidents.py``.
"""

from __future__ import annotations

import pytest

incident = pytest.mark.incident


def case(id: str, *marks: pytest.MarkDecorator):
    return pytest.param(id, marks=list(marks), id=id)


DATA = [
    case("label_flip", incident("data_corruption", mode="label_flip", fraction=0.2)),
    case("schema_drift_drop", incident("data_corruption", mode="schema_drift", change="drop")),
    case("schema_drift_rename", incident("data_corruption", mode="schema_drift", change="rename")),
    case("schema_drift_reorder", incident("data_corruption", mode="schema_drift", change="reorder")),
    case("schema_drift_dtype", incident("data_corruption", mode="schema_drift", change="dtype")),
    case("truncate", incident("data_corruption", mode="truncate", fraction=0.5)),
    case("delete", incident("data_corruption", mode="delete")),
    case("processed_split", incident("data_corruption", mode="noise", fraction=0.3, target="data/processed/train.csv")),
]

MODEL = [
    case("truncate", incident("model_loss", mode="truncate")),
    case("corrupt_random", incident("model_loss", mode="corrupt", where="random", nbytes=256)),
    case("wrong_model", incident("model_loss", mode="wrong_model")),
    case("registry_alias_lost", incident("model_loss", mode="registry_alias_lost")),
    case("registry_version_deleted", incident("model_loss", mode="registry_version_deleted")),
]

PIPELINE = [
    case("hang", incident("pipeline_failure", mode="hang", stage="train", seconds=0.1)),
    case("partial_write", incident("pipeline_failure", mode="partial_write", stage="process")),
    case("stale_rwlock", incident("pipeline_failure", mode="stale_lock", lock="rwlock", stage="train")),
    case("stale_repo_lock", incident("pipeline_failure", mode="stale_lock", lock="lock")),
    case("half_written_dvc_lock", incident("pipeline_failure", mode="stale_lock", lock="dvc_lock")),
    case("disk_full", incident("pipeline_failure", mode="disk_full", stage="train")),
]

STORAGE = [
    case("dvc_cache_corruption", incident("storage_loss", mode="dvc_cache_corruption", objects=2)),
    case("dvc_cache_loss", incident("storage_loss", mode="dvc_cache_loss")),
    case("dvc_remote_emptied", incident("storage_loss", mode="dvc_remote_loss", how="emptied")),
    case("dvc_remote_unreachable", incident("storage_loss", mode="dvc_remote_loss", how="unreachable")),
    case("backup_loss", incident("storage_loss", mode="backup_loss")),
    case("mlflow_header", incident("storage_loss", mode="mlflow_store_corruption", where="header")),
    case("mlflow_pages", incident("storage_loss", mode="mlflow_store_corruption", where="pages", pages=2)),
]


@pytest.mark.parametrize("name", DATA)
def test_data_corruption_is_detected_and_recovered(ml_env, name):
    assert ml_env.detect(), f"{name}: the system did not notice the damage"


@pytest.mark.parametrize("name", MODEL)
def test_model_loss_is_detected_and_recovered(ml_env, name):
    assert ml_env.detect(), f"{name}: the system did not notice the damage"


@pytest.mark.parametrize("name", PIPELINE)
def test_pipeline_failure_is_detected_and_recovered(ml_env, name):
    assert ml_env.detect(), f"{name}: the system did not notice the failure"


@pytest.mark.parametrize("name", STORAGE)
def test_storage_loss_is_detected_and_repaired(ml_env, name):
    assert ml_env.detect(), f"{name}: the system did not notice the damage"


@incident("data_corruption", mode="bitflip", flips=1)
def test_a_same_size_same_mtime_bitflip_is_detected_by_content(ml_env):
    """The damage DVC's own status() trusts away (same size, mtime put back) must still be caught."""
    (injection,) = ml_env.injections
    assert injection.touched == ("data/raw/churn.csv",)
    assert any("churn.csv" in problem for problem in ml_env.detect())


@incident("data_corruption", mode="stale_version", fraction=0.2)
def test_a_stale_but_consistent_data_version_is_detected(ml_env):
    assert any("churn.csv" in problem for problem in ml_env.detect())
