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

from .repo import MLFLOW_ARTIFACTS, MLFLOW_DB


def relocate_store(root: Path, old_root: Path) -> int:
    """Rewrite every text cell of the copied database that names ``old_root`` to name ``root``; cells changed."""
    db = Path(root) / MLFLOW_DB
    if not db.is_file():
        return 0
    old, new = str(Path(old_root).resolve()), str(Path(root).resolve())
    if old == new:
        return 0
    changed = 0
    with closing(sqlite3.connect(db)) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')
                       if (row[2] or "").upper() in ("", "TEXT") or "CHAR" in (row[2] or "").upper()]
            for column in columns:
                cursor = conn.execute(f'UPDATE "{table}" SET "{column}" = REPLACE("{column}", ?, ?) '
                                      f'WHERE instr("{column}", ?) > 0', (old, new, old))
                changed += cursor.rowcount
        conn.commit()
    return changed


def discover(root: Path) -> dict[str, Any]:
    """What the build left in the store: ``mlflow_db``, ``mlflow_artifacts``, ``registry_model`` and
    ``registry_alias`` (None: the latest version is the served one). Empty if nothing logged to MLflow."""
    db = Path(root) / MLFLOW_DB
    if not db.is_file():
        return {}
    found: dict[str, Any] = {"mlflow_db": MLFLOW_DB, "mlflow_artifacts": MLFLOW_ARTIFACTS,
                             "registry_model": None, "registry_alias": None}
    with closing(sqlite3.connect(db)) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "registered_models" in names:
            models = [row[0] for row in conn.execute("SELECT name FROM registered_models ORDER BY name")]
            if models:
                found["registry_model"] = models[0]
                if "registered_model_aliases" in names:
                    alias = conn.execute("SELECT alias FROM registered_model_aliases WHERE name = ? ORDER BY alias",
                                         (models[0],)).fetchone()
                    found["registry_alias"] = alias[0] if alias else None
    return found
