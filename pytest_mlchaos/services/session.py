"""The services of one pytest process (the session, or one xdist worker): started on first use, stopped at exit.

``attach_env`` gives one environment a bucket of its own on the S3 server (a copy of its DVC
remote), tells the project the proxy's endpoint, and registers the environment for the outage
injectors and the plugin's own check of the bucket.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .attached import EnvServices, attach
from .lifecycle import ServiceError, ServiceProcess
from .proxy import FaultProxy

if TYPE_CHECKING:
    from ..env import ChaosEnv

SUPPORTED = ("s3",)
NOT_YET = {"mlflow": "outages of the MLflow tracking server are not wired into environments yet"}


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
        self.startup_seconds: dict[str, float] = {}
        self._buckets = itertools.count(1)

    def start_s3(self) -> tuple[ServiceProcess, FaultProxy]:
        if self.s3 is None or self.proxy is None or not self.s3.alive():
            from .s3 import start_s3

            self.stop()
            start = time.perf_counter()
            self.s3 = start_s3(self.workdir)
            self.proxy = FaultProxy(("127.0.0.1", self.s3.port), seed=self.seed, name="s3-proxy").start()
            self.startup_seconds["s3"] = time.perf_counter() - start
        return self.s3, self.proxy

    def attach_env(self, root: Path, project: Any, remote_dir: str | None, stores: Mapping[str, str]) -> EnvServices:
        """Give the environment at ``root`` its S3 remote: a bucket holding a copy of its DVC remote ``remote_dir``;
        ``stores`` (the baseline manifest's store digests) say what the bucket must hold after recovery."""
        attach_hook = getattr(project, "attach_services", None)
        if not callable(attach_hook):
            raise ServiceError(
                f"project {getattr(project, 'name', project)!r} cannot use services: it has no "
                "attach_services(root, endpoints) method (see docs/services.md)"
            )
        if not remote_dir or not (root / remote_dir).is_dir():
            raise ServiceError(f"the environment {root} has no DVC remote directory to serve over S3 ({remote_dir!r})")
        from .s3 import CREDENTIALS, client, upload_tree

        server, proxy = self.start_s3()
        bucket, prefix = f"mlchaos-env-{next(self._buckets)}", "dvc"
        upload_tree(client(server.url), bucket, root / remote_dir, prefix)
        base = remote_dir.rstrip("/") + "/"
        expected = {rel[len(base) :]: digest for rel, digest in stores.items() if rel.startswith(base)}
        services = EnvServices(Path(root), proxy, server.url, bucket, prefix, expected)
        attach_hook(
            Path(root),
            {
                "s3": {
                    "url": services.remote_url,
                    "endpoint_url": proxy.url,
                    "access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    "secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    "region": CREDENTIALS["AWS_DEFAULT_REGION"],
                }
            },
        )
        attach(services)
        return services

    def attach_chaos_env(self, env: ChaosEnv) -> EnvServices:
        """``attach_env`` for a ``ChaosEnv``: the outage is lifted when recovery returns, and the plugin's check
        of the bucket joins the evidence."""
        attached = self.attach_env(env.root, env.project, env.artifacts.dvc_remote, env.baseline.manifest.stores)
        env.store_checks.append(attached.problems)
        env.on_recovered.append(lambda _env, _result: attached.lift())
        return attached

    def stop(self) -> None:
        proxy, self.proxy = self.proxy, None
        if proxy is not None:
            proxy.close()
        server, self.s3 = self.s3, None
        if server is not None:
            server.stop()


__all__ = ["NOT_YET", "SUPPORTED", "SessionServices", "parse_services"]
