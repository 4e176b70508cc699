"""Hook specifications of pytest-mlchaos, added to pytest in ``pytest_addhooks``.

Implement them in a ``conftest.py`` or an installed plugin, like any pytest hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .env import ChaosEnv
    from .incidents.registry import IncidentRegistry
    from .incidents.spec import Incident
    from .project import MLProject, RecoveryResult

__all__ = [
    "pytest_mlchaos_incident_injected",
    "pytest_mlchaos_make_project",
    "pytest_mlchaos_recovery_finished",
    "pytest_mlchaos_register_incidents",
    "pytest_mlchaos_report",
]


def pytest_mlchaos_register_incidents(registry: IncidentRegistry) -> None:
    """Register extra incident kinds and modes.

    Called once per session, after the built-in injectors are registered. Add an
    ``Injector`` subclass with ``registry.register(MyInjector)`` or a function with
    ``registry.register_function(kind, mode, fn, params=[Param(...)])``; it gets the
    same validation, seeding, containment, listing and fuzzing as the built-ins.

    :param registry: the session's incident registry.
    """


@pytest.hookspec(firstresult=True)
def pytest_mlchaos_make_project(config: pytest.Config) -> MLProject | None:
    """Provide the project under test, instead of the ``mlchaos_project`` ini setting.

    Stops at the first non-None result. The ``mlchaos_project`` fixture, when
    overridden in a conftest, takes precedence over this hook.

    :param config: the pytest config.
    :return: an ``MLProject``, or None to let other plugins (or the ini setting) decide.
    """


def pytest_mlchaos_incident_injected(env: ChaosEnv, incident: Incident) -> None:
    """Called after an incident was injected into an environment.

    :param env: the environment, whose ``injections[-1]`` says what was touched.
    :param incident: the validated incident, with its seed.
    """


def pytest_mlchaos_recovery_finished(env: ChaosEnv, incident: Incident, result: RecoveryResult) -> None:
    """Called after the project's recovery manager returned, once per injected incident.

    It reports what the manager claims; the plugin's verdict comes after, in
    ``env.outcome`` and the report.

    :param env: the environment that was recovered.
    :param incident: one of the incidents the recovery addressed.
    :param result: what the recovery manager returned.
    """


def pytest_mlchaos_report(report: dict[str, Any]) -> None:
    """Extend the resilience report before it is written (JSON, Markdown, terminal).

    Called once, on the controller only under pytest-xdist. Add fields under your own
    key (``report["extensions"]["myplugin"] = ...``), or to each record in
    ``report["incidents"]``. Mutate in place; the return value is ignored.

    :param report: the report as a JSON-serialisable dict (schema ``mlchaos-report/2``).
    """
