"""What is damaged in a ``DVCProject``: every out hashed against ``dvc.lock``, its cache and remote objects,
stale locks."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..digest import md5_file
from .layout import Layout
from .repo import CACHE_DIR, REMOTE_DIR, git_env, object_path

__all__ = ["Damage", "needed_objects", "scan", "stale_locks", "tracked_damage"]


# -- damage --------------------------------------------------------------------------------------
@dataclass
class Damage:
    """What differs from the lock: workspace outs, cache objects, remote objects (each path -> problem)."""

    workspace: dict[str, str]
    cache: dict[str, str]
    remote: dict[str, str]
    tracked: dict[str, str] = field(default_factory=dict)  # git-tracked files that differ from HEAD
    locks: dict[str, str] = field(default_factory=dict)  # stale DVC lock files
    stores: dict[str, str] = field(default_factory=dict)  # the MLflow store and its backup
    expected: dict[str, str] = field(default_factory=dict)  # damaged workspace file -> the md5 the lock wants
    # volatile file whose bytes differ -> the lock's md5 (no damage)
    drift: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.workspace or self.cache or self.remote or self.tracked or self.locks or self.stores)

    def problems(self) -> list[str]:
        return (
            [f"{rel}: {why}" for rel, why in self.locks.items()]
            + [f"{rel}: {why}" for rel, why in self.stores.items()]
            + [f"{rel}: {why}" for rel, why in self.tracked.items() if rel not in self.workspace]
            + [f"{rel}: {why}" for rel, why in self.workspace.items()]
            + [f"{CACHE_DIR} object {md5} ({why})" for md5, why in self.cache.items()]
            + [f"{REMOTE_DIR} object {md5} ({why})" for md5, why in self.remote.items()]
        )


def _dir_entries(root: Path, md5: str) -> list[dict[str, str]] | None:
    """The file list of a directory out, from an intact ``.dir`` object in the cache or the remote."""
    for store in (root / CACHE_DIR, root / REMOTE_DIR):
        if _object_problem(store, md5) is None:
            try:
                entries = json.loads(object_path(store, md5).read_text())
            except (OSError, ValueError):
                continue
            if isinstance(entries, list):
                return entries
    return None


def _all_objects(store: Path) -> list[Path]:
    base = store / "files" / "md5"
    return sorted(p for p in base.glob("??/*") if p.is_file()) if base.is_dir() else []


def _object_problem(store: Path, md5: str) -> str | None:
    path = object_path(store, md5)
    if not path.is_file():
        return "missing"
    if md5_file(path) != md5.removesuffix(".dir"):
        return "content does not match its md5"
    return None


def _covers(paths: Sequence[str], rel: str) -> bool:
    return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in paths)


def needed_objects(
    root: Path,
    layout: Layout,
    volatile: Sequence[str] = (),
    listings: Mapping[str, Sequence[Sequence[str]]] | None = None,
) -> dict[str, str]:
    """md5 -> out path of every object the DVC cache and remote must hold for the lock's cached outs (a
    directory out's ``.dir`` object and its files; volatile ones left out)."""
    objects: dict[str, str] = {}
    for out in layout.outs:
        if out.md5 is None or not out.cached:
            continue
        if not out.is_dir:
            objects[out.md5] = out.path
            continue
        entries = _dir_entries(root, out.md5)
        if entries is None and listings and out.path in listings:
            entries = [{"relpath": rel, "md5": md5} for rel, md5 in listings[out.path]]
        if not any(v.startswith(out.path.rstrip("/") + "/") for v in volatile):
            objects[out.md5] = out.path
        for entry in entries or ():
            sub = f"{out.path}/{entry['relpath']}"
            if not _covers(volatile, sub):
                objects[entry["md5"]] = sub
    return objects


def scan(
    root: Path,
    layout: Layout,
    remote: bool = True,
    volatile: Sequence[str] = (),
    mlflow: Mapping[str, Any] | None = None,
    listings: Mapping[str, Sequence[Sequence[str]]] | None = None,
) -> Damage:
    """Hash every locked out, cache object and (if ``remote``) remote object; compare with the lock.

    A ``volatile`` file (a plot, an out that a second run writes differently) only has to be there:
    its bytes are judged by the metrics, not by the lock. ``mlflow``: what the build recorded of the
    MLflow store (its registry and digest), checked against the store and its backup. ``listings``: the
    files of each directory out as the build recorded them, for when no ``.dir`` object survived; a
    directory holding a volatile file has a volatile ``.dir`` object, which need not survive.
    """
    root = Path(root)
    damage = Damage({}, {}, {})
    objects: dict[str, str] = {}  # md5 -> out path, for cached outs
    for out in layout.outs:
        if out.md5 is None:
            damage.workspace[out.path] = "not recorded in dvc.lock"
            continue
        path = root / out.path
        if out.is_dir:
            entries = _dir_entries(root, out.md5)
            if entries is None and listings and out.path in listings:
                entries = [{"relpath": rel, "md5": md5} for rel, md5 in listings[out.path]]
            holds_volatile = any(v.startswith(out.path.rstrip("/") + "/") for v in volatile)
            if out.cached and not holds_volatile:
                objects[out.md5] = out.path
            if entries is None:
                damage.workspace[out.path] = "directory listing unavailable (cache and remote lost)"
                continue
            for entry in entries:
                sub = f"{out.path}/{entry['relpath']}"
                if out.cached and not _covers(volatile, sub):
                    objects[entry["md5"]] = sub
                _check_file(root / sub, entry["md5"], sub, damage, _covers(volatile, sub))
            continue
        if out.cached:
            objects[out.md5] = out.path
        _check_file(path, out.md5, out.path, damage, _covers(volatile, out.path))
    stores = [(root / CACHE_DIR, damage.cache)] + ([(root / REMOTE_DIR, damage.remote)] if remote else [])
    for store, found in stores:
        for md5 in objects:  # every object the lock needs must be there, intact
            problem = _object_problem(store, md5)
            if problem:
                found[md5] = problem
        if store.is_dir():  # and no object may lie about its content (run-cache outputs included)
            for path in _all_objects(store):
                md5 = path.parent.name + path.name
                if md5 not in found and md5_file(path) != md5.removesuffix(".dir"):
                    found[md5] = "content does not match its md5"
    if remote and not (root / REMOTE_DIR).is_dir():
        damage.remote["*"] = f"remote directory {REMOTE_DIR} is missing"
    damage.tracked = tracked_damage(root, layout, volatile)
    damage.locks = stale_locks(root)
    if mlflow:
        from .mlflow_store import problems

        damage.stores = problems(root, dict(mlflow))
    return damage


def tracked_damage(root: Path, layout: Layout | None = None, volatile: Sequence[str] = ()) -> dict[str, str]:
    """git-tracked files (dvc.lock, .dvc files, code, uncached metrics) whose content differs from HEAD.

    Hashed here as git blobs, not taken from ``git status``, which trusts the index's stat data. A
    volatile file may differ; so may ``dvc.lock``, in the hashes of volatile outs (and of the
    directory outs holding them) only.
    """
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "-z", "HEAD"], cwd=root, env=git_env(root), capture_output=True, check=True
    ).stdout
    damaged = {}
    for entry in filter(None, listing.split(b"\0")):
        meta, _, name = entry.partition(b"\t")
        mode, kind, sha = meta.split()
        rel = os.fsdecode(name)
        path = root / rel
        if kind != b"blob" or mode == b"120000":
            continue
        if not path.is_file():
            damaged[rel] = "missing (tracked by git)"
            continue
        data = path.read_bytes()
        if hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest() != sha.decode():
            if _covers(volatile, rel):
                continue
            if (
                rel.endswith("dvc.lock")
                and volatile
                and layout is not None
                and _same_lock(_git_show(root, rel), data, layout, volatile)
            ):
                continue
            damaged[rel] = "differs from git HEAD"
    return damaged


def _git_show(root: Path, rel: str) -> bytes:
    return subprocess.run(
        ["git", "show", f"HEAD:{rel}"], cwd=root, env=git_env(root), capture_output=True, check=True
    ).stdout


def _same_lock(head: bytes, work: bytes, layout: Layout, volatile: Sequence[str]) -> bool:
    """Whether two ``dvc.lock`` texts differ only in the hashes of volatile outs (or of directories holding one)."""
    import yaml

    wdirs = {s.name: s.wdir for s in layout.stages}

    def strip(text: bytes) -> object:
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            return None
        for name, entry in (doc.get("stages") or {}).items():
            wdir = wdirs.get(name, ".")
            for section in ("deps", "outs"):
                for item in entry.get(section) or ():
                    rel = os.path.normpath(os.path.join(wdir, str(item.get("path", "")))).replace(os.sep, "/")
                    if _covers(volatile, rel) or any(v.startswith(rel.rstrip("/") + "/") for v in volatile):
                        for key in ("md5", "size", "nfiles", "hash", "checksum", "etag"):
                            item.pop(key, None)
        return doc

    before, after = strip(head), strip(work)
    return before is not None and before == after


def stale_locks(root: Path) -> dict[str, str]:
    """DVC lock files that hold something while no DVC operation runs (between our calls none does)."""
    found = {}
    rwlock = root / ".dvc/tmp/rwlock"
    try:
        held = json.loads(rwlock.read_text() or "{}")
    except FileNotFoundError:
        held = {}
    except ValueError:
        held = {"?": "unreadable"}
    entries = (
        {path: info for mode in ("read", "write") for path, info in (held.get(mode) or {}).items()}
        if isinstance(held, dict) and set(held) <= {"read", "write"}
        else held
    )
    if entries:
        pids = sorted({str(i.get("pid")) for i in entries.values() if isinstance(i, dict)} or {"?"})
        found[".dvc/tmp/rwlock"] = f"stale DVC rwlock held by PID {', '.join(pids)} for {len(entries)} path(s)"
    lock = root / ".dvc/tmp/lock"
    if lock.is_file() and _lock_held(lock):
        found[".dvc/tmp/lock"] = "DVC repository lock is held by another process"
    return found


def _lock_held(path: Path) -> bool:
    import fcntl

    with open(path, "a") as fh:
        try:
            fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.lockf(fh, fcntl.LOCK_UN)
    return False


def _check_file(path: Path, md5: str, rel: str, damage: Damage, volatile: bool = False) -> None:
    if not path.is_file():
        damage.workspace[rel] = "missing"
    elif md5_file(path) != md5:
        if volatile:  # not damage; a checkout of the out it belongs to puts the baseline's bytes back all the same
            damage.drift[rel] = md5
            return
        damage.workspace[rel] = "md5 differs from dvc.lock"
    else:
        return
    damage.expected[rel] = md5


_PARTS = ("workspace", "cache", "remote", "tracked", "locks", "stores")


def _fixed(before: Damage, after: Damage) -> list[str]:
    return [k for part in _PARTS for k in getattr(before, part) if k not in getattr(after, part)]


def _no_worse(before: Damage, after: Damage) -> bool:
    return all(set(getattr(after, part)) <= set(getattr(before, part)) for part in _PARTS)
