"""MLflow: runs, the model registry and the ``production`` alias, always scoped to one environment's sqlite store.

Writes go through MLflow's API inside :func:`mlflow_session`; the health checks read the
database with ``sqlite3`` (no ``import mlflow``, so a check costs milliseconds).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote, urlparse

from .envvars import scoped_environ
from .layout import ALIAS, EXPERIMENT, MLARTIFACTS, MLFLOW_DB, REGISTERED_MODEL, TRACKING_URI_FILE

PIP_REQUIREMENTS = ["scikit-learn", "pandas", "numpy", "cloudpickle"]
JOBLIB_ARTIFACT = "dvc"  # run artifact folder holding the exact joblib file DVC tracks


class RegistryError(RuntimeError):
    """The MLflow store or registry cannot answer; the message says which part."""


class ServerUnavailable(ConnectionError):
    """The tracking server did not answer, or answered 5xx: worth trying again later (a ``RegistryError`` is not)."""


def attach_tracking(root: Path, tracking_uri: str) -> None:
    """Go through the MLflow tracking server at ``tracking_uri`` (http or https) to read the registry."""
    parsed = urlparse(tracking_uri)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise RegistryError(f"tracking_uri={tracking_uri!r} is not an http(s) URL of an MLflow tracking server")
    path = Path(root) / TRACKING_URI_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tracking_uri.rstrip("/") + "\n")


def attached_server(root: Path) -> str | None:
    """The tracking server this environment goes through, None when it reads its own sqlite store."""
    path = Path(root) / TRACKING_URI_FILE
    if not path.is_file():
        return None
    return path.read_text().strip() or None


def _http_get(url: str, timeout: float) -> bytes:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            raise ServerUnavailable(f"GET {url}: HTTP {exc.code}") from None
        raise RegistryError(f"GET {url}: HTTP {exc.code} {exc.read()[:200]!r}") from None
    except (urllib.error.URLError, OSError) as exc:  # refused, reset, timed out, cut short
        raise ServerUnavailable(f"GET {url}: {getattr(exc, 'reason', exc)}") from None


def served_model_bytes(server: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """The ``production`` version and the exact joblib file logged with its run, both read over HTTP from the
    tracking server (the registry's alias API, then the run's artifact); ServerUnavailable when it is down."""
    import json
    from urllib.parse import urlencode

    query = urlencode({"name": REGISTERED_MODEL, "alias": ALIAS})
    answer = json.loads(_http_get(f"{server}/api/2.0/mlflow/registered-models/alias?{query}", timeout))
    version = answer.get("model_version") or {}
    if not version.get("run_id"):
        raise RegistryError(f"{server}: {REGISTERED_MODEL}@{ALIAS} has no run: {str(answer)[:200]}")
    query = urlencode({"path": f"{JOBLIB_ARTIFACT}/model.pkl", "run_uuid": version["run_id"]})
    return int(version["version"]), _http_get(f"{server}/get-artifact?{query}", timeout)


def tracking_uri(root: Path) -> str:
    return f"sqlite:///{Path(root).resolve() / MLFLOW_DB}"


@contextlib.contextmanager
def mlflow_session(root: Path) -> Iterator[Any]:
    """Point MLflow at ``root``'s store for the block; restore the global URIs, env and runs after."""
    import mlflow
    from mlflow.tracking import MlflowClient
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    saved = (tracking_utils._tracking_uri, registry_utils._registry_uri)
    uri = tracking_uri(root)
    mlflow_logger = logging.getLogger("mlflow")
    saved_level = mlflow_logger.level
    with scoped_environ({"MLFLOW_SQLALCHEMYSTORE_POOLCLASS": "NullPool"},
                        unset=("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")):
        mlflow_logger.setLevel(logging.ERROR)
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        try:
            yield MlflowClient(tracking_uri=uri, registry_uri=uri)
        finally:
            while mlflow.active_run() is not None:
                mlflow.end_run()
            tracking_utils._tracking_uri, registry_utils._registry_uri = saved
            mlflow_logger.setLevel(saved_level)


def _fast_sqlite(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA synchronous=OFF")
    cur.close()


def ensure_experiment(client: Any, root: Path) -> str:
    """The experiment id; a new store gets its schema created without fsync per DDL statement (seconds saved)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    new_store = not (Path(root) / MLFLOW_DB).exists()
    if new_store:
        event.listen(Engine, "connect", _fast_sqlite)
    try:
        exp = client.get_experiment_by_name(EXPERIMENT)
    finally:
        if new_store:
            event.remove(Engine, "connect", _fast_sqlite)
    if exp is not None:
        return exp.experiment_id
    return client.create_experiment(EXPERIMENT, artifact_location=(Path(root).resolve() / MLARTIFACTS).as_uri())


def create_store(root: Path) -> str:
    """Create the sqlite store and the experiment without touching MLflow's global state.

    The caller sets ``MLFLOW_SQLALCHEMYSTORE_POOLCLASS=NullPool`` (see ``environment.init``).
    """
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(root)
    return ensure_experiment(MlflowClient(tracking_uri=uri, registry_uri=uri), root)


def log_training(root: Path, estimator: Any, params: dict[str, Any], metrics: dict[str, float],
                 model_file: Path, *, promote: str = "if_not_worse") -> "VersionInfo":
    """Log a run (params, metrics, the model), register a version; move ``production`` to it unless worse.

    ``promote``: ``if_not_worse`` (compare F1 with the current production version), ``always`` or ``never``.
    """
    from unittest import mock

    import mlflow
    import mlflow.sklearn

    # We pin pip_requirements ourselves; MLflow's check of them against the installed
    # packages scans every distribution (about 2 s) only to maybe print a warning.
    quiet = mock.patch("mlflow.utils.environment.warn_dependency_requirement_mismatches", lambda *_: None)
    with mlflow_session(root) as client, quiet:
        exp_id = ensure_experiment(client, root)
        with mlflow.start_run(experiment_id=exp_id) as run:
            mlflow.log_params({k: str(v) for k, v in params.items()})
            mlflow.log_metrics(metrics)
            mlflow.log_artifact(str(model_file), artifact_path=JOBLIB_ARTIFACT)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                info = mlflow.sklearn.log_model(estimator, name="model", serialization_format="cloudpickle",
                                                pip_requirements=PIP_REQUIREMENTS)
            run_id = run.info.run_id
        version = register(client, run_id, info.model_uri)
        current = production_f1(client)
        promoted = promote == "always" or (promote == "if_not_worse" and (current is None or metrics.get("f1", 0.0) >= current))
        if promoted:
            client.set_registered_model_alias(REGISTERED_MODEL, ALIAS, version)
    return VersionInfo(run_id=run_id, version=int(version), promoted=promoted)


def register(client: Any, run_id: str, model_uri: str) -> str:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(REGISTERED_MODEL)
    except MlflowException:
        client.create_registered_model(REGISTERED_MODEL)
    mv = client.create_model_version(REGISTERED_MODEL, source=model_uri, run_id=run_id)
    return str(mv.version)


def production_f1(client: Any) -> float | None:
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version_by_alias(REGISTERED_MODEL, ALIAS)
    except MlflowException:
        return None
    if not mv.run_id:
        return None
    return client.get_run(mv.run_id).data.metrics.get("f1")


def set_alias(root: Path, version: int) -> None:
    """Point ``production`` at an existing ``version``.

    The same row MLflow's ``set_registered_model_alias`` merges, written with ``sqlite3``: a
    rollback then needs no ``import mlflow`` (about 3 s) and stays under its 3 s target.
    """
    path = Path(root) / MLFLOW_DB
    conn = _connect(root)
    conn.close()
    conn = sqlite3.connect(str(path))
    try:
        row = conn.execute("SELECT workspace, current_stage FROM model_versions WHERE name=? AND version=?",
                           (REGISTERED_MODEL, int(version))).fetchone()
        if row is None or row[1] == "Deleted_Internal":
            raise RegistryError(f"{REGISTERED_MODEL} version {version} does not exist in {path}")
        conn.execute("INSERT OR REPLACE INTO registered_model_aliases (workspace, name, alias, version) VALUES (?, ?, ?, ?)",
                     (row[0], REGISTERED_MODEL, ALIAS, int(version)))
        conn.commit()
    finally:
        conn.close()


def register_again(root: Path, source: str, run_id: str | None) -> int:
    """A new version from a logged model that survived (``source``, e.g. ``models:/m-...``), its files as they
    are, and ``production`` pointed at it: the served model is bit for bit the one logged before."""
    with mlflow_session(root) as client:
        version = register(client, run_id or "", source)
        client.set_registered_model_alias(REGISTERED_MODEL, ALIAS, version)
    return int(version)


def logged_models(root: Path) -> list[tuple[str, ServedVersion]]:
    """Every MLflow model ever logged in this store, newest first, whether a version still registers it or
    not (deleting a version leaves its logged model): (``models:/<id>`` source, where its files are)."""
    conn = _connect(root)
    try:
        rows = conn.execute("SELECT model_id, source_run_id, artifact_location FROM logged_models "
                            "ORDER BY creation_timestamp_ms DESC").fetchall()
        found = []
        for model_id, run_id, location in rows:
            joblib_file = None
            if run_id:
                run = conn.execute("SELECT artifact_uri FROM runs WHERE run_uuid=?", (run_id,)).fetchone()
                if run and run[0]:
                    joblib_file = uri_to_path(run[0]) / JOBLIB_ARTIFACT / "model.pkl"
            found.append((f"models:/{model_id}", ServedVersion(0, run_id, uri_to_path(location) if location else None,
                                                                 joblib_file)))
        return found
    except sqlite3.OperationalError:  # a store without the logged_models table (MLflow 2)
        return []
    finally:
        conn.close()


def reregister(root: Path, run_id: str | None, model_file: Path, metrics: dict[str, float]) -> "VersionInfo":
    """Register the verified ``model_file`` again (a new run) and point ``production`` at it."""
    from .models import load_estimator

    estimator = load_estimator(model_file)
    return log_training(root, estimator, {"reregistered_from_run": run_id or ""}, metrics, model_file, promote="always")


@dataclass(frozen=True)
class VersionInfo:
    run_id: str
    version: int
    promoted: bool = False


# -- read-only checks with sqlite3 ----------------------------------------------------------------------
def _connect(root: Path) -> sqlite3.Connection:
    path = Path(root) / MLFLOW_DB
    if not path.is_file():
        raise RegistryError(f"{path}: MLflow database is missing")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.execute("SELECT count(*) FROM model_versions").fetchone()
        check = [row[0] for row in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        raise RegistryError(f"{path}: MLflow database does not open ({exc})") from None
    if check != ["ok"]:
        conn.close()
        raise RegistryError(f"{path}: MLflow database is corrupt (quick_check: {'; '.join(check[:2])[:160]})")
    return conn


def uri_to_path(uri: str) -> Path:
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(uri)


@dataclass(frozen=True)
class ServedVersion:
    version: int
    run_id: str | None
    storage: Path | None  # the MLflow model directory of the version
    joblib_file: Path | None  # the exact joblib file logged with the run


def production_version(root: Path) -> ServedVersion:
    """What ``production`` resolves to, from the database alone; RegistryError when it does not resolve."""
    conn = _connect(root)
    try:
        row = conn.execute("SELECT version FROM registered_model_aliases WHERE name=? AND alias=?",
                           (REGISTERED_MODEL, ALIAS)).fetchone()
        if row is None:
            raise RegistryError(f"alias {REGISTERED_MODEL}@{ALIAS} is not set")
        return _version(conn, int(row[0]))
    finally:
        conn.close()


def version_info(root: Path, version: int) -> ServedVersion:
    conn = _connect(root)
    try:
        return _version(conn, version)
    finally:
        conn.close()


def _version(conn: sqlite3.Connection, version: int) -> ServedVersion:
    row = conn.execute("SELECT run_id, storage_location, current_stage FROM model_versions WHERE name=? AND version=?",
                       (REGISTERED_MODEL, version)).fetchone()
    if row is None or row[2] == "Deleted_Internal":
        raise RegistryError(f"alias {REGISTERED_MODEL}@{ALIAS} points to version {version}, which does not exist")
    run_id, storage, _ = row
    joblib_file = None
    if run_id:
        run = conn.execute("SELECT artifact_uri FROM runs WHERE run_uuid=?", (run_id,)).fetchone()
        if run and run[0]:
            joblib_file = uri_to_path(run[0]) / JOBLIB_ARTIFACT / "model.pkl"
    return ServedVersion(version, run_id, uri_to_path(storage) if storage else None, joblib_file)


def latest_version(root: Path) -> int | None:
    conn = _connect(root)
    try:
        row = conn.execute("SELECT max(version) FROM model_versions WHERE name=?", (REGISTERED_MODEL,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None
    finally:
        conn.close()


def load_served(served: ServedVersion) -> Any:
    """Load the version's MLflow model (cloudpickle) without importing mlflow; raises on any failure."""
    import pickle

    if served.storage is None:
        raise RegistryError(f"version {served.version} has no storage location")
    path = served.storage / "model.pkl"
    if not path.is_file():
        raise RegistryError(f"version {served.version}: {path} is missing")
    with open(path, "rb") as fh:
        return pickle.load(fh)


# The columns where MLflow 3 keeps absolute paths (a test checks that no other cell holds the old root).
_PATH_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
    ("tags", "value"),
    ("params", "value"),
    ("logged_model_params", "param_value"),
    ("logged_model_tags", "tag_value"),
    ("model_version_tags", "value"),
)


def rewrite_paths(db: Path, old_root: Path, new_root: Path) -> int:
    """Replace ``old_root`` by ``new_root`` in the path columns of an MLflow database; returns cells changed."""
    old, new = str(Path(old_root).resolve()), str(Path(new_root).resolve())
    if old == new or not db.is_file():
        return 0
    conn = sqlite3.connect(str(db))
    changed = 0
    try:
        # a clone's database: nothing to protect against a crash mid-rewrite (the clone is thrown away),
        # and fsyncs dominated the rewrite's cost
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA journal_mode=MEMORY")
        for table, col in _PATH_COLUMNS:
            try:
                cur = conn.execute(f'UPDATE "{table}" SET "{col}" = replace("{col}", ?, ?) WHERE instr("{col}", ?) > 0',
                                   (old, new, old))
            except sqlite3.OperationalError:  # a column this MLflow version does not have
                continue
            changed += cur.rowcount
        conn.commit()
    finally:
        conn.close()
    return changed
