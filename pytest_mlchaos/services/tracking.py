"""An MLflow tracking server (``mlflow server``) on loopback with a sqlite backend and a local artifact root."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .lifecycle import LOOPBACK, ServiceError, ServiceProcess, free_port, start_service


def mlflow_command() -> list[str]:
    """``mlflow`` beside the running interpreter (the same environment), else on PATH."""
    beside = Path(sys.executable).with_name("mlflow")
    found = str(beside) if beside.is_file() else shutil.which("mlflow")
    if found is None:
        raise ServiceError("service mlflow: no `mlflow` command beside the interpreter or on PATH (pip install mlflow)")
    return [found]


def start_mlflow(backend_db: Path, artifacts: Path, workdir: Path, timeout: float = 120.0) -> ServiceProcess:
    """``mlflow server`` on a free port of 127.0.0.1 serving ``backend_db`` (sqlite) and ``artifacts``.

    MLflow's job runner (nine extra processes, seconds of start-up) is switched off; one worker.
    """
    port = free_port()
    artifacts.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_SQLALCHEMYSTORE_POOLCLASS": "NullPool"}
    command = [
        *mlflow_command(),
        "server",
        "--backend-store-uri",
        f"sqlite:///{backend_db.resolve()}",
        "--artifacts-destination",
        str(artifacts.resolve()),
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    return start_service(
        "mlflow", command, port, ready_path="/health", log=workdir / "mlflow.log", env=env, timeout=timeout
    )


__all__ = ["mlflow_command", "start_mlflow"]
