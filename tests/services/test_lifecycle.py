"""Services start on loopback and stop on every exit path: a normal exit, Ctrl-C, a SIGKILL of the owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pytest_mlchaos.services.lifecycle import ServiceError, http_status, start_service
from pytest_mlchaos.services.s3 import start_s3

OWNER = """
import sys, time
from pathlib import Path
from pytest_mlchaos.services.s3 import start_s3
from pytest_mlchaos.services.tracking import start_mlflow

work = Path(sys.argv[1])
which = sys.argv[2].split(",")
started = []
if "s3" in which:
    started.append(start_s3(work))
if "mlflow" in which:
    started.append(start_mlflow(work / "mlflow.db", work / "artifacts", work))
print(" ".join(str(s.pid) for s in started), flush=True)
try:
    time.sleep(600)
except KeyboardInterrupt:
    sys.exit(1)
"""


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pgids: list[int], seconds: float = 20.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [p for p in pgids if group_alive(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pgids if group_alive(p)]


def start_owner(tmp_path: Path, which: str) -> tuple[subprocess.Popen[str], list[int]]:
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    owner = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), which], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert owner.stdout is not None
    line = owner.stdout.readline()
    owner.stdout.close()
    assert line.strip(), f"the owner did not start its services (rc={owner.poll()})"
    return owner, [int(p) for p in line.split()]


def test_the_s3_server_answers_on_loopback_and_stops(tmp_path: Path) -> None:
    service = start_s3(tmp_path)
    try:
        assert service.alive() and http_status(service.port, "/moto-api/") == 200
        assert service.started_seconds < 30
    finally:
        service.stop()
    assert wait_gone([service.pid]) == []


def test_a_service_killed_owner_leaves_no_process_behind(tmp_path: Path) -> None:
    owner, pgids = start_owner(tmp_path, "s3,mlflow")
    assert all(group_alive(p) for p in pgids)
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    assert wait_gone(pgids) == [], "service processes outlived their SIGKILLed owner"


def test_ctrl_c_of_the_owner_stops_its_services(tmp_path: Path) -> None:
    owner, pgids = start_owner(tmp_path, "s3")
    os.killpg(owner.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole foreground group gets it
    owner.wait(timeout=30)
    assert wait_gone(pgids) == []


def test_a_service_that_never_answers_is_stopped_and_named(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match=r"service sleeper .* did not answer within 1 s"):
        start_service(
            "sleeper",
            [sys.executable, "-c", "import time; print('starting'); time.sleep(60)"],
            1,
            ready_path="/",
            log=tmp_path / "sleeper.log",
            timeout=1.0,
        )


XDIST_TEST = textwrap.dedent(
    """
    import os, signal
    from pathlib import Path
    from pytest_mlchaos.services.s3 import start_s3

    def test_killed_worker(tmp_path):
        service = start_s3(tmp_path)
        Path(os.environ["PIDFILE"]).write_text(str(service.pid))
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_killed_xdist_worker_leaves_no_service_behind(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    pytester.makepyfile(test_killer=XDIST_TEST)
    os.environ["PIDFILE"] = str(pidfile)
    try:
        result = pytester.runpytest_subprocess("-n", "1", "-p", "no:randomly", "--max-worker-restart=0")
    finally:
        del os.environ["PIDFILE"]
    result.stdout.fnmatch_lines(["*node down*"])
    pgid = int(pidfile.read_text())
    assert wait_gone([pgid]) == []


TWO_WORKERS = textwrap.dedent(
    """
    import os
    from pathlib import Path
    import pytest
    from pytest_mlchaos.services.session import SessionServices

    @pytest.mark.parametrize("n", [1, 2])
    def test_worker_starts_services(tmp_path, n):
        server, proxy = SessionServices(tmp_path).start_s3()  # left running: the end of the worker stops them
        Path(os.environ["PIDDIR"], f"{os.getpid()}-{n}").write_text(str(server.pid))
    """
)


def test_services_of_two_xdist_workers_stop_when_the_run_ends(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_two=TWO_WORKERS)
    os.environ["PIDDIR"] = str(tmp_path)
    try:
        result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly")
    finally:
        del os.environ["PIDDIR"]
    result.assert_outcomes(passed=2)
    pgids = [int(p.read_text()) for p in tmp_path.iterdir()]
    assert len(pgids) == 2 and wait_gone(pgids) == []


CTRL_C = textwrap.dedent(
    """
    import os, time
    from pathlib import Path
    from pytest_mlchaos.services.s3 import start_s3

    def test_waits(tmp_path):
        service = start_s3(tmp_path)
        Path(os.environ["PIDFILE"]).write_text(str(service.pid))
        time.sleep(120)
    """
)


def test_ctrl_c_of_a_pytest_run_stops_its_services(tmp_path: Path) -> None:
    (tmp_path / "test_ctrl_c.py").write_text(CTRL_C)
    pidfile = tmp_path / "pid"
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", "test_ctrl_c.py"],
        cwd=tmp_path,
        env={**os.environ, "PIDFILE": str(pidfile)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not pidfile.exists() and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.1)
    pgid = int(pidfile.read_text())
    os.killpg(run.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole foreground group
    assert run.wait(timeout=60) == pytest.ExitCode.INTERRUPTED
    assert wait_gone([pgid]) == []
