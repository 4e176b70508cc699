"""The recovery manager: strategy chains driven by what the health checks find, each attempt verified.

An attempt counts only when the files it restored hash to the md5 ``dvc.lock`` records (or,
for a repair, the pipeline re-locked them) and the model loads and predicts. Stable strategy
names: backup, dvc_cache, dvc_remote, snapshot, repair, mlflow_registry, clear_locks,
reset_outputs, rerun_pipeline, restore_lock, restore_mlflow_db, rebuild_mlflow_db, refetch_cache,
repush_remote, rebuild_backups, restore_alias, dvc_remote_s3 (with retries and backoff: ``pytest_mlchaos.retry``).

With a tracking server attached (``tracking.attach_tracking``), mlflow_registry reads the served model
over HTTP from the server, with the same retries, and the model chain falls back to the snapshot
when the server stays down. Retraining (rerun_pipeline) logs nothing to MLflow, so an outage of the
server cannot lose a run there; the registry repairs (restore_alias, rebuild_mlflow_db) write the
registry's own sqlite store.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from pytest_mlchaos.project import Attempt, RecoveryResult
from pytest_mlchaos.retry import NO_RETRY, RetryLog, RetryPolicy, retrying  # noqa: F401 (NO_RETRY: for managers built on this one)

from . import backups, gitops, health, tracking
from .dvcops import (LockError, cache_object, locked_outs, md5_file, place_verified, read_lock,
                     remote_object, store_object)
from .health import Problem
from .layout import DATA_FILES, FAILED_DIR, LOCK, METRICS, MLFLOW_DB, MODEL, MODEL_FILES, RAW, STAGES, downstream
from .log import get_logger

log = get_logger("recovery")
FILE_KINDS = ("missing", "digest", "model", "invalid")


class StrategyFailed(RuntimeError):
    """A strategy that ran but did not produce a verified result."""




class RecoveryManager:
    """Repairs the environment at ``root``; ``recover`` returns the account as a ``RecoveryResult``."""

    def __init__(self, root: Path, retry: RetryPolicy = RetryPolicy()) -> None:
        self.root = Path(root)
        self.retry = retry
        self.attempts: list[Attempt] = []
        self.wins: list[str] = []
        self.unrecovered: list[str] = []
        self.lock_changed = False
        self.retry_log = RetryLog()  # the waits for services between tries (part of the MTTR)

    # -- bookkeeping ---------------------------------------------------------------------------------
    def _try(self, strategy: str, action: Callable[[], Any]) -> bool:
        start = time.perf_counter()
        try:
            action()
        except Exception as exc:  # every failure of a strategy is recorded, then the chain moves on
            self.attempts.append(Attempt(strategy, False, time.perf_counter() - start, f"{type(exc).__name__}: {exc}"[:300]))
            log.info("strategy %s failed: %s", strategy, exc)
            return False
        self.attempts.append(Attempt(strategy, True, time.perf_counter() - start))
        if strategy not in self.wins:
            self.wins.append(strategy)
        return True

    def _chain(self, what: str, chain: list[tuple[str, Callable[[], Any]]]) -> bool:
        for strategy, action in chain:
            if self._try(strategy, action):
                return True
        self.unrecovered.append(f"{what}: every strategy failed ({', '.join(s for s, _ in chain)})")
        return False

    def _scan(self) -> list[Problem]:
        return health.scan(self.root)

    def _outs(self) -> dict[str, Any]:
        return locked_outs(self.root)

    # -- the entry point ----------------------------------------------------------------------------
    def recover(self, incidents: Sequence[Any] = ()) -> RecoveryResult:
        start = time.perf_counter()
        problems = self._scan()
        hinted = {str(getattr(i, "param", lambda *_: None)("stage")) for i in incidents
                  if getattr(i, "kind", None) == "pipeline_failure"} & set(STAGES)
        if not problems and not hinted:
            return RecoveryResult(True, "none", (), time.perf_counter() - start, "healthy: nothing to recover")
        kinds = {p.kind for p in problems}
        if "lock" in kinds:
            self._chain(LOCK, [("restore_lock", self._restore_lock)])
        if "mlflow_db" in kinds and backups.db_backup_ok(self.root) is None:
            self._try("restore_mlflow_db", self._restore_mlflow_db)  # early, so mlflow_registry can serve
        failed = {p.path.rsplit("/", 1)[-1].removesuffix(".json") for p in problems if p.kind == "failed_stage"}
        failed = (failed | hinted) & set(STAGES)
        if failed or "stale_lock" in kinds:
            self._pipeline(failed)
        self._files(problems if not self.attempts else None)  # nothing changed yet: reuse the first scan
        self._stores()
        if self.lock_changed:
            self._try("rebuild_backups", self._rebuild_backups)
        remaining = self._scan()
        seconds = time.perf_counter() - start
        if remaining:
            reasons = self.unrecovered + [str(p) for p in remaining[:5]]
            return RecoveryResult(False, None, tuple(self.attempts), seconds,
                                  "not recovered: " + "; ".join(dict.fromkeys(reasons)) + self._waited())
        try:
            if self.lock_changed or gitops.git(self.root, "status", "--porcelain", "--", LOCK).strip():
                gitops.commit_all(self.root, f"mlops recover: {'+'.join(self.wins)}")
        except gitops.GitError as exc:
            log.warning("could not commit the recovered state: %s", exc)
        return RecoveryResult(True, "+".join(self.wins) or "none", tuple(self.attempts), seconds,
                              f"recovered {len(problems)} problem(s) with {', '.join(self.wins) or 'nothing'}"
                              + self._waited())

    @property
    def waited(self) -> float:
        """Seconds spent waiting for a service between tries."""
        return self.retry_log.waited

    @property
    def waits(self) -> list[str]:
        """A line per retried step: how it ended."""
        return self.retry_log.lines

    def _waited(self) -> str:
        summary = self.retry_log.summary()
        return f"; {summary}" if summary else ""

    def _retrying(self, what: str, action: Callable[[], Any], permanent: tuple[type[Exception], ...] = ()) -> None:
        """``action`` until it succeeds, waiting with backoff between tries (``self.retry``); its last error if
        every try fails, or at once if it is ``permanent``. The waits are recorded (``waited``) and count in the
        recovery's time."""

        def attempt() -> None:
            try:
                action()
            except Exception as exc:
                log.info("%s failed: %s", what, exc)
                raise

        retrying(what, attempt, self.retry, self.retry_log, permanent=permanent)

    # -- dvc.lock and the MLflow database -------------------------------------------------------------
    def _restore_lock(self) -> None:
        data = gitops.show(self.root, "HEAD", LOCK)
        (self.root / LOCK).write_bytes(data)
        read_lock(self.root)
        locked_outs(self.root)

    def _restore_mlflow_db(self) -> None:
        source = backups.path_of(self.root, MLFLOW_DB)
        if backups.db_backup_ok(self.root):
            raise StrategyFailed(backups.db_backup_ok(self.root))
        target = self.root / MLFLOW_DB
        tmp = target.with_name(target.name + ".restore")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
        tracking.production_version(self.root)

    # -- pipeline: clear markers/locks -> reset outputs -> rerun -------------------------------------------
    def _pipeline(self, failed: set[str]) -> None:
        first = min(failed, key=STAGES.index) if failed else None
        stages = downstream(first) if first else ()

        def outputs_ok() -> None:
            outs = self._outs()
            bad = [rel for rel, out in outs.items() if out.stage in stages and not self._matches(rel, out.md5)]
            if bad:
                raise StrategyFailed(f"outputs still not as locked: {', '.join(bad)}")
            if MODEL in outs and (why := health.check_file(self.root, MODEL, None)):
                raise StrategyFailed(why)

        def clear() -> None:
            for marker in (self.root / FAILED_DIR).glob("*.json"):
                marker.unlink()
            for rel in health.stale_dvc_locks(self.root):
                (self.root / rel).unlink(missing_ok=True)
            outputs_ok()

        def reset() -> None:
            outs = self._outs()
            errors = []
            for rel, out in outs.items():
                if out.stage in stages and not self._matches(rel, out.md5):
                    if not self._place_from_any(rel, out.md5):
                        errors.append(rel)
            if errors:
                raise StrategyFailed(f"no verified copy of {', '.join(errors)}")
            outputs_ok()

        def rerun() -> None:
            from .stages import run_pipeline

            before = {rel: out.md5 for rel, out in self._outs().items()}
            run_pipeline(self.root, first or "generate")
            self.lock_changed = True
            changed = [rel for rel, out in self._outs().items() if before.get(rel) != out.md5]
            outputs_ok()
            if changed:
                log.warning("rerun produced different outputs: %s", changed)

        chain = [("clear_locks", clear)]
        if stages:
            chain += [("reset_outputs", reset), ("rerun_pipeline", rerun)]
        self._chain(f"pipeline ({first or 'locks'})", chain)

    # -- tracked files: data and model chains ------------------------------------------------------------
    def _files(self, problems: list[Problem] | None = None) -> None:
        try:
            outs = self._outs()
        except LockError as exc:
            self.unrecovered.append(str(exc))
            return
        bad = [p.path for p in (self._scan() if problems is None else problems) if p.kind in FILE_KINDS and p.path in outs]
        for rel in dict.fromkeys(bad):
            outs = self._outs()
            if rel not in outs or self._matches(rel, outs[rel].md5) and rel != MODEL:
                continue  # an earlier repair (reprocess/retrain) already fixed it
            md5 = outs[rel].md5
            if rel in MODEL_FILES:
                self._chain(rel, [("backup", lambda: self._place(backups.path_of(self.root, rel), rel, md5)),
                                  ("dvc_cache", lambda: self._place(cache_object(self.root, md5), rel, md5)),
                                  ("dvc_remote", lambda: self._place(remote_object(self.root, md5), rel, md5)),
                                  *self._s3_step(rel, md5),
                                  ("mlflow_registry", lambda: self._from_registry(rel, md5)),
                                  *self._after_tracking_server(rel, md5)])
            elif rel in DATA_FILES:
                self._chain(rel, [("backup", lambda: self._place(backups.path_of(self.root, rel), rel, md5)),
                                  ("dvc_cache", lambda: self._place(cache_object(self.root, md5), rel, md5)),
                                  ("dvc_remote", lambda: self._place(remote_object(self.root, md5), rel, md5)),
                                  *self._s3_step(rel, md5),
                                  ("snapshot", lambda: self._from_snapshot(rel, md5)),
                                  ("repair", lambda: self._repair(rel))])
            elif rel == METRICS:
                self._chain(rel, [("backup", lambda: self._place(backups.path_of(self.root, rel), rel, md5)),
                                  ("snapshot", lambda: self._from_snapshot(rel, md5)),
                                  ("rerun_pipeline", lambda: self._rerun_from("evaluate"))])

    def _matches(self, rel: str, md5: str) -> bool:
        path = self.root / rel
        return path.is_file() and md5_file(path) == md5

    def _place(self, source: Path, rel: str, md5: str) -> None:
        place_verified(source, self.root / rel, md5)
        if rel in MODEL_FILES and (why := health.check_file(self.root, rel, None)):
            raise StrategyFailed(why)

    def _place_from_any(self, rel: str, md5: str) -> bool:
        for source in (cache_object(self.root, md5), remote_object(self.root, md5), backups.path_of(self.root, rel)):
            try:
                self._place(source, rel, md5)
                return True
            except (OSError, ValueError, StrategyFailed):
                continue
        return False

    def _s3_step(self, rel: str, md5: str) -> list[tuple[str, Callable[[], Any]]]:
        """The S3 remote as a step of a chain, when the environment has one (``mlchaos_services = s3``)."""
        from .dvcops import s3_attached

        return [("dvc_remote_s3", lambda: self._from_s3(rel, md5))] if s3_attached(self.root) else []

    def _from_s3(self, rel: str, md5: str) -> None:
        """Fetch ``rel``'s object from the S3 remote (dvc-s3, over HTTP) into the cache and place it, trying again
        with backoff while the remote is down, slow or flaky."""
        from .dvcops import fetch_from_s3, s3_attached

        if not s3_attached(self.root):
            raise StrategyFailed("no S3 remote is configured")

        def once() -> None:
            obj = cache_object(self.root, md5)
            if obj.exists() and md5_file(obj) != md5:  # a transfer cut short left a partial object
                obj.chmod(0o644)
                obj.unlink()
            fetch_from_s3(self.root, rel)
            self._place(obj, rel, md5)

        self._retrying(f"dvc_remote_s3 {rel}", once)

    def _from_snapshot(self, rel: str, md5: str) -> None:
        from .versioning import VersionController

        snaps = VersionController(self.root).list_snapshots()
        if not snaps:
            raise StrategyFailed("no snapshots")
        for snap in reversed(snaps):
            if snap.lock.get(rel) == md5:
                self._place(VersionController(self.root).snapshot_file(snap.tag, rel), rel, md5)
                return
        latest = snaps[-1]
        report = VersionController(self.root).restore_snapshot(latest.tag)
        self.lock_changed = True
        if not report.ok:
            raise StrategyFailed(f"rollback to {latest.tag!r} incomplete: {'; '.join(report.not_restored)}")

    def _after_tracking_server(self, rel: str, md5: str) -> list[tuple[str, Callable[[], Any]]]:
        """The fallback behind a registry reached over the network (it may stay down): the snapshot's model."""
        if tracking.attached_server(self.root) is None:
            return []
        return [("snapshot", lambda: self._from_snapshot(rel, md5))]

    def _from_tracking_server(self, server: str, rel: str, md5: str) -> None:
        """The served model's joblib file, read over HTTP from the tracking server, placed if it is the locked one."""
        version, data = tracking.served_model_bytes(server)
        tmp = self.root / FAILED_DIR.rsplit("/", 1)[0] / "registry-download.pkl"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        try:
            if md5_file(tmp) != md5:
                raise StrategyFailed(f"{tracking.REGISTERED_MODEL} version {version} is not the model {LOCK} locks")
            self._place(tmp, rel, md5)
        finally:
            tmp.unlink(missing_ok=True)

    def _from_registry(self, rel: str, md5: str) -> None:
        import joblib

        server = tracking.attached_server(self.root)
        if server is not None:  # through the tracking server, waiting out its outages within the retry policy
            self._retrying(f"mlflow_registry {rel}", lambda: self._from_tracking_server(server, rel, md5),
                           permanent=(StrategyFailed, tracking.RegistryError))
            return
        served = tracking.production_version(self.root)
        if served.joblib_file is not None and served.joblib_file.is_file():
            try:
                self._place(served.joblib_file, rel, md5)
                return
            except (ValueError, StrategyFailed):
                pass
        estimator = tracking.load_served(served)
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(estimator, path)
        if (why := health.check_file(self.root, rel, None)):
            raise StrategyFailed(why)
        if md5_file(path) != md5:
            self._rerun_from("evaluate", commit_first=("train",))

    def _rerun_from(self, stage: str, commit_first: tuple[str, ...] = ()) -> None:
        from .dvcops import commit_stages
        from .stages import run_pipeline

        if commit_first:
            commit_stages(self.root, commit_first)
        run_pipeline(self.root, stage)
        self.lock_changed = True

    def _repair(self, rel: str) -> None:
        """Last resort: drop corrupt/duplicate rows of the raw table (or rebuild a split from it), reprocess, retrain."""
        from . import data
        from .stages import run_pipeline

        if rel == RAW:
            frame = data.read_csv(self.root / RAW)
            report = data.validate(frame, RAW)
            cleaned = data.clean(frame, report)
            left = data.validate(cleaned, RAW).problems
            if left:
                raise StrategyFailed(f"{RAW}: dropping rows cannot fix it: {'; '.join(left)}")
            if len(cleaned) < 0.5 * len(frame) or cleaned[data.TARGET].nunique() < 2:
                raise StrategyFailed(f"{RAW}: only {len(cleaned)} of {len(frame)} rows are usable")
            data.write_csv(cleaned, self.root / RAW)
            from .dvcops import commit_stages

            commit_stages(self.root, ("generate",))
        elif not self._matches(RAW, self._outs()[RAW].md5):
            raise StrategyFailed(f"cannot rebuild {rel}: {RAW} is not verified either")
        run_pipeline(self.root, "process")
        self.lock_changed = True
        if (why := health.check_file(self.root, MODEL, None)):
            raise StrategyFailed(why)

    # -- the stores themselves -----------------------------------------------------------------------------
    def _stores(self) -> None:
        problems = self._scan()
        kinds = {p.kind for p in problems}
        if "cache" in kinds:
            self._chain("DVC cache", [("refetch_cache", self._refetch_cache)])
        if "remote" in kinds:
            self._chain("DVC remote", [("repush_remote", self._repush_remote)])
        if "mlflow_db" in kinds:
            self._chain(MLFLOW_DB, [("restore_mlflow_db", self._restore_mlflow_db),
                                    ("rebuild_mlflow_db", self._rebuild_mlflow_db)])
            kinds = {p.kind for p in self._scan()}
        if kinds & {"alias", "registry_model"}:
            self._chain("MLflow registry", [("restore_alias", self._restore_alias)])
        if "backup" in kinds or self.lock_changed:
            self._chain("backups", [("rebuild_backups", self._rebuild_backups)])

    def _rebuild_mlflow_db(self) -> None:
        """Last resort for a lost store: set the broken database aside, create a new one and register the
        verified model as its first version (run history is lost; the served model is not)."""
        import json

        from .models import scalar_metrics

        outs = self._outs()
        if MODEL not in outs or not self._matches(MODEL, outs[MODEL].md5):
            raise StrategyFailed(f"{MODEL} is not verified against {LOCK}; will not register it")
        db = self.root / MLFLOW_DB
        if db.exists():
            aside = self.root / FAILED_DIR.rsplit("/", 1)[0] / f"mlflow.db.broken-{int(time.time())}"
            aside.parent.mkdir(parents=True, exist_ok=True)
            db.replace(aside)
        metrics = scalar_metrics(json.loads((self.root / METRICS).read_text())) if (self.root / METRICS).is_file() else {}
        tracking.reregister(self.root, None, self.root / MODEL, metrics)
        tracking.production_version(self.root)
        backups.backup_db(self.root)

    def _refetch_cache(self) -> None:
        self._put_back_objects(cache_object, remote_object, "put back in the cache",
                               skip=lambda rel, obj: rel == METRICS and not obj.exists())

    def _repush_remote(self) -> None:
        self._put_back_objects(remote_object, cache_object, "push", skip=lambda rel, obj: rel == METRICS)

    def _put_back_objects(self, store_of: Callable[[Path, str], Path], other_store_of: Callable[[Path, str], Path],
                          what: str, skip: Callable[[str, Path], bool]) -> None:
        """Make every locked output's object in one store (cache or remote) present and verified, taking it
        from the other store, the workspace or the backups, whichever has a copy with the right md5."""
        for rel, out in self._outs().items():
            obj = store_of(self.root, out.md5)
            if skip(rel, obj) or obj.is_file() and md5_file(obj) == out.md5:
                continue
            if obj.exists():
                obj.chmod(0o644)
                obj.unlink()
            for source in (other_store_of(self.root, out.md5), self.root / rel, backups.path_of(self.root, rel)):
                try:
                    store_object(source, obj, out.md5)
                    break
                except (OSError, ValueError):
                    continue
            else:
                raise StrategyFailed(f"no verified copy of {rel} ({out.md5[:12]}) to {what}")

    def _rebuild_backups(self) -> None:
        skipped = backups.rebuild(self.root)
        if skipped:
            raise StrategyFailed("; ".join(skipped))

    def _restore_alias(self) -> None:
        """Point ``production`` at the latest snapshot's version, else a version whose file is the locked model,
        else register again a logged model that survived its deleted version, else register the verified
        workspace model anew (a new MLflow model: last, since its files are written afresh)."""
        from .versioning import VersionController

        outs = self._outs()
        model_md5 = outs[MODEL].md5 if MODEL in outs else None
        if model_md5 is None or not self._matches(MODEL, model_md5):
            raise StrategyFailed(f"{MODEL} is not verified against {LOCK}; will not register it")
        candidates = [s.model_version for s in reversed(VersionController(self.root).list_snapshots()) if s.model_version]
        newest = tracking.latest_version(self.root) or 0
        candidates += list(range(newest, 0, -1))
        for version in dict.fromkeys(candidates):
            try:
                served = tracking.version_info(self.root, version)
                if served.joblib_file is None or not served.joblib_file.is_file() or md5_file(served.joblib_file) != model_md5:
                    continue
                tracking.load_served(served)
            except Exception:  # a version that does not load is not a candidate
                continue
            tracking.set_alias(self.root, version)
            backups.backup_db(self.root)
            return
        for source, served in tracking.logged_models(self.root):
            try:
                if served.joblib_file is None or not served.joblib_file.is_file() \
                        or md5_file(served.joblib_file) != model_md5:
                    continue
                tracking.load_served(served)
            except Exception:  # its files are gone or do not load: not a candidate
                continue
            tracking.register_again(self.root, source, served.run_id)
            backups.backup_db(self.root)
            return
        import json

        from .models import scalar_metrics

        metrics = scalar_metrics(json.loads((self.root / METRICS).read_text())) if (self.root / METRICS).is_file() else {}
        tracking.reregister(self.root, None, self.root / MODEL, metrics)
        backups.backup_db(self.root)


def recover(root: Path, incidents: Sequence[Any] = ()) -> RecoveryResult:
    return RecoveryManager(root).recover(incidents)
