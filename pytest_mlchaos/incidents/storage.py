"""Storage loss injectors: the stores recovery reads from (DVC cache and remote, backups, the MLflow database).

DVC 3 keeps objects under ``<cache>/files/md5/<2 hex>/<30 hex>``. DVC does not rehash a
read-only (0444) cache object, so a corrupted object keeps its size, mode and mtime and only a
content hash (the md5 its name promises) tells.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..digest import md5_file
from ._files import count_for, flip_bytes_in_place, require_files, restore_times
from .registry import IncidentRegistry, InjectionContext, Injector
from .spec import Incident, IncidentError, Param

__all__ = [
    "BackupLoss",
    "DvcCacheCorruption",
    "DvcCacheLoss",
    "DvcRemoteLoss",
    "INJECTORS",
    "MlflowStoreCorruption",
    "cache_objects",
    "object_for",
    "register",
]


class _StoreInjector(Injector):
    store: str = "dvc_cache"  # the Artifacts attribute naming the store directory

    def where(self) -> str:
        return f"incident {self.kind}/{self.mode}"

    def store_dir(self, ctx: InjectionContext) -> Path:
        rel = getattr(ctx.artifacts, self.store)
        if not rel:
            raise IncidentError(
                f"{self.where()}: this environment has no {self.store.replace('_', ' ')} "
                f"(artifacts.{self.store} is not set)"
            )
        path = ctx.path(rel)
        if not path.is_dir():
            raise IncidentError(f"{self.where()}: {self.store.replace('_', ' ')} {rel!r} is not a directory")
        return path


def cache_objects(cache: Path) -> list[Path]:
    """Every file object in a DVC 3 cache, sorted (``.dir`` listings included)."""
    base = cache / "files" / "md5"
    if not base.is_dir():
        base = cache  # DVC 2 layout: <cache>/<2 hex>/<30 hex>
    return sorted(p for p in base.rglob("*") if p.is_file() and len(p.parent.name) == 2)


def object_for(cache: Path, file: Path) -> Path:
    """The cache object DVC 3 stores ``file``'s content under (md5 of the raw bytes)."""
    md5 = md5_file(file)
    return cache / "files" / "md5" / md5[:2] / md5[2:]


class _CacheInjector(_StoreInjector):
    def objects(self, ctx: InjectionContext, incident: Incident, share: float | None, count: int | None) -> list[str]:
        cache = self.store_dir(ctx)
        if incident.target is not None:
            files = ctx.artifacts.role_paths(incident.target) or (incident.target,)
            chosen = []
            for rel in files:
                path = ctx.path(rel)
                require_files(self.where(), [path], ctx.root)
                obj = object_for(cache, path)
                if not obj.is_file():
                    raise IncidentError(
                        f"{self.where()}: {rel!r} has no object in the DVC cache ({ctx.rel(obj)} is missing)"
                    )
                chosen.append(ctx.rel(obj))
            return chosen
        objects = cache_objects(cache)
        if not objects:
            raise IncidentError(f"{self.where()}: the DVC cache {ctx.artifacts.dvc_cache!r} holds no objects")
        k = count_for(share, len(objects)) if share is not None else min(count or 1, len(objects))
        return [ctx.rel(p) for p in sorted(ctx.rng.sample(objects, k))]


class DvcCacheCorruption(_CacheInjector):
    """DVC cache objects altered in place (same size, mode and mtime): DVC trusts them, only their md5 tells."""

    kind, mode = "storage_loss", "dvc_cache_corruption"
    params = (
        Param(
            "objects",
            int,
            1,
            doc="how many cache objects are altered (target=<file> picks that file's object)",
            low=1,
            severity=True,
        ),
        Param("flips", int, 1, doc="bytes with a flipped bit in each object", low=1),
    )

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        return self.objects(ctx, incident, None, incident.param("objects"))

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        notes = []
        for path in targets:
            st = path.stat()
            os.chmod(path, (st.st_mode & 0o777) | 0o200)
            try:
                offsets = flip_bytes_in_place(path, ctx.rng, incident.param("flips"))
            finally:
                os.chmod(path, st.st_mode & 0o777)
                restore_times(path, st)
            notes.append(f"{ctx.rel(path)} at {offsets[:5]}")
        return f"altered {len(targets)} DVC cache object(s) in place, size, mode and mtime kept: " + "; ".join(notes)


class DvcCacheLoss(_CacheInjector):
    """DVC cache objects deleted (a gc run too eager, a wiped cache volume)."""

    kind, mode = "storage_loss", "dvc_cache_loss"
    params = (
        Param(
            "fraction",
            float,
            1.0,
            doc="share of the cache objects deleted (target=<file>: that file's object)",
            low=0.0,
            low_open=True,
            high=1.0,
            severity=True,
        ),
    )

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        return self.objects(ctx, incident, incident.param("fraction"), None)

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        for path in targets:
            path.unlink()
        total = len(cache_objects(self.store_dir(ctx))) + len(targets)
        return f"deleted {len(targets)} of {total} DVC cache objects from {ctx.artifacts.dvc_cache}"


class DvcRemoteLoss(_StoreInjector):
    """The DVC remote lost: emptied (a bucket lifecycle rule) or unreachable (moved, credentials revoked)."""

    kind, mode = "storage_loss", "dvc_remote_loss"
    params = (
        Param(
            "how",
            str,
            "emptied",
            doc="emptied: every object deleted; unreachable: the remote directory renamed away",
            choices=("emptied", "unreachable"),
        ),
    )
    store = "dvc_remote"

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        self.store_dir(ctx)
        remote = ctx.artifacts.dvc_remote
        assert remote is not None  # store_dir() refused an environment without one
        return [remote]

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        remote = targets[0]
        if incident.param("how") == "unreachable":
            moved = remote.with_name(remote.name + ".unreachable")
            ctx.rel(moved)
            if moved.exists():
                shutil.rmtree(moved)
            remote.rename(moved)
            return f"made the DVC remote {ctx.rel(remote)} unreachable (moved to {ctx.rel(moved)})"
        count = 0
        for child in sorted(remote.iterdir()):
            if child.is_dir() and not child.is_symlink():
                count += sum(1 for p in child.rglob("*") if p.is_file())
                shutil.rmtree(child)
            else:
                count += 1
                child.unlink()
        return f"emptied the DVC remote {ctx.rel(remote)} ({count} file(s) deleted)"


class BackupLoss(_StoreInjector):
    """Backups deleted (a retention job, a lost backup volume)."""

    kind, mode = "storage_loss", "backup_loss"
    params = (
        Param(
            "fraction",
            float,
            1.0,
            doc="share of the backup files deleted",
            low=0.0,
            low_open=True,
            high=1.0,
            severity=True,
        ),
    )
    store = "backups"

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        files = sorted(p for p in self.store_dir(ctx).rglob("*") if p.is_file() or p.is_symlink())
        if not files:
            raise IncidentError(f"{self.where()}: the backups directory {ctx.artifacts.backups!r} holds no files")
        k = count_for(incident.param("fraction"), len(files))
        return [ctx.rel(p) for p in sorted(ctx.rng.sample(files, k))]

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        for path in targets:
            path.unlink()
        return f"deleted {len(targets)} backup file(s) from {ctx.artifacts.backups}"


class MlflowStoreCorruption(_StoreInjector):
    """Bytes of the MLflow sqlite database overwritten (its header, or pages): MLflow cannot read its store."""

    kind, mode = "storage_loss", "mlflow_store_corruption"
    params = (
        Param(
            "where",
            str,
            "header",
            doc="header: the 100-byte sqlite header (file is not a database); "
            "pages: root pages of tables and indexes (database disk image is malformed)",
            choices=("header", "pages"),
        ),
        Param("pages", int, 1, doc="pages: how many pages are overwritten", low=1, severity=True),
    )

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        if not ctx.artifacts.mlflow_db:
            raise IncidentError(
                f"{self.where()}: this environment has no MLflow database (artifacts.mlflow_db is not set)"
            )
        return [ctx.artifacts.mlflow_db]

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        path = targets[0]
        require_files(self.where(), targets, ctx.root)
        data = bytearray(path.read_bytes())
        if len(data) < 100 or not data.startswith(b"SQLite format 3\x00"):
            raise IncidentError(f"{self.where()}: {ctx.rel(path)} is not an sqlite database")
        page_size = int.from_bytes(data[16:18], "big") or 65536
        if page_size == 1:
            page_size = 65536
        if incident.param("where") == "header":
            data[0:100] = ctx.rng.randbytes(100)
            what = "its 100-byte header"
        else:
            n_pages = len(data) // page_size
            in_use = [p for p in _btree_root_pages(path) if 1 < p <= n_pages]
            if not in_use:
                raise IncidentError(
                    f"{self.where()}: {ctx.rel(path)} has no table pages besides the first; use where='header'"
                )
            k = min(incident.param("pages"), len(in_use))
            chosen = sorted(ctx.rng.sample(in_use, k))
            for page in chosen:  # sqlite numbers pages from 1
                data[(page - 1) * page_size : page * page_size] = ctx.rng.randbytes(page_size)
            what = f"table/index root page(s) {chosen} of {n_pages} ({page_size} bytes each)"
        with open(path, "r+b") as fh:  # in place, as a failing disk does; same size
            fh.write(bytes(data))
        return f"overwrote {what} of the MLflow database {ctx.rel(path)}"


def _btree_root_pages(path: Path) -> list[int]:
    """Root pages of the database's tables and indexes (pages in use, so overwriting one breaks that table)."""
    import sqlite3

    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return sorted({int(r) for (r,) in con.execute("SELECT rootpage FROM sqlite_master WHERE rootpage > 0")})
    except sqlite3.DatabaseError as exc:
        raise IncidentError(f"{path.name} is not a readable sqlite database ({exc})") from exc
    finally:
        con.close()


INJECTORS = (DvcCacheCorruption, DvcCacheLoss, DvcRemoteLoss, BackupLoss, MlflowStoreCorruption)


def register(registry: IncidentRegistry) -> None:
    for injector in INJECTORS:
        registry.register(injector)
