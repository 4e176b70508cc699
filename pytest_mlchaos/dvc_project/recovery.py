"""How a ``DVCProject`` recovers: from the DVC cache, the remote, git, and by rerunning stages, each attempt
verified."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import failpoints
from ..digest import md5_file
from ..project import Attempt, RecoveryResult
from ..retry import DEFAULT_RETRY, RetryLog, RetryPolicy, retrying
from . import s3remote
from .damage import Damage, _fixed, _lock_held, _no_worse, scan
from .layout import Layout, Stage
from .repo import (
    _ANSI,
    CACHE_DIR,
    REMOTE_DIR,
    REMOTE_NAME,
    SITE_DIR,
    _git,
    _remove,
    captured_output,
    object_path,
    open_repo,
    tail,
)

__all__ = ["StageError", "reproduce"]


class _Recovery:
    """One recovery run: strategies in order of cost, each recorded as an ``Attempt`` and verified by md5."""

    def __init__(
        self,
        root: Path,
        layout: Layout,
        volatile: Sequence[str] = (),
        mlflow: Mapping[str, Any] | None = None,
        listings: Mapping[str, Any] | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self.root = root
        self.layout = layout  # read before any repair: the lock recovery must restore
        self.volatile = tuple(volatile)  # outs judged by metrics: a rebuilt one need not match the lock's bytes
        self.mlflow = dict(mlflow or {})  # the MLflow store as the build left it
        self.listings = dict(listings or {})  # directory outs' files as the build left them
        self.attempts: list[Attempt] = []
        self.retry = retry  # how long a step that reaches a service (the S3 remote) keeps trying
        self.retries = RetryLog()  # what those tries waited: in the message, and inside the MTTR

    def scan(self) -> Damage:
        return scan(self.root, self.layout, volatile=self.volatile, mlflow=self.mlflow, listings=self.listings)

    def run(self) -> RecoveryResult:
        start = time.perf_counter()
        lock = self.root / ".dvc/tmp/lock"
        if lock.is_file() and not _lock_held(lock):
            lock.unlink()  # housekeeping: a leftover repo lock file means nothing to DVC, which rewrites it
        damage = self.scan()
        if damage.clean:
            return RecoveryResult(
                True,
                "none",
                seconds=time.perf_counter() - start,
                message="nothing to repair: every out matches dvc.lock",
            )
        if damage.locks:
            damage = self._try("clear_stale_locks", self._clear_locks, damage)
        if damage.tracked:
            damage = self._try("git_restore", self._git_restore, damage)
        if any(why != "missing" for why in damage.cache.values()):
            damage = self._purge(damage)  # DVC would copy a corrupt object back: it does not rehash read-only objects
        if self._damaged_outs(damage) and not damage.cache:
            damage = self._try("dvc_checkout", self._checkout, damage)
        if damage.cache or self._damaged_outs(damage):
            damage = self._try("dvc_fetch", self._fetch, damage)
        if (damage.cache or self._damaged_outs(damage)) and s3remote.attached(self.root):
            damage = self._try("dvc_fetch_s3", self._fetch_s3, damage)
        if any(self._stage_of(rel) for rel in damage.workspace):
            damage = self._try("dvc_repro", self._repro, damage)
        if damage.cache and not damage.workspace:
            damage = self._try("dvc_commit", self._commit, damage)
        if damage.remote and not damage.cache and not damage.workspace:
            damage = self._try("dvc_push", self._push, damage)
        if damage.stores:
            damage = self._try("mlflow_restore", self._mlflow_restore, damage)
        used = [a.strategy for a in self.attempts if a.succeeded]
        message = "; ".join(
            part
            for part in (
                f"recovered with {'+'.join(used)}"
                if damage.clean
                else "still damaged: " + "; ".join(damage.problems()),
                self.retries.summary(),
            )
            if part
        )
        return RecoveryResult(
            damage.clean, "+".join(used) or None, tuple(self.attempts), time.perf_counter() - start, message
        )

    def _try(self, name: str, action: Callable[[Damage], None], before: Damage) -> Damage:
        start = time.perf_counter()
        error = None
        try:
            action(before)
        except Exception as exc:  # a failed strategy is recorded, and the next one tried
            error = f"{type(exc).__name__}: {_ANSI.sub('', str(exc)).strip()[:300]}"
        after = self.scan()
        fixed = _fixed(before, after)
        ok = error is None and bool(fixed) and _no_worse(before, after)
        if error is None and not ok:
            error = "verification by md5 failed: " + ("; ".join(after.problems()[:4]) or "nothing changed")
        self.attempts.append(Attempt(name, ok, time.perf_counter() - start, error))
        return after

    def _clear_locks(self, damage: Damage) -> None:
        """Empty a stale ``rwlock`` (nothing runs DVC in this environment between our calls)."""
        if ".dvc/tmp/lock" in damage.locks:
            raise RuntimeError("the DVC repository lock is held by a live process; not touching it")
        if ".dvc/tmp/rwlock" in damage.locks:
            (self.root / ".dvc/tmp/rwlock").write_text("{}")

    def _git_restore(self, damage: Damage) -> None:
        """``git checkout HEAD --`` the damaged tracked files (dvc.lock, .dvc files, code, uncached outs)."""
        _git(self.root, "checkout", "HEAD", "--", *sorted(damage.tracked))

    def _purge(self, damage: Damage) -> Damage:
        """Delete corrupt cache objects (those the lock needs then count as missing, for the next steps)."""
        start = time.perf_counter()
        corrupt = [md5 for md5, why in damage.cache.items() if why != "missing"]
        for md5 in corrupt:
            path = object_path(self.root / CACHE_DIR, md5)
            path.chmod(0o644)
            path.unlink()
        after = self.scan()
        ok = not any(why != "missing" for why in after.cache.values())
        self.attempts.append(
            Attempt(
                "purge_corrupt_cache",
                ok,
                time.perf_counter() - start,
                None if ok else "corrupt objects remain: " + ", ".join(after.cache),
            )
        )
        return after

    def _stage_of(self, rel: str) -> Stage | None:
        for stage in self.layout.stages:
            if any(rel == out or rel.startswith(out + "/") for out in stage.outs):
                return stage
        return None

    def _damaged_outs(self, damage: Damage) -> list[str]:
        outs = {o.path for o in self.layout.outs if o.cached}
        return sorted(out for out in outs for rel in damage.workspace if rel == out or rel.startswith(out + "/"))

    def _from_cache(self, damage: Damage) -> list[str]:
        """Put each damaged file back from its cache object, when that object is there and intact (md5 checked):
        what ``dvc checkout`` does, without parsing the pipeline again; volatile files of the same outs that
        drifted from the lock come back too, as a checkout of the whole out would have them. Returns the
        damaged files left for DVC."""
        left = []
        touched = self._damaged_outs(damage)
        drifted = [rel for rel in damage.drift if any(rel.startswith(out.rstrip("/") + "/") for out in touched)]
        for rel in [*damage.workspace, *drifted]:
            md5 = damage.expected.get(rel) or damage.drift.get(rel)
            obj = object_path(self.root / CACHE_DIR, md5) if md5 else None
            if obj is None or not obj.is_file() or md5_file(obj) != md5:
                if rel in damage.workspace:
                    left.append(rel)
                continue
            target = self.root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.mlchaos-restore")
            shutil.copyfile(obj, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        return left

    def _checkout(self, damage: Damage) -> None:
        """Put damaged files back from the cache; for what is left, move it aside (else DVC trusts its state db:
        inode, mtime, size), ``dvc checkout``, and put back whatever DVC could not replace, so a failed attempt
        leaves the evidence as it was."""
        left = self._from_cache(damage)
        if not left:
            return
        damage = Damage({rel: damage.workspace[rel] for rel in left}, damage.cache, damage.remote)
        targets = self._damaged_outs(damage)
        aside = self.root / SITE_DIR / "quarantine"
        moved = []
        for rel in damage.workspace:
            if (self.root / rel).exists():
                (aside / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.root / rel, aside / rel)
                moved.append(rel)
        try:
            with open_repo(self.root) as repo:
                repo.checkout(targets=targets, force=True)
        finally:
            for rel in moved:
                if not (self.root / rel).exists():
                    (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(aside / rel, self.root / rel)
            shutil.rmtree(aside, ignore_errors=True)

    def _fetch(self, damage: Damage) -> None:
        with open_repo(self.root) as repo:
            repo.fetch(remote=REMOTE_NAME)
        if self._damaged_outs(damage):
            self._checkout(damage)

    def _fetch_s3(self, damage: Damage) -> None:
        """Fetch from the S3 remote (dvc-s3 over HTTP), trying again with backoff while it is down, slow or
        flaky; a try counts only when every object the lock needs is then in the cache with its md5 (a transfer
        cut short is deleted and fetched again). Then check out what is damaged."""

        def once() -> None:
            try:
                s3remote.fetch(self.root)
            finally:
                left = self._purge_quietly()
            if left:
                raise RuntimeError(
                    f"the S3 fetch left {len(left)} object(s) missing or cut short: {', '.join(left[:3])}"
                )

        retrying("dvc_fetch_s3", once, self.retry, self.retries)
        if self._damaged_outs(damage):
            self._checkout(damage)

    def _purge_quietly(self) -> list[str]:
        """Delete cache objects whose content does not match their md5; the objects still not right."""
        for md5, why in self.scan().cache.items():
            if why != "missing":
                path = object_path(self.root / CACHE_DIR, md5)
                path.chmod(0o644)
                path.unlink()
        return sorted(self.scan().cache)

    def _commit(self, damage: Damage) -> None:
        """Re-save the workspace (verified equal to dvc.lock by md5) into the cache."""
        with open_repo(self.root) as repo:
            repo.commit(force=True)

    def _repro(self, damage: Damage) -> None:
        """Rerun the stages owning damaged outs, in pipeline order, through the failpoints like ``run_stage``
        (a persistent injected failure keeps failing here, and recovery says so)."""
        stages = {self._stage_of(rel) for rel in damage.workspace} - {None}
        for stage in self.layout.stages:
            if stage in stages:
                failpoints.hit(self.root, stage.name)
                for rel in stage.outs:
                    if any(d == rel or d.startswith(rel + "/") for d in damage.workspace):
                        _remove(self.root / rel)  # so DVC sees them gone, whatever its state db says
                failpoints.hit(self.root, stage.name, "write")
                reproduce(self.root, stage.target)

    def _mlflow_restore(self, damage: Damage) -> None:
        """The MLflow store from its backup (or the backup from the store), whichever is whole."""
        from .mlflow_store import restore

        restore(self.root, self.mlflow)

    def _push(self, damage: Damage) -> None:
        for md5, problem in damage.remote.items():
            if md5 != "*" and problem != "missing":
                path = object_path(self.root / REMOTE_DIR, md5)
                path.chmod(0o644)
                path.unlink()
        with open_repo(self.root) as repo:
            repo.push(remote=REMOTE_NAME)


def reproduce(root: Path, target: str | None = None, **kwargs: object) -> None:
    """``dvc repro`` (of ``target``, else everything) with the stages' output captured: a failure names the
    stage, its command, and the last lines it printed."""
    from dvc.exceptions import ReproductionError

    with captured_output() as log:
        try:
            with open_repo(root) as repo:
                if target is None:
                    repo.reproduce(**kwargs)
                else:
                    repo.reproduce(target, **kwargs)
        except ReproductionError as exc:
            cause = exc.__cause__ or exc.__context__
            why = _ANSI.sub("", str(cause)).strip() if cause else ""
            names = re.findall(r"'([^']+)'", str(exc)) or ["?"]
            raise StageError(", ".join(n.rpartition(":")[2] for n in names), why, tail(log)) from None


class StageError(RuntimeError):
    """A stage of ``dvc repro`` failed: which one, DVC's reason, and the end of what the stage printed."""

    def __init__(self, stage: str, reason: str, output: str) -> None:
        self.stage, self.reason, self.output = stage, reason, output
        text = f"stage {stage!r} failed" + (f": {reason}" if reason else "")
        if output:
            text += "\n--- last lines the stage printed ---\n" + output
        super().__init__(text)
