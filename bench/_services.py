"""Benchmark 10: real services: their start-up cost, and MTTR under each outage mode against no outage.

Start-up: the moto S3 server (a child process under a guard) plus its fault proxy, once per
session or xdist worker; attaching one environment (a bucket holding a copy of its DVC remote);
an environment's own ``mlflow server`` (over its sqlite store) plus its proxy, started per
environment, and stopping it.

MTTR under MLflow outages: every copy of the model but the registry's and the snapshot's lost
(backups, DVC cache, local remote), then the model deleted; the reference manager reads it over
HTTP from the environment's tracking server (no outage, down 2 s, registry 503 for 1 s), or falls
back to the snapshot when the server stays down.

MTTR: the same compound incident each time (backups, DVC cache and local remote lost, then the
raw data corrupted: only the S3 remote still holds it), through the reference recovery manager and
verified by the plugin (``ChaosEnv.verify``), with no outage and under each outage mode. The same
incident in a plain environment without services is shown beside it (the snapshot wins there).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from _common import Figure, log

GROUP = "10. services: start-up and MTTR under S3 outages (5,000 rows)"
MLFLOW_GROUP = "10. services: MTTR under MLflow tracking-server outages (5,000 rows)"
RAW = "data/raw/churn.csv"


def _incidents():
    from pytest_mlchaos.incidents import Incident

    return [Incident("storage_loss", "backup_loss", {"fraction": 1.0}),
            Incident("storage_loss", "dvc_cache_loss", {"fraction": 1.0}),
            Incident("storage_loss", "dvc_remote_loss"),
            Incident("data_corruption", "missing_values", {"fraction": 0.2}, target=RAW)]


def _outages():
    from pytest_mlchaos.incidents import Incident

    return {"no outage": None,
            "remote_down (2 s)": Incident("service_outage", "remote_down", {"duration": 2.0}),
            "remote_slow (0.3 s a request)": Incident("service_outage", "remote_slow", {"latency": 0.3}),
            "remote_flaky (50% SlowDown)": Incident("service_outage", "remote_flaky", {"fraction": 0.5}),
            "remote_partial_transfer (1 KiB)": Incident("service_outage", "remote_partial_transfer",
                                                        {"cut_after": 1024})}


def startup(baseline, work: Path, n: int) -> list[Figure]:
    from pytest_mlchaos.services.session import SessionServices
    from pytest_mlchaos.services.tracking import start_mlflow

    s3, mlflow = [], []
    for i in range(n):
        services = SessionServices(work / f"svc-{i}")
        start = time.perf_counter()
        services.start_s3()
        s3.append(time.perf_counter() - start)
        services.stop()
        db = work / f"svc-{i}" / "mlflow.db"
        shutil.copyfile(baseline.root / "mlflow.db", db)
        server = start_mlflow(db, work / f"svc-{i}" / "artifacts", work / f"svc-{i}")
        mlflow.append(server.started_seconds)
        server.stop()
    return [Figure(GROUP, "start-up: S3 server (moto) + fault proxy, per session/worker", s3, target=5.0),
            Figure(GROUP, "start-up: mlflow server (one worker, no job runner)", mlflow)]


def _model_lost():
    from pytest_mlchaos.incidents import Incident

    return [Incident("storage_loss", "backup_loss", {"fraction": 1.0}),
            Incident("storage_loss", "dvc_cache_loss", {"fraction": 1.0}),
            Incident("storage_loss", "dvc_remote_loss"),
            Incident("model_loss", "delete")]


def _tracking_outages():
    from pytest_mlchaos.incidents import Incident

    return {"no outage": None,
            "tracking_down (2 s)": Incident("service_outage", "tracking_down", {"duration": 2.0}),
            "registry_unavailable (1 s)": Incident("service_outage", "registry_unavailable", {"duration": 1.0}),
            "tracking_down (until recovery ends)": Incident("service_outage", "tracking_down")}


def _mttr_figures(group: str, what: str, once, n: int, warmup: int, plain: str, outages: dict) -> list[Figure]:
    """One MTTR figure per case: the incident without services (``plain``), then with them under each outage;
    ``once(outage, with_services, i)`` runs one sample and returns its MTTR and the winning strategy."""
    figures, counter = [], 0
    cases = [(plain, None, False)] + [(name, outage, True) for name, outage in outages.items()]
    for name, outage, with_services in cases:
        log(f"services: {what}, {name} ({warmup} warm-up + {n})")
        samples, strategies = [], set()
        for i in range(warmup + n):
            counter += 1
            seconds, strategy = once(outage, with_services, counter)
            if i >= warmup:
                samples.append(seconds)
                strategies.add(strategy)
        figures.append(Figure(group, f"MTTR: {name}", samples, note="won by " + ", ".join(sorted(strategies))))
    return figures


def run_mlflow(baseline, work: Path, n: int, warmup: int) -> list[Figure]:
    """Per environment: start its MLflow server (and proxy), recover under each outage, stop the server."""
    from project_under_test.chaos import ChurnProject
    from pytest_mlchaos.env import EnvFactory
    from pytest_mlchaos.incidents import builtin_registry
    from pytest_mlchaos.services.attached import EnvTracking, attached, detach
    from pytest_mlchaos.services.session import SessionServices

    services = SessionServices(work / "svc-mlflow")
    factory = EnvFactory(ChurnProject(), baseline, builtin_registry(), work / "mlflow-envs", seed=1)
    starts: list[float] = []
    stops: list[float] = []
    figures: list[Figure] = []

    def once(outage, with_services: bool, i: int) -> tuple[float, str]:
        env = factory(name=f"mlflow{i}")
        try:
            if with_services:
                start = time.perf_counter()
                services.attach_chaos_env(env, ("mlflow",))
                starts.append(time.perf_counter() - start)
            for incident in _model_lost() + ([outage] if outage is not None else []):
                env.inject(incident)
            outcome = env.verify()
            if not outcome.passed:
                raise RuntimeError(f"{outcome.verdict.value}: {outcome.reason}")
            return float(outcome.time_to_recover or 0.0), str(outcome.strategy)
        finally:
            tracking = attached(env.root, "mlflow")
            detach(env.root)
            if isinstance(tracking, EnvTracking) and tracking.stop_seconds is not None:
                stops.append(tracking.stop_seconds)  # stopped by the plugin's store check, inside verify()
            env.remove()

    try:
        figures += _mttr_figures(MLFLOW_GROUP, "MTTR under MLflow outages", once, n, warmup,
                                 "same incident, no services (registry read from sqlite)", _tracking_outages())
        figures.insert(0, Figure(MLFLOW_GROUP, "start one environment's mlflow server + proxy (attach)", starts))
        figures.insert(1, Figure(MLFLOW_GROUP, "stop it (the plugin's store check before it reads mlflow.db)",
                                 stops))
    finally:
        services.stop()
        factory.empty_trash()
    return figures


def run(baseline, work: Path, n: int, warmup: int) -> list[Figure]:
    from project_under_test.chaos import ChurnProject
    from pytest_mlchaos.env import EnvFactory
    from pytest_mlchaos.incidents import builtin_registry
    from pytest_mlchaos.services.attached import detach
    from pytest_mlchaos.services.session import SessionServices

    figures = startup(baseline, work, max(n, 1))
    services = SessionServices(work / "svc")
    factory = EnvFactory(ChurnProject(), baseline, builtin_registry(), work / "svc-envs", seed=1)
    attach_seconds: list[float] = []

    def once(outage, with_services: bool, i: int) -> tuple[float, str]:
        env = factory(name=f"svc{i}")
        try:
            if with_services:
                start = time.perf_counter()
                services.attach_chaos_env(env)
                attach_seconds.append(time.perf_counter() - start)
            for incident in _incidents() + ([outage] if outage is not None else []):
                env.inject(incident)
            outcome = env.verify()
            if not outcome.passed:
                raise RuntimeError(f"{outcome.verdict.value}: {outcome.reason}")
            return float(outcome.time_to_recover or 0.0), str(outcome.strategy)
        finally:
            detach(env.root)
            env.remove()

    try:
        figures += _mttr_figures(GROUP, "MTTR", once, n, warmup, "same incident, no services (plain run)", _outages())
        figures.insert(2, Figure(GROUP, "attach one environment (bucket + upload of its DVC remote)", attach_seconds))
    finally:
        services.stop()
        factory.empty_trash()
    return figures + run_mlflow(baseline, work, n, warmup)
