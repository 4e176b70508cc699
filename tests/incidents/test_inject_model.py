"""Model loss: broken files fail to load, a wrong model loads but scores worse, registry damage is what MLflow sees."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

import pytest
from mlchaos_testenv import ARTIFACTS, MODEL, MODEL_NAME, holdout_accuracy

from pytest_mlchaos.incidents import Incident, IncidentError, inject


def run(root: Path, mode: str, seed: int = 1, **params):
    return inject(root, Incident("model_loss", mode, params, seed=seed), artifacts=ARTIFACTS)


def client(root: Path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{root / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_delete_removes_the_model_file(env: Path) -> None:
    run(env, "delete")
    assert not (env / MODEL).exists()


def test_corrupt_overwrites_the_header_so_loading_fails_and_size_is_kept(env: Path) -> None:
    import joblib

    size = (env / MODEL).stat().st_size
    original = (env / MODEL).read_bytes()
    injection = run(env, "corrupt", nbytes=32)
    damaged = (env / MODEL).read_bytes()
    assert len(damaged) == size
    assert damaged[32:] == original[32:] and damaged[:32] != original[:32]
    with pytest.raises((pickle.UnpicklingError, ValueError, EOFError, KeyError, IndexError)):
        joblib.load(env / MODEL)
    assert "offset 0" in injection.description


def test_truncate_leaves_a_model_that_cannot_load(env: Path) -> None:
    import joblib

    size = (env / MODEL).stat().st_size
    run(env, "truncate", fraction=0.5)
    assert (env / MODEL).stat().st_size == size // 2
    with pytest.raises((EOFError, pickle.UnpicklingError, ValueError)):
        joblib.load(env / MODEL)


@pytest.mark.parametrize("variant", ["pruned", "degraded"])
def test_wrong_model_loads_and_predicts_but_scores_worse(env: Path, variant: str) -> None:
    import joblib

    baseline = holdout_accuracy(env)
    injection = run(env, "wrong_model", variant=variant, fraction=0.4)
    model = joblib.load(env / MODEL)
    worse = holdout_accuracy(env)
    assert worse < baseline - 0.02, (baseline, worse)
    assert hasattr(model, "predict")
    if variant == "pruned":
        assert len(model.steps[-1][1].estimators_) == 1
    else:
        assert type(model).__name__ == "DegradedModel"
        assert model.predict_proba is not None and model.named_steps  # delegates like the real Pipeline
    assert "worse model" in injection.description


def test_wrong_model_pruned_on_a_model_without_trees_is_refused(tmp_path: Path) -> None:
    import joblib
    from sklearn.linear_model import LogisticRegression

    from pytest_mlchaos.artifacts import Artifacts

    joblib.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), tmp_path / "m.joblib")
    before = (tmp_path / "m.joblib").read_bytes()
    with pytest.raises(IncidentError, match="variant='pruned' needs a forest.*allowed variants: auto, degraded"):
        inject(tmp_path, Incident("model_loss", "wrong_model", {"variant": "pruned"}), artifacts=Artifacts(models=("m.joblib",)))
    assert (tmp_path / "m.joblib").read_bytes() == before


def test_the_mlflow_tables_the_registry_injectors_edit_exist_in_a_real_database(env: Path) -> None:
    with sqlite3.connect(env / "mlflow.db") as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        cols = {r[1] for r in con.execute("PRAGMA table_info(model_versions)")}
    con.close()
    assert {"registered_models", "model_versions", "registered_model_aliases"} <= tables
    assert {"name", "version", "current_stage", "source", "run_id", "run_link", "last_updated_time"} <= cols


def test_registry_alias_lost_is_what_mlflow_reports(env: Path) -> None:
    from mlflow.exceptions import MlflowException

    assert client(env).get_model_version_by_alias(MODEL_NAME, "production").version in (2, "2")
    injection = run(env, "registry_alias_lost")
    c = client(env)
    with pytest.raises(MlflowException, match="production"):
        c.get_model_version_by_alias(MODEL_NAME, "production")
    assert str(c.get_model_version(MODEL_NAME, "2").version) == "2"  # the version itself is still there
    assert injection.touched == ("mlflow.db",)
    with pytest.raises(IncidentError, match="has no alias 'production'"):
        run(env, "registry_alias_lost")


def test_registry_version_deleted_looks_like_mlflows_own_delete(env: Path) -> None:
    from mlflow.exceptions import MlflowException

    injection = run(env, "registry_version_deleted")
    c = client(env)
    with pytest.raises(MlflowException):
        c.get_model_version(MODEL_NAME, "2")
    with pytest.raises(MlflowException):
        c.get_model_version_by_alias(MODEL_NAME, "production")
    assert [str(v.version) for v in c.search_model_versions(f"name='{MODEL_NAME}'")] == ["1"]
    assert "version 2" in injection.description and "production" in injection.description


def test_registry_version_deleted_names_the_live_versions_when_asked_for_another(env: Path) -> None:
    before = (env / "mlflow.db").read_bytes()
    with pytest.raises(IncidentError, match=r"version=7 is not a live version of 'churn-model'; versions: 1, 2"):
        run(env, "registry_version_deleted", version=7)
    assert (env / "mlflow.db").read_bytes() == before
