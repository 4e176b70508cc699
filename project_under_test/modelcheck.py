"""Does a model file load and predict? In this process for trusted files, in a throwaway child for others.

Unpickling arbitrary bytes can crash the interpreter (scikit-learn's trees trust their node
arrays), so a file that is not the locked model is loaded in a child process and a crash
there is the answer. A fresh interpreter per check would spend ~3 s importing scikit-learn;
instead one helper process per caller (``python -m project_under_test.modelcheck``) imports it
once and forks a child per check, which costs tens of milliseconds. The helper is
single-threaded (thread pools of the numeric libraries are set to one thread), so forking it
is safe, and it exits when its caller closes the pipe or dies.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

TIMEOUT = 120.0
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def load_and_predict(path: Path, rel: str) -> str | None:
    """Why the model at ``path`` is unusable (None when it loads and predicts), checked in this process."""
    from .models import ModelError, load_estimator, smoke_predict

    try:
        smoke_predict(load_estimator(path), rel)
        return None
    except ModelError as exc:
        return str(exc).replace(str(path) + ": ", "")


def load_and_predict_isolated(path: Path, rel: str, timeout: float = TIMEOUT) -> str | None:
    """``load_and_predict`` in a forked child of the helper; a crash or a hang is the verdict."""
    reply = _HELPER.ask({"path": str(path), "rel": rel, "timeout": timeout})
    if "signal" in reply:
        return f"loading the model crashed the interpreter (signal {reply['signal']})"
    if "hung" in reply:
        return f"loading the model hung for {reply['hung']:g} s"
    return reply.get("answer")


class _Helper:
    """The caller's side: one helper process, started on first use, restarted if it died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for _ in range(2):  # a helper found dead is replaced once
                proc = self._running()
                try:
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(json.dumps(request).encode() + b"\n")
                    proc.stdin.flush()
                    line = proc.stdout.readline()
                except (BrokenPipeError, OSError):
                    line = b""
                if line:
                    return json.loads(line)
                self.close()  # the helper died (killed, out of memory)
            return {"answer": "loading the model failed: the checking process could not be run"}

    def _running(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is not None:
            self.close()  # it ended since the last check: release its pipes
        if self._proc is None:
            self._proc = subprocess.Popen([sys.executable, "-m", "project_under_test.modelcheck"],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          env={**os.environ, **_ONE_THREAD})
        return self._proc

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_HELPER = _Helper()
atexit.register(_HELPER.close)


# -- the helper process ---------------------------------------------------------------------------
def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """Answer one JSON request per line until ``requests`` ends, each from a forked child."""
    # What loading and predicting imports, imported once here instead of in every child
    import joblib  # noqa: F401
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import sklearn.ensemble  # noqa: F401

    for line in requests:
        request = json.loads(line)
        replies.write(json.dumps(_check_in_fork(request["path"], request["rel"], float(request["timeout"]))).encode()
                      + b"\n")
        replies.flush()


def _check_in_fork(path: str, rel: str, timeout: float) -> dict[str, Any]:
    import select
    import signal

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer, then leave without running the parent's cleanup
        os.close(read_end)
        try:
            answer = load_and_predict(Path(path), rel)
        except BaseException as exc:  # anything short of a crash is an answer too
            answer = f"loading the model failed: {type(exc).__name__}: {exc}"[:240]
        os.write(write_end, json.dumps({"answer": answer}).encode())
        os._exit(0)
    os.close(write_end)
    data = b""
    try:
        if not select.select([read_end], [], [], timeout)[0]:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return {"hung": timeout}
        while chunk := os.read(read_end, 65536):
            data += chunk
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return json.loads(data) if data else {"answer": "loading the model failed: the check ended without an answer"}


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
