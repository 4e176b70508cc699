"""Outages of the S3 remote against the reference manager and one without retry or fallback.

The same environment, the same real services (moto S3 behind the fault proxy, dvc-s3 over HTTP),
the same incidents: every copy of the raw data but the S3 remote's is gone, and the remote is
down for two seconds, or cuts every transfer until recovery returns. The reference manager
waits the first out with retries and backoff, and gives the second up within its retry budget
for the snapshot; a manager that tries the remote once and has no fallback must be judged
unrecovered, by the plugin's own evidence. (Both cap botocore's own retries at one attempt, so
the manager's policy decides: left alone, one DVC fetch keeps reconnecting for about 6 s.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import pytest

from project_under_test.chaos import ChurnProject
from project_under_test.recovery import NO_RETRY, RecoveryManager, RetryPolicy, StrategyFailed
from pytest_mlchaos.env import EnvFactory
from pytest_mlchaos.gate import Thresholds, Verdict
from pytest_mlchaos.incidents import Incident, builtin_registry
from pytest_mlchaos.judge import Policy
from pytest_mlchaos.outcome import IncidentOutcome
from pytest_mlchaos.project import RecoveryResult
from pytest_mlchaos.services.attached import detach
from pytest_mlchaos.services.session import SessionServices

RAW = "data/raw/churn.csv"
POLICY = Policy(Thresholds(metrics=("f1", "roc_auc", "accuracy")))
ONLY_S3_HOLDS_RAW = (
    Incident("storage_loss", "backup_loss", {"fraction": 1.0}),
    Incident("storage_loss", "dvc_cache_loss", {"fraction": 1.0}),
    Incident("storage_loss", "dvc_remote_loss"),
    Incident("data_corruption", "missing_values", {"fraction": 0.2}, target=RAW),
)
DOWN_2S = Incident("service_outage", "remote_down", {"duration": 2.0})
CUTS = Incident("service_outage", "remote_partial_transfer", {"cut_after": 1024})


class _Naive(RecoveryManager):
    """The reference chains with one try of the S3 remote and no fallback behind it."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, retry=NO_RETRY)

    def _from_snapshot(self, rel: str, md5: str) -> None:
        raise StrategyFailed("no fallback")

    def _repair(self, rel: str) -> None:
        raise StrategyFailed("no fallback")


class NoRetryNoFallback(ChurnProject):
    def recover(self, root: Path, incidents: Sequence[Incident]) -> RecoveryResult:
        return _Naive(Path(root)).recover(incidents)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionServices]:
    running = SessionServices(tmp_path_factory.mktemp("services"))
    yield running
    running.stop()


def judged(project: ChurnProject, baseline, services: SessionServices, base: Path,
           outage: Incident | None, lost: Sequence[Incident] = ONLY_S3_HOLDS_RAW,
           names: Sequence[str] = ("s3",)) -> tuple[IncidentOutcome, str]:
    """The plugin's verdict, and what the manager said."""
    factory = EnvFactory(project, baseline, builtin_registry(), base, seed=7, policy=POLICY)
    env = factory(name="env")
    try:
        services.attach_chaos_env(env, names)
        for incident in (*lost, *([outage] if outage else [])):
            env.inject(incident)
        outcome = env.verify()
        return outcome, env.recovery.message if env.recovery else ""
    finally:
        detach(env.root)
        env.remove()


@pytest.mark.parametrize("outage", [DOWN_2S, CUTS], ids=["remote_down-2s", "partial_transfer"])
def test_the_reference_manager_recovers_and_a_naive_one_is_judged_unrecovered(
    churn_baseline, services: SessionServices, tmp_path: Path, outage: Incident
) -> None:
    reference, said = judged(ChurnProject(), churn_baseline, services, tmp_path / "ref", outage)
    assert reference.verdict is Verdict.RESTORED and reference.passed, reference.reason
    naive, _ = judged(NoRetryNoFallback(), churn_baseline, services, tmp_path / "naive", outage)
    assert naive.verdict is Verdict.UNRECOVERED and not naive.passed, (naive.strategy, naive.attempts, naive.reason)
    assert naive.recovery_claimed is False
    assert reference.time_to_recover is not None
    if outage is DOWN_2S:  # waited out: the waits count in the MTTR
        assert "dvc_remote_s3" in (reference.strategy or "") and "succeeded on try" in said
        assert reference.time_to_recover >= 1.0
    else:  # the remote never delivers: given up within the retry budget, then the snapshot
        assert "snapshot" in (reference.strategy or "") and "gave up after" in said


def test_retries_wait_with_backoff_and_the_waits_are_reported(tmp_path: Path) -> None:
    manager = RecoveryManager(tmp_path, retry=RetryPolicy(attempts=4, first_wait=0.05, factor=2.0, max_wait=1.0))
    failures = iter([ConnectionError("down"), ConnectionError("down")])

    def action() -> None:
        error = next(failures, None)
        if error is not None:
            raise error

    manager._retrying("remote", action)
    assert manager.waited == pytest.approx(0.05 + 0.1) and manager.waits == ["remote: succeeded on try 3"]
    with pytest.raises(ConnectionError):
        RecoveryManager(tmp_path, retry=NO_RETRY)._retrying("remote", lambda: (_ for _ in ()).throw(ConnectionError()))
    assert RetryPolicy(attempts=6, first_wait=0.25, max_wait=2.0, budget=6.0).waits() == [0.25, 0.5, 1.0, 2.0, 2.0]


class EmptiesTheBucket(ChurnProject):
    """Recovers as the reference does, then deletes every object of its S3 remote (a lifecycle rule gone wrong);
    its own health check does not look at the bucket."""

    def recover(self, root: Path, incidents: Sequence[Incident]) -> RecoveryResult:
        from project_under_test.dvcops import S3_REMOTE, dvc_session
        from pytest_mlchaos.services.s3 import client

        result = super().recover(root, incidents)
        with dvc_session(Path(root)) as repo:
            conf = dict(repo.config["remote"][S3_REMOTE])
        bucket, _, prefix = conf["url"].removeprefix("s3://").partition("/")
        s3 = client(conf["endpointurl"])
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
        return result


def test_a_bucket_emptied_by_the_manager_is_caught_by_the_plugins_own_reading(
    churn_baseline, services: SessionServices, tmp_path: Path
) -> None:
    outcome, _ = judged(EmptiesTheBucket(), churn_baseline, services, tmp_path, None)
    assert outcome.verdict is Verdict.FALSE_RECOVERY and not outcome.passed
    assert "S3 remote s3://mlchaos-env-" in outcome.reason and "missing" in outcome.reason


ONLY_THE_REGISTRY_HOLDS_THE_MODEL = (
    Incident("storage_loss", "backup_loss", {"fraction": 1.0}),
    Incident("storage_loss", "dvc_cache_loss", {"fraction": 1.0}),
    Incident("storage_loss", "dvc_remote_loss"),
    Incident("model_loss", "delete"),
)
TRACKING_DOWN_2S = Incident("service_outage", "tracking_down", {"duration": 2.0})


def test_under_tracking_down_the_reference_manager_waits_and_a_naive_one_is_judged_unrecovered(
    churn_baseline, services: SessionServices, tmp_path: Path
) -> None:
    """The model's only copies are the registry's (over HTTP, through the environment's own MLflow server) and
    the snapshot's; the server is down for two seconds. The reference manager waits it out; one that tries once
    and has no fallback is unrecovered, by the plugin's evidence (the model file and the registry's database)."""
    lost, mlflow = ONLY_THE_REGISTRY_HOLDS_THE_MODEL, ("mlflow",)
    reference, said = judged(ChurnProject(), churn_baseline, services, tmp_path / "ref", TRACKING_DOWN_2S, lost, mlflow)
    assert reference.verdict is Verdict.RESTORED and reference.passed, reference.reason
    assert "mlflow_registry" in (reference.strategy or "") and "mlflow_registry models/model.pkl: succeeded on try" in said
    assert reference.time_to_recover is not None and reference.time_to_recover >= 2.0  # the wait counts in the MTTR
    naive, said = judged(NoRetryNoFallback(), churn_baseline, services, tmp_path / "naive", TRACKING_DOWN_2S, lost,
                         mlflow)
    assert naive.verdict is Verdict.UNRECOVERED and not naive.passed, (naive.strategy, naive.attempts, naive.reason)
    assert naive.recovery_claimed is False
    assert "mlflow_registry" in said and "models/model.pkl" in said
