"""Snapshots of an environment's whole state, and restoring one (``mlops snapshot`` / ``mlops rollback``).

A snapshot records the git commit, the ``dvc.lock`` digests, the MLflow run and the registered
model version, and keeps verified copies of the files (``snapshots/<tag>/files``, outside git).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import gitops
from .dvcops import cache_object, locked_outs, md5_file, place_verified, read_lock, remote_object
from .layout import DATA_FILES, DVC_YAML, LOCK, METRICS, MODEL_FILES, PARAMS, SNAPSHOTS

TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class SnapshotError(ValueError):
    """A snapshot that cannot be created or restored; the message names the tag and why."""


@dataclass(frozen=True)
class Snapshot:
    tag: str
    description: str
    created: float
    sequence: int
    git_commit: str
    lock: dict[str, str]
    mlflow_run_id: str | None
    model_version: int | None
    include_data: bool = True
    include_models: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RestoreReport:
    tag: str
    restored: list[str] = field(default_factory=list)
    not_restored: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.not_restored

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "restored": self.restored, "not_restored": self.not_restored,
                "ok": self.ok, "seconds": round(self.seconds, 4)}


class VersionController:
    """Create, list and restore snapshots of the environment at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _dir(self, tag: str) -> Path:
        return self.root / SNAPSHOTS / tag

    def check_tag(self, tag: str) -> None:
        if not TAG_RE.match(tag):
            raise SnapshotError(f"snapshot tag {tag!r} is not allowed; use letters, digits, '.', '_' and '-' (max 64)")

    def create_snapshot(self, tag: str, description: str = "", include_data: bool = True,
                        include_models: bool = True) -> Snapshot:
        """Record the current, verified state as ``tag``; an existing tag is refused."""
        from . import tracking

        self.check_tag(tag)
        if (self._dir(tag) / "snapshot.json").exists() or gitops.tag_exists(self.root, f"snapshot/{tag}"):
            raise SnapshotError(f"snapshot {tag!r} already exists; pick another tag (existing: {', '.join(s.tag for s in self.list_snapshots())})")
        outs = locked_outs(self.root)
        bad = [rel for rel, out in outs.items() if not (self.root / rel).is_file() or md5_file(self.root / rel) != out.md5]
        if bad:
            raise SnapshotError(f"cannot snapshot {tag!r}: {', '.join(bad)} do not match {LOCK}; run `mlops recover` first")
        try:
            served = tracking.production_version(self.root)
            run_id, version = served.run_id, served.version
        except tracking.RegistryError:
            run_id, version = None, None
        files = self._dir(tag) / "files"
        for rel in outs:
            if (rel in DATA_FILES and include_data) or (rel in MODEL_FILES and include_models) or rel == METRICS:
                (files / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.root / rel, files / rel)
        commit = gitops.commit_all(self.root, f"state for snapshot {tag}") or gitops.head(self.root)
        snap = Snapshot(tag, description, time.time(), len(self.list_snapshots()) + 1, commit,
                        {rel: out.md5 for rel, out in outs.items()}, run_id, version, include_data, include_models)
        (self._dir(tag) / "snapshot.json").write_text(json.dumps(snap.to_dict(), indent=1, sort_keys=True) + "\n")
        gitops.commit_all(self.root, f"snapshot {tag}: {description}".rstrip(": "))
        gitops.tag(self.root, f"snapshot/{tag}", commit)
        return snap

    def list_snapshots(self) -> list[Snapshot]:
        snaps = []
        for path in sorted((self.root / SNAPSHOTS).glob("*/snapshot.json")):
            try:
                snaps.append(Snapshot(**json.loads(path.read_text())))
            except (ValueError, TypeError):
                continue
        return sorted(snaps, key=lambda s: s.sequence)

    def get(self, tag: str) -> Snapshot:
        self.check_tag(tag)
        path = self._dir(tag) / "snapshot.json"
        if not path.is_file():
            known = ", ".join(s.tag for s in self.list_snapshots()) or "none"
            raise SnapshotError(f"unknown snapshot tag {tag!r}; known tags: {known}")
        try:
            return Snapshot(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise SnapshotError(f"{path}: not a snapshot record ({exc})") from None

    def snapshot_file(self, tag: str, rel: str) -> Path:
        return self._dir(tag) / "files" / rel

    def restore_snapshot(self, tag: str, *, commit: bool = True) -> RestoreReport:
        """Bring data, models, ``dvc.lock``, params, metrics and the ``production`` alias back to ``tag``.

        Each file comes from the DVC cache, else the remote, else the snapshot's own copy, and counts
        only if its md5 is the one the snapshot locked. The report says what could not be restored.
        """
        start = time.perf_counter()
        snap = self.get(tag)
        report = RestoreReport(tag)
        texts = {}
        for rel in (LOCK, PARAMS, DVC_YAML):
            texts[rel] = gitops.show(self.root, snap.git_commit, rel)
        for rel, data in texts.items():
            (self.root / rel).write_bytes(data)
        outs = locked_outs(self.root, read_lock(self.root))
        for rel, out in outs.items():
            target = self.root / rel
            if target.is_file() and md5_file(target) == out.md5:
                report.restored.append(rel)
                continue
            sources = [cache_object(self.root, out.md5), remote_object(self.root, out.md5), self.snapshot_file(tag, rel)]
            if rel == METRICS:
                sources = [self.snapshot_file(tag, rel)]
                try:
                    data = gitops.show(self.root, snap.git_commit, rel)
                    tmp = self.root / (METRICS + ".git")
                    tmp.write_bytes(data)
                    sources.insert(0, tmp)
                except gitops.GitError:
                    pass
            errors = []
            for source in sources:
                try:
                    place_verified(source, target, out.md5)
                    report.restored.append(rel)
                    break
                except (OSError, ValueError) as exc:
                    errors.append(str(exc))
            else:
                report.not_restored.append(f"{rel}: no source holds md5 {out.md5[:12]} ({'; '.join(errors)})")
        (self.root / (METRICS + ".git")).unlink(missing_ok=True)
        self._restore_alias(snap, report)
        from . import backups

        backups.rebuild(self.root)
        if commit:
            gitops.commit_all(self.root, f"rollback to snapshot {tag}")
        report.seconds = time.perf_counter() - start
        return report

    def _restore_alias(self, snap: Snapshot, report: RestoreReport) -> None:
        from . import tracking

        if snap.model_version is None:
            report.not_restored.append("production alias: the snapshot recorded no model version")
            return
        try:
            current = tracking.production_version(self.root).version
        except tracking.RegistryError:
            current = None
        if current == snap.model_version:
            report.restored.append(f"production alias (version {current})")
            return
        try:
            tracking.version_info(self.root, snap.model_version)
            tracking.set_alias(self.root, snap.model_version)
            report.restored.append(f"production alias -> version {snap.model_version}")
        except Exception as exc:  # a registry that cannot answer is reported, not raised
            report.not_restored.append(f"production alias -> version {snap.model_version}: {exc}")
