"""The baseline manifest: what an environment must hold, and observing what it holds now.

The manifest records a content digest (``file_digest``) of every tracked artifact (directories
expanded to their files), of every file in the stores recovery reads from (DVC cache and remote
objects, backups, snapshots, the MLflow artifact store), and what the model registry serves:
alias -> version -> a digest of that version's model files. Registry databases (the MLflow
sqlite file and its copies in the stores) are read with ``sqlite3``, never compared byte for
byte: the same registry can be written differently.

``observe`` takes the same readings of an environment at one moment; ``DigestCache`` makes a
reading of an untouched file free: a file whose inode, size, mtime and ctime are what they were
when its digest was known still has that digest (ctime cannot be set back from user space, so
an injector that restores the mtime still shows).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from .artifacts import Artifacts
from .digest import file_digest, new_digest, text_digest

__all__ = [
    "DigestCache",
    "HARNESS_DIR",
    "MODEL_METADATA",
    "Manifest",
    "Observation",
    "Served",
    "alias_version",
    "differences",
    "observe",
    "served_model",
    "take_manifest",
    "under",
    "walk_files",
]

# The harness's own files in an environment (armed failpoints: a fault in the world, not damage to undo).
HARNESS_DIR = ".mlchaos/"
# Files of a served model's directory that MLflow writes afresh each time it logs one (ids, timestamps).
MODEL_METADATA = frozenset({"MLmodel"})
_CONTENT_STORES = ("dvc_cache", "dvc_remote")  # content-addressed: only their ``files/`` objects count
_SQLITE_SIDECARS = ("-journal", "-wal", "-shm")


# -- digests ---------------------------------------------------------------------------------------
_StatKey = tuple[int, int, int, int, int]


def _stat_key(st: os.stat_result) -> _StatKey:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class DigestCache:
    """Content digests of files, reused while a file's (device, inode, size, mtime, ctime) stays the same.

    A symbolic link gets the digest ``symlink:<target>``, so a link never passes for the file it replaced.
    """

    def __init__(self) -> None:
        self._known: dict[str, tuple[_StatKey, str]] = {}
        self._answers: dict[tuple[str, ...], tuple[tuple[_StatKey | None, ...], Any]] = {}

    def digest(self, path: Path) -> str | None:
        """The digest of ``path``, or None when it is missing or not a file."""
        name = os.fspath(path)
        try:
            st = os.lstat(name)
        except OSError:
            return None
        if os.path.islink(name):
            return f"symlink:{os.readlink(name)}"
        if not os.path.isfile(name):
            return None
        key = _stat_key(st)
        known = self._known.get(name)
        if known is not None and known[0] == key:
            return known[1]
        value = file_digest(Path(name))
        if _stat_key(os.lstat(name)) == key:  # unchanged while it was read
            self._known[name] = (key, value)
        return value

    def answer(self, files: tuple[Path, ...], question: tuple[str, ...], ask: Any) -> Any:
        """``ask()``'s answer about ``files``, reused while none of them changes (a missing file counts as a state)."""
        keys = tuple(_stat_key(os.stat(f)) if os.path.exists(f) else None for f in files)
        known = self._answers.get(question)
        if known is not None and known[0] == keys:
            return known[1]
        value = ask()
        self._answers[question] = (keys, value)
        return value

    def seed(self, path: Path, digest: str) -> None:
        """Record that ``path`` has ``digest`` now (e.g. right after copying a verified file)."""
        name = os.fspath(path)
        try:
            st = os.lstat(name)
        except OSError:
            return
        if os.path.isfile(name) and not os.path.islink(name):
            self._known[name] = (_stat_key(st), digest)


def walk_files(root: Path, rel: str) -> Iterator[str]:
    """Every file (or symlink) under ``root/rel``, as posix paths relative to ``root``, sorted."""
    base = root / rel
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base):  # symlinked directories are listed, never entered
        found.extend(os.path.join(dirpath, f) for f in filenames)
        found.extend(os.path.join(dirpath, d) for d in dirnames if os.path.islink(os.path.join(dirpath, d)))
    for path in sorted(found):
        yield Path(path).relative_to(root).as_posix()


def under(rel: str, prefixes: Iterable[str]) -> bool:
    """Whether ``rel`` is one of ``prefixes`` or lies in a directory among them."""
    return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in prefixes)


# -- the registry ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Served:
    """What one registry database serves: the version behind the alias (or the latest) and its model digest.

    ``problem`` says why nothing is served (database missing or unreadable, alias gone, files missing).
    ``files`` are the model's files, relative to the environment root.
    """

    version: int | None = None
    digest: str | None = None
    problem: str | None = None
    files: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "digest": self.digest, "problem": self.problem, "files": list(self.files)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Served:
        return cls(data.get("version"), data.get("digest"), data.get("problem"), tuple(data.get("files", ())))

    def describe(self) -> str:
        return self.problem or f"version {self.version}"


def _local_path(location: str) -> Path | None:
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and location:
        return Path(location)
    return None


def alias_version(conn: sqlite3.Connection, model: str, alias: str | None) -> int | None:
    """The version an MLflow registry database serves under ``alias`` (None: its latest live version)."""
    if alias:
        row = conn.execute(
            "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", (model, alias)
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT max(version) FROM model_versions WHERE name = ? AND current_stage != 'Deleted_Internal'",
            (model,),
        ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _query(db: Path, db_rel: str, model: str, alias: str | None) -> Served | tuple[int, tuple[Any, ...] | None]:
    """The version behind ``alias`` (or the latest) and its row, or a ``Served`` saying why there is none."""
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = alias_version(conn, model, alias)
            if version is None:
                served_by = f"alias {alias!r}" if alias else "any version"
                return Served(problem=f"{db_rel}: {model!r} has no {served_by}")
            found = conn.execute(
                "SELECT storage_location, source, current_stage FROM model_versions WHERE name = ? AND version = ?",
                (model, version),
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return Served(problem=f"{db_rel} does not open as a registry: {exc}")
    return version, (tuple(found) if found is not None else None)


def served_model(root: Path, db_rel: str, model: str, alias: str | None, cache: DigestCache) -> Served:
    """Read what the registry database ``root/db_rel`` serves for ``model`` (read-only, with ``sqlite3``)."""
    db = root / db_rel
    if not db.is_file():
        return Served(problem=f"{db_rel} is missing")
    db_files = (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-journal"))
    answer = cache.answer(db_files, ("registry", str(db), model, alias or ""), lambda: _query(db, db_rel, model, alias))
    if isinstance(answer, Served):
        return answer
    version, found = answer
    if found is None or found[2] == "Deleted_Internal":
        return Served(version, problem=f"{db_rel}: {model!r} version {version} is deleted")
    path = _local_path(found[0] or found[1] or "")
    if path is None:
        return Served(version, problem=f"{db_rel}: version {version} is stored at {found[0]!r}, not a local path")
    try:
        rel_dir = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return Served(version, problem=f"{db_rel}: version {version} is stored outside the environment ({path})")
    if not (root / rel_dir).is_dir():
        return Served(version, problem=f"{db_rel}: version {version}'s files are missing ({rel_dir})")
    files = tuple(f for f in walk_files(root, rel_dir) if Path(f).name not in MODEL_METADATA)
    h = new_digest()
    for rel in files:
        h.update(f"{rel[len(rel_dir) + 1 :]}\0{cache.digest(root / rel)}\n".encode())
    return Served(version, h.hexdigest(), None, files)


# -- the manifest ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Manifest:
    """Everything the baseline holds that a recovered environment must hold again.

    - ``files``: tracked artifact -> digest; ``sources`` are those that must come back bit-exact,
      ``dirs`` the tracked directories (a file that appears in one is damage too);
    - ``stores``: store file -> digest, ``store_kinds``: store file -> its store (``dvc_cache``,
      ``dvc_remote``, ``backups``, ``snapshots``, ``mlflow_artifacts``);
    - ``registries``: registry database -> what it serves (the workspace database ``registry_db``
      and its copies), for ``registry_model`` behind ``registry_alias``.
    """

    files: Mapping[str, str] = field(default_factory=dict)
    sources: frozenset[str] = frozenset()
    dirs: tuple[str, ...] = ()
    stores: Mapping[str, str] = field(default_factory=dict)
    store_kinds: Mapping[str, str] = field(default_factory=dict)
    registries: Mapping[str, Served] = field(default_factory=dict)
    registry_model: str | None = None
    registry_alias: str | None = None
    registry_db: str | None = None

    def kind(self, rel: str) -> str:
        """``source``, ``derived``, a store kind, or ``registry``."""
        if rel in self.registries:
            return "registry"
        if rel in self.store_kinds:
            return self.store_kinds[rel]
        return "source" if rel in self.sources else "derived"

    @property
    def served(self) -> Served | None:
        """What the workspace registry served at baseline."""
        return self.registries.get(self.registry_db) if self.registry_db else None

    def to_json(self) -> dict[str, Any]:
        return {
            "files": dict(sorted(self.files.items())),
            "sources": sorted(self.sources),
            "dirs": list(self.dirs),
            "stores": dict(sorted(self.stores.items())),
            "store_kinds": dict(sorted(self.store_kinds.items())),
            "registries": {k: v.to_json() for k, v in self.registries.items()},
            "registry_model": self.registry_model,
            "registry_alias": self.registry_alias,
            "registry_db": self.registry_db,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        return cls(
            dict(data["files"]),
            frozenset(data["sources"]),
            tuple(data["dirs"]),
            dict(data["stores"]),
            dict(data["store_kinds"]),
            {k: Served.from_json(v) for k, v in data["registries"].items()},
            data.get("registry_model"),
            data.get("registry_alias"),
            data.get("registry_db"),
        )

    def digest(self) -> str:
        """A digest of the manifest itself (kept beside it, so a damaged record is not trusted)."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return text_digest(text)


def _registry_dbs(artifacts: Artifacts, store_files: Iterable[str]) -> list[str]:
    """The workspace registry database and its copies among the store files (same file name)."""
    if not artifacts.mlflow_db or not artifacts.registry_model:
        return []
    name = Path(artifacts.mlflow_db).name
    return [artifacts.mlflow_db, *(f for f in store_files if Path(f).name == name)]


def _object_name(rel: str) -> str:
    """The md5 name of a DVC object from its path (``.../md5/ab/cdef...`` -> ``abcdef...``)."""
    parts = rel.split("/")
    return parts[-2] + parts[-1]


def _store_files(root: Path, artifacts: Artifacts) -> dict[str, str]:
    """Store file -> its store kind (DVC stores: only their ``files/`` objects the lock needs; no sqlite sidecars)."""
    found: dict[str, str] = {}
    db_name = Path(artifacts.mlflow_db).name if artifacts.mlflow_db else None
    needed = None if artifacts.dvc_objects is None else set(artifacts.dvc_objects)
    for kind, rel in artifacts.store_dirs().items():
        base = rel.rstrip("/")
        if kind in _CONTENT_STORES and (root / base / "files").is_dir():
            base = f"{base}/files"
        if not (root / base).is_dir():
            continue
        for path in walk_files(root, base):
            if kind in _CONTENT_STORES and needed is not None and _object_name(path) not in needed:
                continue
            if (
                db_name
                and Path(path).name.startswith(db_name)
                and Path(path).name != db_name
                and Path(path).name[len(db_name) :] in _SQLITE_SIDECARS
            ):
                continue
            found.setdefault(path, kind)
    return found


def take_manifest(root: Path, artifacts: Artifacts, cache: DigestCache | None = None) -> Manifest:
    """The manifest of the environment at ``root`` as it is now (the baseline's, at build time)."""
    root = Path(root)
    cache = cache or DigestCache()
    files: dict[str, str] = {}
    dirs: list[str] = []
    paths = list(artifacts.tracked_files())
    if artifacts.lock_file and artifacts.lock_file not in paths:
        paths.append(artifacts.lock_file)
    for rel in paths:
        if (root / rel).is_dir():
            dirs.append(rel.rstrip("/"))
            members = [f for f in walk_files(root, rel) if not artifacts.is_volatile(f)]
        else:
            members = [rel]
        for member in members:
            digest = cache.digest(root / member)
            if digest is not None and not member.startswith(HARNESS_DIR):
                files[member] = digest
    sources = frozenset(f for f in files if under(f, artifacts.source_files()))
    store_kinds = _store_files(root, artifacts)
    dbs = _registry_dbs(artifacts, store_kinds)
    for db in dbs:
        store_kinds.pop(db, None)
    stores = {rel: d for rel in store_kinds if (d := cache.digest(root / rel)) is not None}
    registries = {}
    for db in dbs:
        served = served_model(root, db, artifacts.registry_model or "", artifacts.registry_alias, cache)
        if served.problem is None:
            registries[db] = served
    return Manifest(
        files,
        sources,
        tuple(dirs),
        stores,
        {k: store_kinds[k] for k in stores},
        registries,
        artifacts.registry_model,
        artifacts.registry_alias,
        artifacts.mlflow_db if artifacts.mlflow_db in registries else None,
    )


# -- observations ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Observation:
    """The digests of everything a manifest covers, read from one environment at one moment (None: missing)."""

    files: Mapping[str, str | None]
    stores: Mapping[str, str | None]
    registries: Mapping[str, Served]
    extra: tuple[str, ...] = ()  # files in tracked directories that the baseline did not have

    def holds(self, digest: str) -> list[str]:
        """Where this observation saw content with ``digest``."""
        return [rel for group in (self.files, self.stores) for rel, d in group.items() if d == digest]


def observe(root: Path, manifest: Manifest, cache: DigestCache) -> Observation:
    """Read the digests of every file, store file and registry ``manifest`` covers, in ``root`` now."""
    root = Path(root)
    files = {rel: cache.digest(root / rel) for rel in manifest.files}
    stores = {rel: cache.digest(root / rel) for rel in manifest.stores}
    registries = {
        db: served_model(root, db, manifest.registry_model or "", manifest.registry_alias, cache)
        for db in manifest.registries
    }
    extra = tuple(
        f for d in manifest.dirs if (root / d).is_dir() for f in walk_files(root, d) if f not in manifest.files
    )
    return Observation(files, stores, registries, extra)


def differences(manifest: Manifest, seen: Observation) -> list[str]:
    """Every way ``seen`` differs from ``manifest``, one line each (empty: it holds exactly the manifest)."""
    lines = []
    for group, kind in ((manifest.files, "file"), (manifest.stores, "store file")):
        observed = seen.files if group is manifest.files else seen.stores
        for rel, digest in group.items():
            now = observed.get(rel)
            if now != digest:
                lines.append(f"{rel}: {'missing' if now is None else 'content differs'} ({kind})")
    lines += [f"{rel}: not in the baseline" for rel in seen.extra]
    for db, served in manifest.registries.items():
        serves = seen.registries.get(db, Served(problem="not read"))
        if serves.digest != served.digest:
            lines.append(f"{db}: serves {serves.describe()} instead of version {served.version} of the baseline")
    return lines
