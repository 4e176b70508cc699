"""The environment's own MLflow store: a sqlite database and an artifact directory under ``MLFLOW_DIR``.

Stages that log to MLflow find ``MLFLOW_TRACKING_URI`` pointing there (see ``repo.hermetic_environ``).
MLflow writes absolute artifact paths into the database; ``relocate_store`` rewrites them in a copy.
Only ``sqlite3`` is used here: nothing imports MLflow.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from ..manifest import alias_version
from .repo import MLFLOW_ARTIFACTS, MLFLOW_DB

__all__ = [
    "BACKUP_DB",
    "BACKUP_DIR",
    "canonical_digest",
    "discover",
    "problems",
    "record",
    "relocate_store",
    "restore",
    "served_version",
]


def relocate_store(root: Path, old_root: Path) -> int:
    """Rewrite every text cell of the copied database (and its backup) that names ``old_root`` to name
    ``root``; returns the cells changed. A database too damaged to open is left as it is."""
    old, new = str(Path(old_root).resolve()), str(Path(root).resolve())
    changed = 0
    for rel in (MLFLOW_DB, BACKUP_DB):
        db = Path(root) / rel
        if db.is_file() and old != new:
            try:
                changed += _rewrite(db, old, new)
            except sqlite3.DatabaseError:
                continue
    return changed


def _rewrite(db: Path, old: str, new: str) -> int:
    changed = 0
    with closing(sqlite3.connect(db)) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [
                row[1]
                for row in conn.execute(f'PRAGMA table_info("{table}")')
                if (row[2] or "").upper() in ("", "TEXT") or "CHAR" in (row[2] or "").upper()
            ]
            for column in columns:
                cursor = conn.execute(
                    f'UPDATE "{table}" SET "{column}" = REPLACE("{column}", ?, ?) WHERE instr("{column}", ?) > 0',
                    (old, new, old),
                )
                changed += cursor.rowcount
        conn.commit()
    return changed


def discover(root: Path) -> dict[str, Any]:
    """What the build left in the store: ``mlflow_db``, ``mlflow_artifacts``, ``registry_model`` and
    ``registry_alias`` (None: the latest version is the served one). Empty if nothing logged to MLflow."""
    db = Path(root) / MLFLOW_DB
    if not db.is_file():
        return {}
    found: dict[str, Any] = {
        "mlflow_db": MLFLOW_DB,
        "mlflow_artifacts": MLFLOW_ARTIFACTS,
        "registry_model": None,
        "registry_alias": None,
    }
    with closing(sqlite3.connect(db)) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "registered_models" in names:
            models = [row[0] for row in conn.execute("SELECT name FROM registered_models ORDER BY name")]
            if models:
                found["registry_model"] = models[0]
                if "registered_model_aliases" in names:
                    alias = conn.execute(
                        "SELECT alias FROM registered_model_aliases WHERE name = ? ORDER BY alias", (models[0],)
                    ).fetchone()
                    found["registry_alias"] = alias[0] if alias else None
    return found


BACKUP_DIR = f"{MLFLOW_DB.rsplit('/', 1)[0]}/backup"
BACKUP_DB = f"{BACKUP_DIR}/mlflow.db"


def _connect_ro(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)


def canonical_digest(db: Path, root: Path) -> str | None:
    """sha256 of every row of every table, the environment's path replaced by ``<root>``: equal in every
    clone of one environment (relocation rewrites the paths), None if the file is not a readable database."""
    import hashlib

    if not db.is_file():
        return None
    marker = str(Path(root).resolve())
    h = hashlib.sha256()
    try:
        with closing(_connect_ro(db)) as conn:
            tables = sorted(row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"))
            for table in tables:
                rows = sorted(
                    repr(tuple(v.replace(marker, "<root>") if isinstance(v, str) else v for v in row))
                    for row in conn.execute(f'SELECT * FROM "{table}"')
                )
                h.update(f"{table}\0{len(rows)}\0".encode() + "\0".join(rows).encode())
    except sqlite3.DatabaseError:
        return None
    return h.hexdigest()


def served_version(db: Path, model: str, alias: str | None) -> int | None:
    """The version the alias serves (``alias`` None: the latest live version); None if there is none."""
    with closing(_connect_ro(db)) as conn:
        return alias_version(conn, model, alias)


def record(root: Path) -> dict[str, Any]:
    """What the build left in MLflow (``discover``), the served version and the store's canonical digest; and a
    backup copy of the database, the system's own way back."""
    import shutil

    found = discover(root)
    if not found:
        return found
    db = Path(root) / MLFLOW_DB
    if found.get("registry_model"):
        found["registry_version"] = served_version(db, found["registry_model"], found.get("registry_alias"))
    found["digest"] = canonical_digest(db, root)
    found["backups"] = BACKUP_DIR
    (Path(root) / BACKUP_DIR).mkdir(parents=True, exist_ok=True)
    shutil.copy2(db, Path(root) / BACKUP_DB)
    return found


def problems(root: Path, facts: dict[str, Any]) -> dict[str, str]:
    """What differs from the baseline in the MLflow store and its backup (path -> why); empty when whole."""
    if not facts.get("digest"):
        return {}
    root = Path(root)
    found: dict[str, str] = {}
    db = root / MLFLOW_DB
    if not db.is_file():
        found[MLFLOW_DB] = "MLflow store missing"
    elif canonical_digest(db, root) is None:
        found[MLFLOW_DB] = "MLflow store is not a readable sqlite database"
    elif canonical_digest(db, root) != facts["digest"]:
        model, alias, version = facts.get("registry_model"), facts.get("registry_alias"), facts.get("registry_version")
        why = "MLflow store differs from the baseline"
        if model:
            served = served_version(db, model, alias)
            if served is None:
                why = (
                    f"MLflow registry: {model!r} has no alias {alias!r} any more (it served version {version})"
                    if alias
                    else f"MLflow registry: {model!r} has no live version any more"
                )
            elif served != version:
                why = f"MLflow registry: {model!r} serves version {served} instead of {version}"
        found[MLFLOW_DB] = why
    backup = root / BACKUP_DB
    if not backup.is_file():
        found[BACKUP_DB] = "MLflow backup missing"
    elif canonical_digest(backup, root) != facts["digest"]:
        found[BACKUP_DB] = "MLflow backup differs from the baseline"
    return found


def restore(root: Path, facts: dict[str, Any]) -> None:
    """Put the damaged one of the store and its backup back from the other (whichever is whole)."""
    import shutil

    root = Path(root)
    broken = problems(root, facts)
    if MLFLOW_DB in broken and BACKUP_DB not in broken:
        tmp = root / f"{MLFLOW_DB}.restoring"
        shutil.copy2(root / BACKUP_DB, tmp)
        tmp.replace(root / MLFLOW_DB)
    elif BACKUP_DB in broken and MLFLOW_DB not in broken:
        (root / BACKUP_DIR).mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / MLFLOW_DB, root / BACKUP_DB)
    elif broken:
        raise RuntimeError("the MLflow store and its backup are both damaged: " + "; ".join(broken.values()))
