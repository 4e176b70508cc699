"""Run a call with a deadline: in a forked child, cut (with every process it started) when time is up.

A recovery manager that hangs (a remote that never answers, a lock never released) must not hang
the test run. ``call_with_deadline`` forks; the child runs the call and sends its result back
through a pipe; past the deadline the parent kills the child's process group (the child leads a
group of its own, so the DVC or git processes it started go too) and raises ``DeadlineExceeded``.
Whatever the call changed on disk stays, as it would if the process had been killed: the plugin
judges that state. The child's changes to memory are lost, which a recovery manager does not need.

Forking needs POSIX; where ``os.fork`` is missing the call runs in-process and is not cut.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
import warnings
from collections.abc import Callable
from typing import TypeVar

__all__ = ["DeadlineExceeded", "can_cut", "call_with_deadline"]

T = TypeVar("T")


class DeadlineExceeded(Exception):
    """The call had not returned ``seconds`` after it started; its processes were killed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"had not returned after {seconds:g}s and was cut")
        self.seconds = seconds


def can_cut() -> bool:
    return hasattr(os, "fork") and hasattr(os, "killpg")


def call_with_deadline(fn: Callable[[], T], seconds: float) -> T:
    """``fn()``'s result, or its exception, re-raised here; ``DeadlineExceeded`` once ``seconds`` have passed."""
    if not can_cut():
        return fn()
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns that forking a threaded process can deadlock
        warnings.simplefilter("ignore", DeprecationWarning)  # the child only runs fn and exits
        pid = os.fork()
    if pid != 0:
        try:
            os.setpgid(pid, pid)  # as the child does: whichever runs first, the group exists before a kill
        except OSError:
            pass
    if pid == 0:  # the child: its own process group, fn, the pickled outcome, exit without cleanup
        os.close(read_end)
        os.setpgid(0, 0)
        status = 0
        try:
            payload = pickle.dumps(("ok", fn()))
        except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the parent
            status = 1
            try:
                payload = pickle.dumps(("raised", exc))
            except Exception:
                payload = pickle.dumps(("raised", RuntimeError(f"{type(exc).__name__}: {exc}")))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        os._exit(status)
    os.close(write_end)
    try:
        data = _read_until(read_end, time.monotonic() + seconds)
    except DeadlineExceeded:
        _kill_group(pid)
        raise DeadlineExceeded(seconds) from None
    finally:
        os.close(read_end)
    os.waitpid(pid, 0)
    if not data:
        raise RuntimeError("the recovery's process ended without a result (killed by a signal?)")
    kind, value = pickle.loads(data)
    if kind == "raised":
        raise value
    result: T = value
    return result


def _read_until(fd: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(0)
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            raise DeadlineExceeded(0)
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)  # the child and what it started
    except ProcessLookupError:
        pass
    try:
        os.kill(pid, signal.SIGKILL)  # in case it had not made its group yet
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
