"""Health checks of one environment: what is wrong, one line per problem, by hashing files ourselves.

``dvc status`` trusts (inode, mtime, size); these checks hash every locked output, its cache
and remote objects and its backup, validate the CSVs, load the model and resolve the alias.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from . import backups, modelcheck, tracking
from .dvcops import LockError, LockedOut, cache_object, locked_outs, md5_file, remote_object
from .layout import BACKUPS, DVC_LOCKS, DVC_REMOTE, FAILED_DIR, LOCK, METRICS, MODEL, PARAMS, RAW, TEST, TRAIN


@dataclass(frozen=True)
class Problem:
    """``kind``: lock, config, missing, digest, invalid, model, cache, remote, backup, stale_lock,
    failed_stage, mlflow_db, alias, registry_model."""

    kind: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _pid_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_is_dvc(pid: int) -> bool:
    """A live ``pid`` that is a DVC, ``mlops`` or this package's process (else the PID was reused)."""
    import os

    if pid == os.getpid():
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return _pid_alive(pid)  # no /proc: trust liveness
    return any(word in cmdline for word in ("dvc", "mlops", "project_under_test"))


def stale_dvc_locks(root: Path) -> list[str]:
    """DVC lock files left by a process that is gone.

    ``.dvc/tmp/rwlock`` normally holds ``{"read": {}}``; an entry naming a dead PID, or a live PID
    that is not a DVC process (the PID was reused, e.g. PID 1 after a container restart), is
    stale, and DVC would refuse to run. ``.dvc/tmp/lock`` keeps the last holder's PID after a
    clean exit (our own calls empty it afterwards); garbage in it, or an unheld lock naming a live PID
    that is not a DVC process (a reused PID), is reported.
    """
    import os

    stale = []
    rw = Path(root) / DVC_LOCKS[1]
    if rw.is_file():
        try:
            data = json.loads(rw.read_text() or "{}")
            entries = list((data.get("write") or {}).values())
            entries += [info for infos in (data.get("read") or {}).values() for info in infos]
            pids = [int(e.get("pid", -1)) if isinstance(e, dict) else -1 for e in entries]
            if any(pid < 0 or not _pid_alive(pid) or not _owner_is_dvc(pid) for pid in pids):
                stale.append(DVC_LOCKS[1])
        except (ValueError, AttributeError, TypeError):
            stale.append(DVC_LOCKS[1])
    lock = Path(root) / DVC_LOCKS[0]
    if lock.is_file():
        from .dvcops import lock_is_held

        text = lock.read_text(errors="replace").strip()
        if text and not text.split()[0].isdigit():
            stale.append(DVC_LOCKS[0])
        elif text and not lock_is_held(lock):
            pid = int(text.split()[0])
            if pid != os.getpid() and _pid_alive(pid) and not _owner_is_dvc(pid):
                stale.append(DVC_LOCKS[0])
    return stale


_MODEL_VERDICTS: dict[str, str | None] = {}


def _model_verdict(path: Path, rel: str, root: Path) -> str | None:
    """Whether a model file loads and predicts, memoised by its md5 (same bytes, same answer).

    Only a file whose md5 is the one ``dvc.lock`` records is loaded in this process; any other
    is tried in a child process (``modelcheck``), and a crash there is the verdict.
    """
    md5 = md5_file(path)
    if md5 not in _MODEL_VERDICTS:
        if md5 in _locked_md5s(root):
            _MODEL_VERDICTS[md5] = modelcheck.load_and_predict(path, rel)
        else:
            _MODEL_VERDICTS[md5] = modelcheck.load_and_predict_isolated(path, rel)
        if len(_MODEL_VERDICTS) > 64:
            _MODEL_VERDICTS.pop(next(iter(_MODEL_VERDICTS)))
    return _MODEL_VERDICTS[md5]


def _locked_md5s(root: Path) -> set[str]:
    from .dvcops import locked_outs

    try:
        return {out.md5 for out in locked_outs(root).values()}
    except Exception:  # an unreadable dvc.lock trusts nothing
        return set()


def check_file(root: Path, rel: str, expected_rows: int | None) -> str | None:
    """Why a tracked file is unusable, when it is (CSV validation, model load)."""
    from . import data
    from .models import ModelError

    path = Path(root) / rel
    try:
        if rel == RAW:
            _, report = data.load(path, expected_rows)
            return None if report.ok else "; ".join(report.problems)
        if rel in (TRAIN, TEST):
            report = data.validate_processed(path)
            return None if report.ok else "; ".join(report.problems)
        if rel == MODEL:
            if not path.is_file():
                return "model file is missing"
            return _model_verdict(path, rel, root)
        if rel == METRICS:
            json.loads(path.read_text())
            return None
    except (data.DataError, ModelError, ValueError, OSError) as exc:
        return str(exc).replace(str(path) + ": ", "")
    return None


def scan(root: Path) -> list[Problem]:
    root = Path(root)
    problems: list[Problem] = []
    from . import config as config_mod

    try:
        expected_rows: int | None = config_mod.load(root).data.rows
    except config_mod.ConfigError as exc:
        problems.append(Problem("config", PARAMS, str(exc).replace(str(root / PARAMS) + ": ", "")))
        expected_rows = None
    try:
        outs: dict[str, LockedOut] = locked_outs(root)
    except LockError as exc:
        problems.append(Problem("lock", LOCK, str(exc).split(": ", 1)[-1]))
        outs = {}
        for rel in (RAW, TRAIN, TEST, MODEL):
            if (root / rel).is_file() and (why := check_file(root, rel, expected_rows)):
                problems.append(Problem("invalid", rel, why))
    for stage_marker in sorted((root / FAILED_DIR).glob("*.json")):
        try:
            error = json.loads(stage_marker.read_text()).get("error", "")
        except ValueError:
            error = "unreadable marker"
        problems.append(Problem("failed_stage", f"{FAILED_DIR}/{stage_marker.name}",
                                f"stage {stage_marker.stem!r} failed: {error}"[:200]))
    for rel in stale_dvc_locks(root):
        problems.append(Problem("stale_lock", rel, "stale DVC lock left by a process that is gone"))
    for rel, out in outs.items():
        path = root / rel
        if not path.is_file():
            problems.append(Problem("missing", rel, f"missing (stage {out.stage!r} output locked in {LOCK})"))
        elif (got := md5_file(path)) != out.md5:
            why = check_file(root, rel, expected_rows)
            problems.append(Problem("digest", rel, f"md5 {got[:12]} differs from {LOCK} {out.md5[:12]}" + (f"; {why}" if why else "")))
        elif rel == MODEL and (why := check_file(root, rel, None)):
            problems.append(Problem("model", rel, why))
        obj = cache_object(root, out.md5)
        if obj.is_file() and md5_file(obj) != out.md5:
            problems.append(Problem("cache", rel, f"DVC cache object {out.md5[:12]} is corrupt"))
        elif rel != METRICS and not obj.is_file():  # metrics.json is `cache: false`; DVC may still keep a copy
            problems.append(Problem("cache", rel, f"DVC cache object {out.md5[:12]} is missing"))
        if rel != METRICS:
            robj = remote_object(root, out.md5)
            if not robj.is_file():
                problems.append(Problem("remote", rel, f"object {out.md5[:12]} is missing from the remote {DVC_REMOTE}"))
            elif md5_file(robj) != out.md5:
                problems.append(Problem("remote", rel, f"object {out.md5[:12]} in the remote {DVC_REMOTE} is corrupt"))
        backup = backups.path_of(root, rel)
        if not backup.is_file():
            problems.append(Problem("backup", rel, f"backup {BACKUPS}/{rel} is missing"))
        elif md5_file(backup) != out.md5:
            problems.append(Problem("backup", rel, f"backup {BACKUPS}/{rel} does not match {LOCK}"))
    problems += registry_problems(root)
    return problems


def registry_problems(root: Path) -> list[Problem]:
    from .layout import ALIAS, MLFLOW_DB, REGISTERED_MODEL

    found = []
    if why := backups.db_backup_ok(root):
        found.append(Problem("backup", f"{BACKUPS}/{MLFLOW_DB}", why.split(": ", 1)[-1]))
    try:
        served = tracking.production_version(root)
    except tracking.RegistryError as exc:
        kind = "mlflow_db" if "database" in str(exc) else "alias"
        return [*found, Problem(kind, MLFLOW_DB, str(exc).replace(str(Path(root) / MLFLOW_DB) + ": ", ""))]
    why = _served_verdict(served)
    if why:
        found.append(Problem("registry_model", MLFLOW_DB,
                             f"{REGISTERED_MODEL}@{ALIAS} (version {served.version}) does not load: {why[:120]}"))
    return found


_SERVED_VERDICTS: dict[str, str | None] = {}


def _served_verdict(served: tracking.ServedVersion) -> str | None:
    """Whether the served MLflow model loads and predicts, memoised by the md5 of its pickle."""
    from .models import smoke_predict

    pickle_file = served.storage / "model.pkl" if served.storage else None
    if pickle_file is None or not pickle_file.is_file():
        return f"{pickle_file or 'its storage location'} is missing"
    md5 = md5_file(pickle_file)
    if md5 not in _SERVED_VERDICTS:
        try:
            smoke_predict(tracking.load_served(served), f"version {served.version}")
            _SERVED_VERDICTS[md5] = None
        except Exception as exc:  # whatever stops the served model from loading is the problem
            _SERVED_VERDICTS[md5] = f"{type(exc).__name__}: {exc}"
        if len(_SERVED_VERDICTS) > 64:
            _SERVED_VERDICTS.pop(next(iter(_SERVED_VERDICTS)))
    return _SERVED_VERDICTS[md5]


def detect(root: Path) -> list[str]:
    return [str(p) for p in scan(root)]
