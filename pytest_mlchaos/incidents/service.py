"""Service outages, through the service's proxy: the S3 remote of the environment down, slow, flaky or
cutting transfers; its MLflow tracking server down, or its model registry unavailable.

They touch no file: the fault is in the network between the pipeline and the service, made by the
fault proxy in front of the service. An environment without that service refuses them
(``IncidentError``), so an outage is never a silent no-op. The outage lasts ``duration`` seconds
from injection, or (``duration=0``) until the recovery manager returns; the verification always
reads the end state with the service reachable again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from ..services.attached import ProxiedService, attached, no_service
from ..services.proxy import Faults
from .registry import IncidentRegistry, InjectionContext, Injector
from .spec import Incident, IncidentError, Param

__all__ = [
    "DURATION",
    "INJECTORS",
    "REGISTRY_PATHS",
    "RegistryUnavailable",
    "RemoteDown",
    "RemoteFlaky",
    "RemotePartialTransfer",
    "RemoteSlow",
    "TrackingDown",
    "register",
]

# MLflow's model-registry REST paths (its UI's ajax twins included): what registry_unavailable answers 503 for
REGISTRY_PATHS = (
    "/api/2.0/mlflow/registered-models/",
    "/api/2.0/mlflow/model-versions/",
    "/ajax-api/2.0/mlflow/registered-models/",
    "/ajax-api/2.0/mlflow/model-versions/",
)

DURATION = Param(
    "duration",
    float,
    0.0,
    doc="seconds the outage lasts from injection; 0: until the recovery manager returns",
    low=0.0,
    high=120.0,
)


class _OutageInjector(Injector):
    requires_services: ClassVar[tuple[str, ...]] = ("s3",)

    def services(self, ctx: InjectionContext) -> ProxiedService:
        service = self.requires_services[0]
        found = attached(ctx.root, service)
        if found is None:
            raise IncidentError(f"incident {self.kind}/{self.mode}: {no_service(service)}")
        return found

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        self.services(ctx)  # refused before anything happens, dry runs included
        return []

    def faults(self, incident: Incident) -> Faults:
        raise NotImplementedError

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        services = self.services(ctx)
        duration = float(incident.param("duration"))
        services.outage(self.faults(incident), incident.seed or 0, duration, incident.label())
        until = f"for {duration:g} s" if duration > 0 else "until recovery ends"
        return f"{self.summary()[0].lower()}{self.summary()[1:].rstrip('.')} ({services.endpoint}, {until})"


class RemoteDown(_OutageInjector):
    """The S3 remote refuses every connection (its port closed)."""

    kind, mode = "service_outage", "remote_down"
    params = (replace(DURATION, severity=True),)  # the longer the outage, the harder

    def faults(self, incident: Incident) -> Faults:
        return Faults(refuse=True)


class RemoteSlow(_OutageInjector):
    """Every request to the S3 remote waits before it is forwarded."""

    kind, mode = "service_outage", "remote_slow"
    params = (
        Param(
            "latency", float, 1.0, doc="seconds added to each request", low=0.0, low_open=True, high=30.0, severity=True
        ),
        DURATION,
    )

    def faults(self, incident: Incident) -> Faults:
        return Faults(latency=float(incident.param("latency")))


class RemoteFlaky(_OutageInjector):
    """A share of the S3 remote's requests fail (503, S3 SlowDown, or the connection dropped or reset)."""

    kind, mode = "service_outage", "remote_flaky"
    params = (
        Param(
            "fraction",
            float,
            0.5,
            doc="share of requests that fail",
            low=0.0,
            low_open=True,
            high=1.0,
            severity=True,
        ),
        Param(
            "failure",
            str,
            "slowdown",
            doc="how a request fails: 503, slowdown (S3 SlowDown, a 503 too), drop or reset",
            choices=("503", "slowdown", "drop", "reset"),
        ),
        DURATION,
    )

    def faults(self, incident: Incident) -> Faults:
        fraction, failure = float(incident.param("fraction")), str(incident.param("failure"))
        if failure == "drop":
            return Faults(drop=fraction)
        if failure == "reset":
            return Faults(reset=fraction)
        return Faults(error=fraction, error_kind=failure)


class RemotePartialTransfer(_OutageInjector):
    """Downloads from the S3 remote are cut after a number of bytes."""

    kind, mode = "service_outage", "remote_partial_transfer"
    params = (
        Param(
            "cut_after",
            int,
            1024,
            doc="bytes of each response delivered before the cut",
            low=0,
            high=10_000_000,
            severity=True,
        ),
        DURATION,
    )

    def faults(self, incident: Incident) -> Faults:
        return Faults(cut_after=int(incident.param("cut_after")))


class TrackingDown(_OutageInjector):
    """The MLflow tracking server refuses every connection (its port closed): tracking and registry alike."""

    kind, mode = "service_outage", "tracking_down"
    requires_services = ("mlflow",)
    params = (replace(DURATION, severity=True),)

    def faults(self, incident: Incident) -> Faults:
        return Faults(refuse=True)


class RegistryUnavailable(_OutageInjector):
    """The MLflow model registry answers 503 for a share of its requests; the tracking API keeps answering."""

    kind, mode = "service_outage", "registry_unavailable"
    requires_services = ("mlflow",)
    params = (
        Param(
            "fraction",
            float,
            1.0,
            doc="share of model-registry requests answered 503",
            low=0.0,
            low_open=True,
            high=1.0,
            severity=True,
        ),
        DURATION,
    )

    def faults(self, incident: Incident) -> Faults:
        return Faults(error=float(incident.param("fraction")), error_kind="503", error_paths=REGISTRY_PATHS)


INJECTORS = (RemoteDown, RemoteSlow, RemoteFlaky, RemotePartialTransfer, TrackingDown, RegistryUnavailable)


def register(registry: IncidentRegistry) -> None:
    for injector in INJECTORS:
        registry.register(injector)
