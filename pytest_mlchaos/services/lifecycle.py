"""Starting and stopping service processes on free loopback ports, each under a guard that outlives nobody.

A service runs as ``python -m pytest_mlchaos.services.guard -- COMMAND`` whose standard input
is a pipe the owner holds: when the owner exits, is interrupted, or is killed (SIGKILL, an
xdist worker gone), the pipe closes and the guard stops the service's whole process group.
"""

from __future__ import annotations

import atexit
import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"


class ServiceError(RuntimeError):
    """A service that could not start (the message names it and ends with its log), or a bad service name."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def http_status(port: int, path: str, timeout: float = 2.0) -> int | None:
    """The status of ``GET path`` on 127.0.0.1:``port``, None when nothing answers."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


@dataclass
class ServiceProcess:
    """One running service: its name, port, the guard process, the service's pid (its process group) and log."""

    name: str
    port: int
    guard: subprocess.Popen[bytes]
    pid: int
    log: Path
    started_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def alive(self) -> bool:
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self, timeout: float = 15.0) -> None:
        """Close the guard's pipe and wait for it to stop the service; kill the guard if it does not."""
        if self.guard.stdin is not None and not self.guard.stdin.closed:
            try:
                self.guard.stdin.close()
            except OSError:
                pass
        try:
            self.guard.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.guard.kill()  # the service gets SIGKILL through PR_SET_PDEATHSIG
            self.guard.wait()
        _RUNNING.discard(self)

    def log_tail(self, lines: int = 15) -> str:
        return _tail(self.log, lines)

    def __hash__(self) -> int:
        return id(self)


_RUNNING: set[ServiceProcess] = set()


def _stop_all() -> None:
    for service in list(_RUNNING):
        service.stop()


atexit.register(_stop_all)


def start_service(
    name: str,
    command: Sequence[str],
    port: int,
    *,
    ready_path: str,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
) -> ServiceProcess:
    """Start ``command`` (which must listen on 127.0.0.1:``port``) under a guard; return once ``GET ready_path``
    answers below 500. A service that exits or does not answer within ``timeout`` is stopped and a
    ``ServiceError`` names it with the end of its log."""
    start = time.perf_counter()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as log_file:
        guard = subprocess.Popen(
            [sys.executable, "-m", "pytest_mlchaos.services.guard", "--", *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            env=dict(os.environ if env is None else env),
            cwd=cwd,
        )
    assert guard.stdout is not None
    line = guard.stdout.readline()
    guard.stdout.close()
    if not line.strip().isdigit():
        guard.wait()
        raise ServiceError(f"service {name}: its guard did not start it ({_tail(log)})")
    service = ServiceProcess(name, port, guard, int(line), log)
    _RUNNING.add(service)
    deadline = time.monotonic() + timeout
    while True:
        status = http_status(port, ready_path, timeout=1.0)
        if status is not None and status < 500:
            break
        if guard.poll() is not None or time.monotonic() > deadline:
            why = "exited" if guard.poll() is not None else f"did not answer within {timeout:g} s"
            service.stop()
            raise ServiceError(f"service {name} ({' '.join(command[:3])} ...) {why}; its log ends:\n{_tail(log)}")
        time.sleep(0.1)
    service.started_seconds = time.perf_counter() - start
    return service


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


__all__ = ["LOOPBACK", "ServiceError", "ServiceProcess", "free_port", "http_status", "start_service"]
