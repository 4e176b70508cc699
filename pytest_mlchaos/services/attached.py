"""The services one environment is attached to, found by its root: what outage injectors act on.

An environment is attached when its test runs with services (``mlchaos_services`` or the marker):
its DVC remote objects are uploaded to a bucket of its own on the session's S3 server, the
project is told the endpoint (the fault proxy's, never the server's), and the plugin keeps the
server's own address to read the bucket itself after the outage is lifted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from .proxy import FaultProxy, Faults

NO_SERVICES = (
    "this environment has no services (a plain local run, where every store is a directory): turn them on "
    "with the ini key mlchaos_services = s3, or @pytest.mark.mlchaos_services('s3') on the test"
)


@dataclass
class EnvServices:
    """One environment's S3 remote: the bucket and prefix, the proxy the project goes through, the server's
    own URL (for the plugin's reads), and the digests the bucket must hold (the baseline remote's)."""

    root: Path
    proxy: FaultProxy
    direct_url: str
    bucket: str
    prefix: str
    expected: dict[str, str] = field(default_factory=dict)
    _timer: threading.Timer | None = None
    outages: list[str] = field(default_factory=list)

    @property
    def remote_url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

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


_ATTACHED: dict[Path, EnvServices] = {}
_LOCK = threading.Lock()


def attach(services: EnvServices) -> None:
    with _LOCK:
        _ATTACHED[services.root.resolve()] = services


def detach(root: Path) -> None:
    with _LOCK:
        services = _ATTACHED.pop(Path(root).resolve(), None)
    if services is not None:
        services.lift()


def attached(root: Path) -> EnvServices | None:
    """The services of the environment at ``root``, None for a plain local one."""
    with _LOCK:
        return _ATTACHED.get(Path(root).resolve())


__all__ = ["NO_SERVICES", "EnvServices", "attach", "attached", "detach"]
