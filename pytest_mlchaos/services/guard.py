"""The guard of one service process: ``python -m pytest_mlchaos.services.guard -- COMMAND...``.

It starts COMMAND in a process group of its own and stops that whole group (the service and
whatever it spawned, e.g. ``mlflow server``'s uvicorn) when the owner closes the guard's
standard input, or dies (killed with SIGKILL, an xdist worker gone: the kernel closes the pipe),
or when the guard gets SIGINT/SIGTERM, or when the service exits. Nothing is left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

__all__ = ["GRACE", "main", "stop_group"]

GRACE = 5.0  # seconds between SIGTERM and SIGKILL


def stop_group(proc: subprocess.Popen[bytes], grace: float = GRACE) -> None:
    """SIGTERM the process group led by ``proc``, then SIGKILL what is left after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()
            if not _group_alive(proc.pid):
                return
            time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _die_with_parent() -> None:
    """Linux: the service gets SIGKILL if the guard itself is killed (best effort elsewhere)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print("usage: python -m pytest_mlchaos.services.guard -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    command = argv[argv.index("--") + 1 :]
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=sys.stderr.fileno(),  # the service's output goes to the guard's stderr: the owner's log file
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    print(proc.pid, flush=True)  # the owner learns the service's pid (its process group id)

    def watch_owner() -> None:
        try:
            while sys.stdin.buffer.read(1):
                pass
        except OSError:
            pass
        stop.set()

    threading.Thread(target=watch_owner, daemon=True).start()
    while not stop.is_set() and proc.poll() is None:
        stop.wait(0.1)
    stop_group(proc)
    proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
