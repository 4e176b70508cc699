"""The services one environment is attached to, found by its root: what outage injectors act on.

An environment is attached when its test runs with services (``mlchaos_services`` or the marker).
With ``s3``, its DVC remote objects are uploaded to a bucket of its own on the session's S3
server; with ``mlflow``, an MLflow tracking server of its own serves its sqlite store. The project
is told each endpoint (the fault proxy's, never the server's), and the plugin keeps the server's
own address or files to check the store itself after the outage is lifted.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from .lifecycle import ServiceProcess
from .proxy import FaultProxy, Faults


def no_service(service: str) -> str:
    """Why an outage of ``service`` is refused in an environment not attached to it (names the ini key and marker)."""
    return (
        f"this environment has no {service} service (a plain local run, where every store is a directory or an "
        f"sqlite file, or a run with other services): turn it on with the ini key mlchaos_services = {service}, "
        f"or @pytest.mark.mlchaos_services('{service}') on the test"
    )


NO_SERVICES = no_service("s3")


@dataclass
class ProxiedService:
    """One environment's service behind its fault proxy: outages are applied to the proxy and lifted."""

    service: ClassVar[str] = ""
    root: Path
    proxy: FaultProxy
    _timer: threading.Timer | None = field(default=None, kw_only=True)
    outages: list[str] = field(default_factory=list, kw_only=True)

    @property
    def endpoint(self) -> str:
        """What the outage message names (the project's view of the service)."""
        return self.proxy.url

    def outage(self, faults: Faults, seed: int, duration: float, label: str) -> None:
        """Apply ``faults`` now (decisions seeded by ``seed``); lift them after ``duration`` s (0: when recovery
        ends)."""
        self.cancel_timer()
        self.proxy.reseed(seed)
        self.proxy.set_faults(faults)
        self.outages.append(label)
        if duration > 0:
            self._timer = threading.Timer(duration, self.proxy.lift)
            self._timer.daemon = True
            self._timer.start()

    def cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def lift(self) -> None:
        """End every outage (the verification reads the end state, with the service reachable again)."""
        self.cancel_timer()
        self.proxy.lift()

    def close(self) -> None:
        """The environment is done with the service (lifts the outage; per-environment servers stop)."""
        self.lift()


@dataclass
class EnvServices(ProxiedService):
    """One environment's S3 remote: the bucket and prefix, the proxy the project goes through, the server's
    own URL (for the plugin's reads), and the digests the bucket must hold (the baseline remote's)."""

    service: ClassVar[str] = "s3"
    direct_url: str
    bucket: str
    prefix: str
    expected: dict[str, str] = field(default_factory=dict)

    @property
    def remote_url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def endpoint(self) -> str:
        return self.remote_url

    def problems(self) -> list[str]:
        """What the plugin finds wrong in the bucket, reading the S3 server directly: every object of the
        baseline's remote must be there with its content."""
        from .s3 import client, digests

        self.lift()
        try:
            found = digests(client(self.direct_url), self.bucket, self.prefix)
        except Exception as exc:  # the server itself is gone: the store cannot be verified
            return [f"S3 remote {self.remote_url}: cannot be read ({type(exc).__name__}: {exc})"[:300]]
        out = []
        for key, digest in sorted(self.expected.items()):
            if key not in found:
                out.append(f"S3 remote {self.remote_url}/{key}: missing")
            elif found[key] != digest:
                out.append(f"S3 remote {self.remote_url}/{key}: content differs from the baseline's")
        return out


@dataclass
class EnvTracking(ProxiedService):
    """One environment's MLflow tracking server (over its own sqlite store) behind the proxy the project uses.

    The registry's evidence stays the plugin's own reading of the database (the manifest's served
    model); ``problems`` stops the server first, so nothing writes under that reading, and checks
    that the server left the database whole and at the schema it found."""

    service: ClassVar[str] = "mlflow"
    server: ServiceProcess
    db: Path
    schema: str | None = None
    stop_seconds: float | None = None  # how long stopping the server took (the first time)

    def close(self) -> None:
        self.cancel_timer()
        self.proxy.close()
        if self.stop_seconds is None:
            start = time.perf_counter()
            self.server.stop()
            self.stop_seconds = time.perf_counter() - start

    def problems(self) -> list[str]:
        self.close()
        rel = self.db.name
        if not self.db.is_file():
            return []  # a lost store is the manifest's evidence (the registry), not this check's
        try:
            conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
            try:
                check = [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
                schema = store_schema(conn)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            return [f"MLflow store {rel}: does not open after the tracking server stopped ({exc})"]
        out = []
        if check != ["ok"]:
            out.append(f"MLflow store {rel}: integrity_check after the tracking server stopped: {'; '.join(check[:2])}")
        if schema != self.schema:
            out.append(f"MLflow store {rel}: schema {self.schema!r} became {schema!r} under the tracking server")
        return out


def store_schema(conn: sqlite3.Connection) -> str | None:
    """The alembic revision of an MLflow sqlite store (None when it has none)."""
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


_ATTACHED: dict[tuple[Path, str], ProxiedService] = {}
_LOCK = threading.Lock()


def attach(services: ProxiedService) -> None:
    with _LOCK:
        _ATTACHED[(services.root.resolve(), services.service)] = services


def detach(root: Path) -> None:
    """Forget every service of the environment at ``root``: outages lifted, its own servers stopped."""
    key = Path(root).resolve()
    with _LOCK:
        found = [_ATTACHED.pop(k) for k in [k for k in _ATTACHED if k[0] == key]]
    for services in found:
        services.close()


def attached(root: Path, service: str = "s3") -> ProxiedService | None:
    """The ``service`` of the environment at ``root``, None when it has none (a plain local run)."""
    with _LOCK:
        return _ATTACHED.get((Path(root).resolve(), service))


__all__ = [
    "NO_SERVICES",
    "EnvServices",
    "EnvTracking",
    "ProxiedService",
    "attach",
    "attached",
    "detach",
    "no_service",
    "store_schema",
]
