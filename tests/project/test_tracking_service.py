"""The MLflow tracking server of one environment: started over its own store, stopped when it is done.

Each test starts a real ``mlflow server`` (about 4.5 s) over a copy of the reference environment's
sqlite store, behind the fault proxy, and checks how it ends: detached (the end of ``ml_env``,
whatever the test did), a project whose ``attach_services`` raises, or pytest killed with SIGKILL
mid-test (the guard). Ctrl-C and a killed xdist worker are covered by tests/services/test_lifecycle.py
(the same guard; its killed-owner test starts ``start_mlflow`` too).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Iterator

import pytest

from project_under_test import tracking
from project_under_test.chaos import ChurnProject
from pytest_mlchaos.incidents import Incident, IncidentError, builtin_registry, inject
from pytest_mlchaos.services.attached import EnvServices, EnvTracking, attach, attached, detach
from pytest_mlchaos.services.lifecycle import http_status
from pytest_mlchaos.services.proxy import FaultProxy
from pytest_mlchaos.services.session import SessionServices


def gone(pgid: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def services(tmp_path: Path) -> Iterator[SessionServices]:
    running = SessionServices(tmp_path / "services")
    yield running
    running.stop()


def attach_mlflow(services: SessionServices, root: Path, project: object = None) -> EnvTracking:
    [found] = services.attach_env(root, project or ChurnProject(), None, {}, ("mlflow",),
                                  mlflow_db="mlflow.db", mlflow_artifacts="mlartifacts")
    assert isinstance(found, EnvTracking)
    return found


def test_the_server_serves_the_environments_own_store_and_stops_when_detached(
    env: Path, services: SessionServices
) -> None:
    served = tracking.production_version(env)
    server = attach_mlflow(services, env)
    try:
        assert tracking.attached_server(env) == server.proxy.url  # the project goes through the proxy
        assert server.proxy.url != server.server.url and server.server.url.startswith("http://127.0.0.1:")
        version, data = tracking.served_model_bytes(server.proxy.url)
        assert version == served.version and served.joblib_file is not None
        assert data == served.joblib_file.read_bytes()  # read over HTTP: the bytes the run logged
        assert attached(env, "mlflow") is server and attached(env, "s3") is None
        assert services.mlflow_starts and services.mlflow_starts[0] < 60
    finally:
        detach(env)
    assert gone(server.server.pid), "the environment's mlflow server outlived its environment"
    assert http_status(server.proxy.port, "/health", timeout=1.0) is None  # the proxy is closed too
    assert attached(env, "mlflow") is None
    assert server.problems() == []  # the store is whole, at the schema the server found
    assert tracking.production_version(env) == served


def test_a_project_whose_attach_services_raises_leaves_no_server_behind(
    env: Path, services: SessionServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []
    original = SessionServices._attach_mlflow

    def spy(self: SessionServices, *args: object) -> EnvTracking:
        found = original(self, *args)  # type: ignore[arg-type]  # forwarded as given
        started.append(found.server.pid)
        return found

    class Refuses(ChurnProject):
        def attach_services(self, root: Path, endpoints: dict) -> None:
            raise RuntimeError("cannot attach")

    monkeypatch.setattr(SessionServices, "_attach_mlflow", spy)
    with pytest.raises(RuntimeError, match="cannot attach"):
        attach_mlflow(services, env, Refuses())
    assert len(started) == 1 and gone(started[0])
    assert attached(env, "mlflow") is None


def test_the_plugins_check_names_a_store_the_server_left_at_another_schema(
    env: Path, services: SessionServices
) -> None:
    server = attach_mlflow(services, env)
    conn = sqlite3.connect(env / "mlflow.db")
    conn.execute("UPDATE alembic_version SET version_num = 'elsewhere'")
    conn.commit()
    conn.close()
    problems = server.problems()
    detach(env)
    assert len(problems) == 1 and "schema" in problems[0] and "'elsewhere'" in problems[0], problems


def test_tracking_outages_are_refused_in_an_environment_with_only_s3(tmp_path: Path) -> None:
    """An S3-only environment refuses tracking_down and registry_unavailable, naming the mlflow service."""
    from pytest_mlchaos.artifacts import Artifacts

    attach(EnvServices(tmp_path, FaultProxy(("127.0.0.1", 9)), "http://127.0.0.1:9", "b", "dvc"))
    try:
        for mode in ("tracking_down", "registry_unavailable"):
            with pytest.raises(IncidentError, match=f"{mode}: this environment has no mlflow service .*"
                                                    "mlchaos_services = mlflow"):
                inject(tmp_path, Incident("service_outage", mode, seed=1), artifacts=Artifacts(),
                       registry=builtin_registry())
    finally:
        detach(tmp_path)


ENDS_EACH_TEST = '''
import os, signal, time
from pathlib import Path
import pytest
from pytest_mlchaos.services.attached import attached

PIDFILE = Path(os.environ["PIDFILE"])


@pytest.mark.mlchaos_services("mlflow")
@pytest.mark.incident("model_loss", mode="delete")
@pytest.mark.incident("service_outage", mode="tracking_down", duration=1.0)
def test_a_body_that_fails(ml_env):
    PIDFILE.write_text(str(attached(ml_env.root, "mlflow").server.pid))
    raise AssertionError("the body fails")


def test_the_server_is_gone_before_the_session_ends():
    pgid = int(PIDFILE.read_text())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"the mlflow server {pgid} of the first test's environment is still running")


@pytest.mark.mlchaos_services("mlflow")
@pytest.mark.incident("model_loss", mode="delete")
def test_killed_with_its_server_running(ml_env):
    Path(str(PIDFILE) + ".killed").write_text(str(attached(ml_env.root, "mlflow").server.pid))
    os.kill(os.getpid(), signal.SIGKILL)
'''


def test_an_environments_server_stops_after_a_failing_test_and_after_kill_9_of_pytest(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """Through the marker and ``ml_env``, on the reference project (in a subprocess: it imports MLflow): the first
    test fails and its server is gone before the second runs; the third SIGKILLs pytest with its server running,
    and the guard stops that server."""
    pytester.makeini("[pytest]\nmlchaos_project = project_under_test.chaos:project\n")
    pytester.makepyfile(test_ends=ENDS_EACH_TEST)
    os.environ["PIDFILE"] = str(tmp_path / "pid")
    try:
        result = pytester.runpytest_subprocess("--mlchaos", "-p", "no:randomly", "-p", "no:xdist", "-v")
    finally:
        del os.environ["PIDFILE"]
    assert result.ret == -9, result.stdout.str()[-2000:]
    result.stdout.fnmatch_lines(["*test_a_body_that_fails FAILED*", "*test_the_server_is_gone_before_the_session_ends PASSED*"])
    killed = int((tmp_path / "pid.killed").read_text())
    assert gone(killed), "the mlflow server outlived its SIGKILLed pytest process"
