"""Outages of the S3 remote (a real moto server behind the fault proxy, reached by dvc-s3 over HTTP).

Each test runs against the services (marker ``mlchaos_services``): its environment's DVC remote is
a bucket of its own, and the plugin checks that bucket itself after the outage is lifted. In the
first group every other copy of the raw data is gone too (backups, DVC cache, the local remote
directory), so only the S3 remote can give it back: the reference manager waits the outage out
with retries and backoff, or, when the remote never answers in time, falls back to the snapshot.
The flaky remote has a fixed seed: with 30% of requests failing and several requests per DVC
fetch, some seeds exhaust the retry budget (then the snapshot wins), and a gate must not depend
on the session's seed for that.
"""

from __future__ import annotations

import pytest

RAW = "data/raw/churn.csv"



def only_s3_holds_raw(test):  # type: ignore[no-untyped-def]
    """Every other copy of the raw data gone: backups, DVC cache, the local remote directory; then the data."""
    for mark in reversed([
        pytest.mark.incident("storage_loss", mode="backup_loss", fraction=1.0),
        pytest.mark.incident("storage_loss", mode="dvc_cache_loss", fraction=1.0),
        pytest.mark.incident("storage_loss", mode="dvc_remote_loss", how="emptied"),
        pytest.mark.incident("data_corruption", mode="missing_values", target=RAW, fraction=0.2),
    ]):
        test = mark(test)
    return test


def outage(mode: str, **params: object) -> pytest.MarkDecorator:
    return pytest.mark.incident("service_outage", mode=mode, **params)


@pytest.mark.mlchaos_services("s3")
@pytest.mark.parametrize(
    "mode",
    [
        pytest.param("none", id="no-outage"),
        pytest.param("remote_down", marks=outage("remote_down", duration=2.0), id="remote_down-2s"),
        pytest.param("remote_slow", marks=outage("remote_slow", latency=0.3), id="remote_slow"),
        pytest.param("remote_flaky", marks=outage("remote_flaky", fraction=0.3, seed=5), id="remote_flaky"),
    ],
)
@only_s3_holds_raw
def test_the_raw_data_comes_back_from_the_s3_remote_through_the_outage(ml_env, mode: str) -> None:
    assert any(RAW in problem for problem in ml_env.detect())
    result = ml_env.recover()
    assert "dvc_remote_s3" in (result.strategy or ""), result.message


@pytest.mark.mlchaos_services("s3")
@pytest.mark.parametrize("cut", [pytest.param(1024, marks=outage("remote_partial_transfer", cut_after=1024))])
@only_s3_holds_raw
def test_a_remote_that_cuts_every_transfer_is_given_up_for_the_snapshot(ml_env, cut: int) -> None:
    result = ml_env.recover()
    assert "snapshot" in (result.strategy or "") and "dvc_remote_s3" not in (result.strategy or ""), result.message
    assert "gave up" in result.message


@pytest.mark.mlchaos_services("s3")
@pytest.mark.incident("data_corruption", mode="missing_values", target=RAW, fraction=0.2)
@pytest.mark.incident("service_outage", mode="remote_down")
def test_corrupted_data_while_the_remote_is_down_comes_from_the_backup(ml_env) -> None:
    assert any(RAW in problem for problem in ml_env.detect())
    assert ml_env.recover().strategy == "backup"



# -- the MLflow tracking server ----------------------------------------------------------------------------
MODEL = "models/model.pkl"


def only_the_registry_holds_the_model(test):  # type: ignore[no-untyped-def]
    """Every copy of the model but the registry's (and the snapshot's) gone: backups, DVC cache, the local remote
    directory; then the model itself."""
    for mark in reversed([
        pytest.mark.incident("storage_loss", mode="backup_loss", fraction=1.0),
        pytest.mark.incident("storage_loss", mode="dvc_cache_loss", fraction=1.0),
        pytest.mark.incident("storage_loss", mode="dvc_remote_loss", how="emptied"),
        pytest.mark.incident("model_loss", mode="delete"),
    ]):
        test = mark(test)
    return test


@pytest.mark.mlchaos_services("mlflow")
@pytest.mark.parametrize(
    "mode",
    [
        pytest.param("tracking_down", marks=outage("tracking_down", duration=2.0), id="tracking_down-2s"),
        pytest.param("registry_unavailable", marks=outage("registry_unavailable", duration=1.0),
                     id="registry_unavailable-1s"),
    ],
)
@only_the_registry_holds_the_model
def test_the_model_comes_back_from_the_tracking_server_after_its_outage(ml_env, mode: str) -> None:
    assert any(MODEL in problem for problem in ml_env.detect())
    result = ml_env.recover()
    assert "mlflow_registry" in (result.strategy or "") and "snapshot" not in (result.strategy or ""), result.message
    assert "succeeded on try" in result.message, result.message


@pytest.mark.mlchaos_services("mlflow")
@pytest.mark.incident("service_outage", mode="tracking_down")
@only_the_registry_holds_the_model
def test_a_tracking_server_down_until_recovery_ends_is_given_up_for_the_snapshot(ml_env) -> None:
    result = ml_env.recover()
    assert "snapshot" in (result.strategy or "") and "mlflow_registry" not in (result.strategy or ""), result.message
    assert "mlflow_registry models/model.pkl: gave up after" in result.message


@pytest.mark.mlchaos_services("mlflow")
@pytest.mark.incident("model_loss", mode="registry_alias_lost")
@pytest.mark.incident("service_outage", mode="tracking_down")
def test_a_lost_alias_is_put_back_while_the_tracking_server_is_down(ml_env) -> None:
    """The registry repair writes the registry's own store (not through the server): the outage does not stop it,
    and the plugin's reading of mlflow.db, after the server stopped, finds the alias on the baseline's version."""
    result = ml_env.recover()
    assert result.strategy == "restore_alias", result.message
