"""The service_outage kind without services: refused with a clear message, validated, fuzzable only when named."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from pytest_mlchaos.artifacts import Artifacts
from pytest_mlchaos.incidents import Incident, IncidentError, builtin_registry, inject
from pytest_mlchaos.strategies import incidents

REGISTRY = builtin_registry()
MODES = REGISTRY.modes("service_outage")


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_an_outage_in_an_environment_without_services_is_refused(tmp_path: Path, mode: str, dry_run: bool) -> None:
    service = "mlflow" if mode in ("tracking_down", "registry_unavailable") else "s3"
    with pytest.raises(IncidentError, match=f"service_outage/{mode}: this environment has no {service} service .* "
                                            f"mlchaos_services = {service}, or @pytest.mark.mlchaos_services"):
        inject(tmp_path, Incident("service_outage", mode, seed=1), artifacts=Artifacts(), dry_run=dry_run)


@pytest.mark.parametrize(
    ("incident", "message"),
    [
        (Incident("service_outage", "remote_flaky", {"fraction": 0}), r"fraction=0.0 is out of range \(0.0, 1.0\]"),
        (Incident("service_outage", "remote_flaky", {"failure": "500"}), "failure='500' is not allowed; one of '503'"),
        (Incident("service_outage", "remote_down", {"duration": -1}), r"duration=-1.0 is out of range \[0.0, 120.0\]"),
        (Incident("service_outage", "remote_slow", {"latency": 99}), r"latency=99.0 is out of range \(0.0, 30.0\]"),
        (Incident("service_outage", "tracking_slow"), "unknown mode 'tracking_slow'.*allowed modes: remote_down"),
        (Incident("service_outage", "registry_unavailable", {"fraction": 1.5}),
         r"fraction=1.5 is out of range \(0.0, 1.0\]"),
        (Incident("service_outage", "tracking_down", {"duration": 500}),
         r"duration=500.0 is out of range \[0.0, 120.0\]"),
        (Incident("service_outage", "tracking_down", {"latency": 1}), "latency"),
    ],
)
def test_bad_outage_parameters_name_the_value_and_what_is_allowed(incident: Incident, message: str) -> None:
    with pytest.raises(IncidentError, match=message):
        REGISTRY.validate(incident)


def test_the_mlflow_modes_are_listed_with_their_parameters(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--mlchaos-incidents")
    result.stdout.fnmatch_lines([
        "*@pytest.mark.incident('service_outage', mode='tracking_down', duration=0.0): The MLflow tracking server*",
        "*@pytest.mark.incident('service_outage', mode='registry_unavailable', fraction=1.0, duration=0.0)*",
        "*fraction: float = 1.0, in (0.0, 1.0] [[]severity[]]: share of model-registry requests answered 503*",
    ])


@settings(max_examples=30, database=None)
@given(incidents(registry=REGISTRY))
def test_strategies_draw_no_outage_unless_asked(incident: Incident) -> None:
    assert incident.kind != "service_outage"


@settings(max_examples=30, database=None)
@given(incidents(kinds=["service_outage"], registry=REGISTRY))
def test_strategies_draw_valid_outages_when_named(incident: Incident) -> None:
    assert incident.mode in MODES and REGISTRY.validate(incident) == incident
