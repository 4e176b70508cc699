"""The services of one pytest process (the session, or one xdist worker): started on first use, stopped at exit.

``attach_env`` gives one environment the services its test asked for: with ``s3``, a bucket of its
own on the process's S3 server (a copy of its DVC remote); with ``mlflow``, an MLflow tracking
server of its own over its sqlite store (started per environment, about 4.5 s, and stopped when
the environment is done: one server per process would have to swap stores under a running
server). It tells the project the proxies' endpoints and registers the environment for the
outage injectors and the plugin's own checks of the stores.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .attached import EnvServices, EnvTracking, ProxiedService, attach, detach, store_schema
from .lifecycle import ServiceError, ServiceProcess
from .proxy import FaultProxy

if TYPE_CHECKING:
    from ..env import ChaosEnv

SUPPORTED = ("s3", "mlflow")
NOT_YET: dict[str, str] = {}  # services named but not available yet (none today), with the reason


def parse_services(values: Iterable[Any], where: str) -> tuple[str, ...]:
    """Service names from ini lines or marker arguments (comma-separated allowed); ``ServiceError`` names a bad
    one and lists what is allowed."""
    names: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise ServiceError(f"{where}: service {value!r} is not a name; allowed: {', '.join(SUPPORTED)}")
        names.extend(n.strip().lower() for n in value.split(",") if n.strip())
    for name in names:
        if name in NOT_YET:
            raise ServiceError(f"{where}: service {name!r}: {NOT_YET[name]}; allowed: {', '.join(SUPPORTED)}")
        if name not in SUPPORTED:
            raise ServiceError(f"{where}: unknown service {name!r}; allowed: {', '.join(SUPPORTED)}")
    return tuple(dict.fromkeys(names))


class SessionServices:
    """The S3 server and its fault proxy, started once on first use under ``workdir``."""

    def __init__(self, workdir: Path, seed: int = 0) -> None:
        self.workdir = workdir
        self.seed = seed
        self.s3: ServiceProcess | None = None
        self.proxy: FaultProxy | None = None
        self.startup_seconds: dict[str, float] = {}  # the first start of each service
        self.mlflow_starts: list[float] = []  # every per-environment MLflow server start, in seconds
        self._buckets = itertools.count(1)
        self._servers = itertools.count(1)

    def start_s3(self) -> tuple[ServiceProcess, FaultProxy]:
        if self.s3 is None or self.proxy is None or not self.s3.alive():
            from .s3 import start_s3

            self.stop()
            start = time.perf_counter()
            self.s3 = start_s3(self.workdir)
            self.proxy = FaultProxy(("127.0.0.1", self.s3.port), seed=self.seed, name="s3-proxy").start()
            self.startup_seconds["s3"] = time.perf_counter() - start
        return self.s3, self.proxy

    def attach_env(
        self,
        root: Path,
        project: Any,
        remote_dir: str | None,
        stores: Mapping[str, str],
        names: Iterable[str] = ("s3",),
        *,
        mlflow_db: str | None = None,
        mlflow_artifacts: str | None = None,
    ) -> list[ProxiedService]:
        """Give the environment at ``root`` the services ``names``: its S3 remote (a bucket holding a copy of its
        DVC remote ``remote_dir``; ``stores``, the baseline manifest's store digests, say what it must hold after
        recovery) and its MLflow tracking server (over ``mlflow_db``, artifacts under ``mlflow_artifacts``)."""
        names = tuple(names)
        attach_hook = getattr(project, "attach_services", None)
        if not callable(attach_hook):
            raise ServiceError(
                f"project {getattr(project, 'name', project)!r} cannot use services: it has no "
                "attach_services(root, endpoints) method (see docs/services.md)"
            )
        root = Path(root)
        if "s3" in names and (not remote_dir or not (root / remote_dir).is_dir()):
            raise ServiceError(f"the environment {root} has no DVC remote directory to serve over S3 ({remote_dir!r})")
        if "mlflow" in names and (not mlflow_db or not (root / mlflow_db).is_file()):
            raise ServiceError(
                f"the environment {root} has no MLflow sqlite store to serve (mlflow_db={mlflow_db!r}): the "
                "mlflow service needs the project's Artifacts.mlflow_db"
            )
        endpoints: dict[str, dict[str, str]] = {}
        attached: list[ProxiedService] = []
        try:
            if "s3" in names:
                s3 = self._attach_s3(root, remote_dir or "", stores)
                attached.append(s3)
                endpoints["s3"] = self._s3_endpoint(s3)
            if "mlflow" in names:
                tracking = self._attach_mlflow(root, mlflow_db or "", mlflow_artifacts)
                attached.append(tracking)
                endpoints["mlflow"] = {"tracking_uri": tracking.proxy.url}
            attach_hook(root, endpoints)
        except BaseException:
            for service in attached:
                service.close()
            raise
        for service in attached:
            attach(service)
        return attached

    def _attach_s3(self, root: Path, remote_dir: str, stores: Mapping[str, str]) -> EnvServices:
        from .s3 import client, upload_tree

        server, proxy = self.start_s3()
        bucket, prefix = f"mlchaos-env-{next(self._buckets)}", "dvc"
        upload_tree(client(server.url), bucket, root / remote_dir, prefix)
        base = remote_dir.rstrip("/") + "/"
        expected = {rel[len(base) :]: digest for rel, digest in stores.items() if rel.startswith(base)}
        return EnvServices(root, proxy, server.url, bucket, prefix, expected)

    @staticmethod
    def _s3_endpoint(s3: EnvServices) -> dict[str, str]:
        from .s3 import CREDENTIALS

        return {
            "url": s3.remote_url,
            "endpoint_url": s3.proxy.url,
            "access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "region": CREDENTIALS["AWS_DEFAULT_REGION"],
        }

    def _attach_mlflow(self, root: Path, db_rel: str, artifacts_rel: str | None) -> EnvTracking:
        """An MLflow server of the environment's own (its sqlite store, its artifact root) behind a fault proxy."""
        import sqlite3

        from .tracking import start_mlflow

        db = root / db_rel
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            schema = store_schema(conn)
        finally:
            conn.close()
        start = time.perf_counter()
        workdir = self.workdir / f"mlflow-{next(self._servers)}"
        server = start_mlflow(db, root / (artifacts_rel or "mlartifacts"), workdir)
        try:
            proxy = FaultProxy(("127.0.0.1", server.port), seed=self.seed, name="mlflow-proxy").start()
        except BaseException:
            server.stop()
            raise
        self.startup_seconds.setdefault("mlflow", time.perf_counter() - start)
        self.mlflow_starts.append(time.perf_counter() - start)
        return EnvTracking(root, proxy, server, db, schema)

    def attach_chaos_env(self, env: ChaosEnv, names: Iterable[str] = ("s3",)) -> list[ProxiedService]:
        """``attach_env`` for a ``ChaosEnv``: the outages are lifted when recovery returns, and the plugin's checks
        of the stores join the evidence."""
        artifacts = env.artifacts
        attached = self.attach_env(
            env.root,
            env.project,
            artifacts.dvc_remote,
            env.baseline.manifest.stores,
            names,
            mlflow_db=artifacts.mlflow_db,
            mlflow_artifacts=artifacts.mlflow_artifacts,
        )
        for service in attached:
            if isinstance(service, (EnvServices, EnvTracking)):
                env.store_checks.append(service.problems)
            env.on_recovered.append(lambda _env, _result, s=service: s.lift())
        return attached

    @staticmethod
    def detach_env(root: Path) -> None:
        detach(root)

    def stop(self) -> None:
        proxy, self.proxy = self.proxy, None
        if proxy is not None:
            proxy.close()
        server, self.s3 = self.s3, None
        if server is not None:
            server.stop()


__all__ = ["NOT_YET", "SUPPORTED", "SessionServices", "parse_services"]
