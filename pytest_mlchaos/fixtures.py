"""The fixtures: ``mlchaos_project``, ``ml_baseline``, ``ml_env_factory``, ``ml_env``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .env import Baseline, ChaosEnv, EnvFactory
from .gate import ThresholdError
from .incidents.spec import IncidentError, derive_seed
from .markers import IncidentPlan
from .project import MLProject, ProjectError
from .session import ChaosSession

if TYPE_CHECKING:
    from .services.session import SessionServices  # http.client and more: loaded when services are used

__all__ = [
    "CALL_REPORT_KEY",
    "ENV_KEY",
    "NOT_ENABLED",
    "NO_PROJECT",
    "PLAN_KEY",
    "SESSION_KEY",
    "chaos_session",
    "metrics_problem",
    "ml_baseline",
    "ml_env",
    "ml_env_factory",
    "mlchaos_project",
    "store_root",
]

SESSION_KEY = pytest.StashKey[ChaosSession]()
PLAN_KEY = pytest.StashKey[IncidentPlan]()
ENV_KEY = pytest.StashKey[ChaosEnv]()
CALL_REPORT_KEY = pytest.StashKey[pytest.TestReport]()
SERVICES_KEY: pytest.StashKey[SessionServices] = pytest.StashKey()
SERVICES_MARKER = "mlchaos_services"
NO_PROJECT = (
    "pytest-mlchaos has no project to test: run it inside a DVC repository (zero configuration), set the ini key "
    "mlchaos_project = package.module:attr, implement the pytest_mlchaos_make_project hook, or override the "
    "mlchaos_project fixture in a conftest.py"
)


NOT_ENABLED = "needs --mlchaos: the chaos fixtures build and clone the baseline only in chaos runs"


def chaos_session(config: pytest.Config) -> ChaosSession:
    return config.stash[SESSION_KEY]


def store_root(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory | None = None) -> Path | None:
    """Where baselines live: the pytest cache (reused across runs), else beside the run's temp dirs."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("mlchaos"))
    if tmp_path_factory is None:
        return None
    return tmp_path_factory.getbasetemp().parent / "mlchaos-baselines"


def metrics_problem(session: ChaosSession, baseline: Baseline) -> str | None:
    """The usage error of gated metric names that match nothing in the baseline, else None."""
    try:
        session.gated_metrics(baseline)
    except ThresholdError as exc:
        return f"--mlchaos-metrics / mlchaos_metrics: {exc}"
    return None


@pytest.fixture(scope="session")
def mlchaos_project(pytestconfig: pytest.Config) -> MLProject:
    """The project under test (session). Override it in a conftest.py to plug your own project in."""
    session = chaos_session(pytestconfig)
    try:
        project = session.resolve_project(pytestconfig.hook.pytest_mlchaos_make_project(config=pytestconfig))
    except ProjectError as exc:
        raise pytest.UsageError(str(exc)) from None
    if project is None:
        pytest.fail(NO_PROJECT, pytrace=False)
    return project


@pytest.fixture(scope="session")
def ml_baseline(
    pytestconfig: pytest.Config, mlchaos_project: MLProject, tmp_path_factory: pytest.TempPathFactory
) -> Baseline:
    """The snapshotted baseline (session): its root, metrics and manifest of artifact digests.

    Built once per run (once across pytest-xdist workers, under a file lock) and cached in
    the pytest cache, keyed by the project's fingerprint and the installed tool versions.
    """
    session = chaos_session(pytestconfig)
    if not session.settings.enabled:
        pytest.skip(NOT_ENABLED)
    if session.project is not mlchaos_project:  # the fixture was overridden (it wins): name it in the report
        session.project, session.project_source = mlchaos_project, "mlchaos_project fixture"
    root = store_root(pytestconfig, tmp_path_factory)
    assert root is not None
    baseline = session.get_baseline(mlchaos_project, root)
    problem = metrics_problem(session, baseline)
    if problem:
        pytest.fail(problem, pytrace=False)
    return baseline


@pytest.fixture(scope="session")
def ml_env_factory(
    pytestconfig: pytest.Config,
    mlchaos_project: MLProject,
    ml_baseline: Baseline,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EnvFactory]:
    """Makes fresh sandboxed environments on demand (session scoped, so usable under ``@given``).

    ``with ml_env_factory([Incident(...)]) as env:`` gives a clone with the incidents injected
    and deletes it afterwards.
    """
    session = chaos_session(pytestconfig)
    if not session.settings.enabled:
        pytest.skip(NOT_ENABLED)
    hook = pytestconfig.hook

    def injected(env: ChaosEnv, incident: object) -> None:
        hook.pytest_mlchaos_incident_injected(env=env, incident=incident)

    def recovered(env: ChaosEnv, result: object) -> None:
        for incident in env.incidents:
            hook.pytest_mlchaos_recovery_finished(env=env, incident=incident, result=result)

    factory = EnvFactory(
        mlchaos_project,
        ml_baseline,
        session.registry,
        tmp_path_factory.mktemp("mlchaos-envs"),
        seed=session.settings.seed,
        observers=((injected,), (recovered,)),
        policy=session.policy(),
    )
    factory.trash = factory.base / ".trash"  # removal is a rename during the run; deletion happens once, here
    yield factory
    factory.empty_trash()


@pytest.fixture
def ml_env(request: pytest.FixtureRequest, ml_env_factory: EnvFactory) -> Iterator[ChaosEnv]:
    """A sandboxed clone of the baseline for this test, with the incidents of its markers injected.

    After the test body, unless the test called ``ml_env.recover()`` itself, the project's
    recovery runs, and the plugin verifies artifacts and metrics on its own.
    """
    item = request.node
    plan = item.stash.get(PLAN_KEY, None)
    env = ml_env_factory(name=item.name, seed=derive_seed(ml_env_factory.seed, item.nodeid))
    if plan is not None:
        env.policy = chaos_session(request.config).policy(plan.expect, plan.max_drop)
    item.stash[ENV_KEY] = env
    problem = None
    try:
        attach_services(request, env, ml_env_factory)
        for incident in getattr(plan, "incidents", ()):
            env.inject(incident)
    except IncidentError as exc:
        problem = f"bad incident marker on {item.nodeid}: {exc}"
    except Exception as exc:  # a service that could not start or be attached
        problem = f"mlchaos services for {item.nodeid}: {type(exc).__name__}: {exc}"
    if problem is not None:
        _detach(env)
        env.remove()
        pytest.fail(problem, pytrace=False)
    try:
        yield env
    finally:
        _detach(env)
    call = item.stash.get(CALL_REPORT_KEY, None)
    if call is not None and call.passed:
        env.remove()


def services_wanted(item: pytest.Item, session: ChaosSession) -> tuple[str, ...]:
    """The services a test runs against: its ``mlchaos_services`` marker's, else the ini key's (default none)."""
    from .services.session import parse_services

    marker = item.get_closest_marker(SERVICES_MARKER)
    if marker is not None:
        return parse_services(marker.args, f"@pytest.mark.{SERVICES_MARKER}")
    return session.settings.services


def attach_services(request: pytest.FixtureRequest, env: ChaosEnv, factory: EnvFactory) -> None:
    """Attach ``env`` to this process's services (started on first use) when its test wants them."""
    names = services_wanted(request.node, chaos_session(request.config))
    if not names:
        return
    config = request.config
    services = config.stash.get(SERVICES_KEY, None)
    if services is None:
        from .services.session import SessionServices

        services = SessionServices(factory.base.parent / "mlchaos-services", seed=factory.seed)
        config.stash[SERVICES_KEY] = services
    services.attach_chaos_env(env, names)


def stop_services(config: pytest.Config) -> None:
    services = config.stash.get(SERVICES_KEY, None)
    if services is not None:
        services.stop()


def _detach(env: ChaosEnv) -> None:
    from .services.attached import detach

    detach(env.root)
