"""DVC through its Python API, confined to one environment; plus the lock/cache facts we check ourselves."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .envvars import scoped_environ
from .layout import DVC_CACHE, DVC_LOCKS, DVC_REMOTE, DVC_YAML, LOCK, SITE_CACHE

_MD5 = re.compile(r"^[0-9a-f]{32}$")


class LockError(ValueError):
    """``dvc.lock`` is missing or not a lock file; the message names it."""


@contextlib.contextmanager
def dvc_session(root: Path) -> Iterator[Any]:
    """A fresh ``dvc.repo.Repo`` of ``root`` with the cwd and DVC's env confined to it; both restored after."""
    from dvc.repo import Repo

    from .gitops import REPO_ENV

    root = Path(root).resolve()
    saved_cwd = os.getcwd()
    dvc_logger = logging.getLogger("dvc")
    saved_level = dvc_logger.level
    repo = None
    # DVC's in-process git must see this environment's repository, not a hook's (REPO_ENV unset)
    with scoped_environ({"DVC_SITE_CACHE_DIR": str(root / SITE_CACHE), "DVC_NO_ANALYTICS": "1"}, unset=REPO_ENV):
        os.chdir(root)
        dvc_logger.setLevel(logging.WARNING)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                repo = Repo(str(root))
                yield repo
        finally:
            if repo is not None:
                repo.close()
                clear_repo_lock(root)
            os.chdir(saved_cwd)
            dvc_logger.setLevel(saved_level)


def lock_is_held(path: Path) -> bool:
    """Whether a process holds DVC's repository lock file (zc.lockfile takes an exclusive ``flock``)."""
    import fcntl

    try:
        with open(path, "r+") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    except FileNotFoundError:
        return False
    return False


def clear_repo_lock(root: Path) -> None:
    """Empty ``.dvc/tmp/lock`` after our own DVC call released it, so any PID found there later was left
    by someone else (a ``dvc`` command, a killed run) and can be judged."""
    path = Path(root) / DVC_LOCKS[0]
    try:
        if path.stat().st_size and not lock_is_held(path):
            path.write_text("")
    except FileNotFoundError:
        pass


def init_repo(root: Path) -> None:
    """``dvc init`` plus this system's config: copy cache links, a local remote with a relative url."""
    from dvc.repo import Repo

    dvc_logger = logging.getLogger("dvc")
    saved_level = dvc_logger.level
    dvc_logger.setLevel(logging.WARNING)
    try:
        with scoped_environ({"DVC_NO_ANALYTICS": "1"}), contextlib.redirect_stdout(io.StringIO()):
            Repo.init(str(root)).close()
    finally:
        dvc_logger.setLevel(saved_level)
    with dvc_session(root) as repo:
        with repo.config.edit() as conf:
            conf["cache"]["type"] = "copy"
            conf["core"]["remote"] = "local"
            conf["core"]["autostage"] = False
            conf["remote"]["local"] = {"url": DVC_REMOTE}  # relative to the cwd (root); DVC stores it relative to .dvc/
    (root / DVC_REMOTE).mkdir(parents=True, exist_ok=True)


def commit_stages(root: Path, stages: tuple[str, ...] | list[str]) -> None:
    """Record ``stages``' current outputs in ``dvc.lock`` and the cache (``dvc commit -f``)."""
    with dvc_session(root) as repo:
        for stage in stages:
            repo.commit(stage, force=True)


def push(root: Path) -> None:
    """Push every locked output in the cache to the local remote."""
    with dvc_session(root) as repo:
        repo.push()


# -- facts we check ourselves (DVC trusts inode/mtime, we hash) ------------------------------------------
def md5_file(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class LockedOut:
    stage: str
    path: str
    md5: str
    size: int | None


def read_lock(root: Path) -> dict[str, Any]:
    import yaml

    path = Path(root) / LOCK
    if not path.is_file():
        raise LockError(f"{path}: missing (run `mlops init` or restore it from git)")
    try:
        data = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise LockError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("stages"), dict):
        raise LockError(f"{path}: not a DVC lock file (no 'stages' mapping)")
    return data


def declared_outputs(root: Path) -> dict[str, list[str]] | None:
    """Outputs (and metrics) each stage of ``dvc.yaml`` declares; None when dvc.yaml is unreadable."""
    import yaml

    try:
        data = yaml.safe_load((Path(root) / DVC_YAML).read_text())
        declared = {}
        for stage, entry in data["stages"].items():
            paths = []
            for item in [*(entry.get("outs") or []), *(entry.get("metrics") or [])]:
                paths.append(item if isinstance(item, str) else next(iter(item)))
            declared[stage] = paths
        return declared
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, StopIteration):
        return None


def locked_outs(root: Path, lock: dict[str, Any] | None = None) -> dict[str, LockedOut]:
    """Every output ``dvc.lock`` records, by path; LockError when the lock is malformed or incomplete
    (a stage or output of ``dvc.yaml`` missing, an md5 that is not 32 hex digits: a half-written lock)."""
    lock = read_lock(root) if lock is None else lock
    where = Path(root) / LOCK
    outs: dict[str, LockedOut] = {}
    for stage, entry in lock["stages"].items():
        if not isinstance(entry, dict):
            raise LockError(f"{where}: stage {stage!r} has no entry")
        for out in entry.get("outs", []) or []:
            if not isinstance(out, dict) or "path" not in out or not _MD5.match(str(out.get("md5", ""))) \
                    or not isinstance(out.get("size"), int):
                raise LockError(f"{where}: stage {stage!r} has a malformed output entry (half-written?)")
            outs[out["path"]] = LockedOut(stage, out["path"], out["md5"], out.get("size"))
    declared = declared_outputs(root)
    if declared is not None:
        missing = [f"{stage}:{path}" for stage, paths in declared.items() for path in paths
                   if stage not in lock["stages"] or path not in outs]
        if missing:
            raise LockError(f"{where}: incomplete, no entry for {', '.join(missing)} declared in {DVC_YAML}")
    return outs


def object_path(store: Path, md5: str) -> Path:
    """Where DVC 3 keeps the object ``md5`` in a cache or local remote."""
    return store / "files" / "md5" / md5[:2] / md5[2:]


def cache_object(root: Path, md5: str) -> Path:
    return object_path(Path(root) / DVC_CACHE, md5)


def remote_object(root: Path, md5: str) -> Path:
    return object_path(Path(root) / DVC_REMOTE, md5)


def place_verified(source: Path, dest: Path, md5: str) -> None:
    """Copy ``source`` to ``dest`` atomically, only if its content has ``md5``; ValueError otherwise."""
    if not source.is_file():
        raise FileNotFoundError(f"{source}: not there")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".restore")
    h = hashlib.md5()
    with open(source, "rb") as fin, open(tmp, "wb") as fout:  # hashed while copied: one pass over the bytes
        for chunk in iter(lambda: fin.read(1 << 20), b""):
            h.update(chunk)
            fout.write(chunk)
    got = h.hexdigest()
    if got != md5:
        tmp.unlink()
        raise ValueError(f"{source}: md5 {got[:12]} is not the locked {md5[:12]}")
    if dest.exists():
        dest.chmod(stat.S_IWUSR | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    os.replace(tmp, dest)


def store_object(source: Path, store_obj: Path, md5: str) -> None:
    """Put a verified copy of ``source`` as a read-only object (as DVC does)."""
    place_verified(source, store_obj, md5)
    store_obj.chmod(0o444)


# -- an S3 remote (the plugin's services, or a staging bucket): reached with dvc-s3 over HTTP ---------------
S3_REMOTE = "s3"


def attach_s3(root: Path, *, url: str, endpoint_url: str, access_key_id: str, secret_access_key: str,
              region: str = "us-east-1") -> None:
    """Make the S3 remote ``url`` (served at ``endpoint_url``) this repository's default remote, in
    ``.dvc/config.local`` (git ignores it; the local directory remote stays configured as ``local``)."""
    with dvc_session(root) as repo:
        with repo.config.edit("local") as conf:
            conf["remote"][S3_REMOTE] = {"url": url, "endpointurl": endpoint_url, "access_key_id": access_key_id,
                                         "secret_access_key": secret_access_key, "region": region}
            conf["core"]["remote"] = S3_REMOTE


def s3_attached(root: Path) -> bool:
    path = Path(root) / ".dvc" / "config.local"
    return path.is_file() and f"'remote \"{S3_REMOTE}\"'" in path.read_text()


def fetch_from_s3(root: Path, rel: str, client_attempts: int = 1) -> None:
    """Download ``rel``'s object from the S3 remote into the cache (``dvc fetch -r s3 rel``); raises when the
    remote cannot be reached or the transfer fails.

    botocore's own retries are capped at ``client_attempts`` (by default it reconnects for about 6 s,
    and retries a SlowDown for about 12 s): the caller's retry policy decides how long to wait."""
    with scoped_environ({"AWS_MAX_ATTEMPTS": str(client_attempts), "AWS_RETRY_MODE": "standard"}):
        with dvc_session(root) as repo:
            repo.fetch(targets=[rel], remote=S3_REMOTE)
