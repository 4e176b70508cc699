"""Local backups: verified copies of every locked output and of the MLflow database, under ``backups/``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .dvcops import LockedOut, locked_outs, md5_file, place_verified
from .layout import BACKUPS, MLFLOW_DB


def path_of(root: Path, rel: str) -> Path:
    return Path(root) / BACKUPS / rel


def rebuild(root: Path, outs: dict[str, LockedOut] | None = None) -> list[str]:
    """Back up each workspace file that matches ``dvc.lock`` (skipping good backups); returns what could not be."""
    root = Path(root)
    outs = locked_outs(root) if outs is None else outs
    skipped = []
    for rel, out in outs.items():
        backup = path_of(root, rel)
        if backup.is_file() and md5_file(backup) == out.md5:
            continue
        source = root / rel
        try:
            place_verified(source, backup, out.md5)
        except (OSError, ValueError) as exc:
            skipped.append(f"{rel}: {exc}")
    try:
        backup_db(root)
    except (OSError, sqlite3.DatabaseError) as exc:
        skipped.append(f"{MLFLOW_DB}: {exc}")
    return skipped


def backup_db(root: Path) -> None:
    """A consistent copy of ``mlflow.db`` through sqlite's backup API."""
    root = Path(root)
    target = path_of(root, MLFLOW_DB)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{root / MLFLOW_DB}?mode=ro", uri=True)
    try:
        src.execute("SELECT count(*) FROM model_versions").fetchone()
        if [row[0] for row in src.execute("PRAGMA quick_check")] != ["ok"]:
            raise sqlite3.DatabaseError(f"{root / MLFLOW_DB} is corrupt; not backing it up")
        dst = sqlite3.connect(str(tmp))
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    tmp.replace(target)


def db_backup_ok(root: Path) -> str | None:
    """None if the database backup opens, else why not."""
    path = path_of(root, MLFLOW_DB)
    if not path.is_file():
        return f"{BACKUPS}/{MLFLOW_DB}: missing"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            conn.execute("SELECT count(*) FROM model_versions").fetchone()
            check = [row[0] for row in conn.execute("PRAGMA quick_check")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"{BACKUPS}/{MLFLOW_DB}: does not open ({exc})"
    if check != ["ok"]:
        return f"{BACKUPS}/{MLFLOW_DB}: corrupt (quick_check: {check[0][:120]})"
    return None
