"""Sandboxed environments: the session template, its cache, and ``ChaosEnv``, one clone a test may break."""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .artifacts import Artifacts
from .gate import Thresholds, Verdict, compare_metrics, expectation_met, metric_verdict
from .incidents.registry import IncidentRegistry, InjectionContext, file_digest
from .incidents.spec import Incident, IncidentError, Injection, derive_seed
from .outcome import IncidentOutcome, outcome_from_recovery
from .project import MLProject, RecoveryResult

BASELINE_FILE = "mlchaos-baseline.json"
# The harness's own files in an environment (armed failpoints: a fault in the world, not damage to undo).
HARNESS_DIR = ".mlchaos/"
ENV_DIR = "env"


def take_manifest(root: Path, paths: Iterable[str]) -> dict[str, str]:
    """Content digest (``file_digest``) of each existing file in ``paths`` (relative to ``root``)."""
    manifest = {}
    for rel in paths:
        path = root / rel
        if path.is_file():
            manifest[rel] = file_digest(path)
    return manifest


@dataclass(frozen=True)
class Baseline:
    """The snapshotted environment every test clones: where it is, its metrics, its manifest of digests."""

    root: Path
    fingerprint: str
    metrics: Mapping[str, float]
    manifest: Mapping[str, str]
    artifacts: Artifacts
    build_seconds: float = 0.0
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "metrics": dict(self.metrics),
            "manifest": dict(self.manifest),
            "build_seconds": self.build_seconds,
        }


def _artifacts_from_dict(data: Mapping[str, Any]) -> Artifacts:
    values = dict(data)
    for key in ("data", "models", "stages", "tracked"):
        values[key] = tuple(values.get(key, ()))
    values["stage_outputs"] = {k: tuple(v) for k, v in values.get("stage_outputs", {}).items()}
    return Artifacts(**values)


def build_baseline(project: MLProject, store: Path, fingerprint: str) -> Baseline:
    """The baseline under ``store`` (``store/env`` plus a JSON record), built unless an intact one is there.

    Callers hold a lock on ``store`` so that concurrent sessions and xdist workers build it once.
    The environment is built in a sibling temp directory and renamed into place, so an
    interrupted build never leaves a half baseline that a later session would trust.
    """
    record_path = store / BASELINE_FILE
    if record_path.is_file():
        try:
            record = json.loads(record_path.read_text())
            if record.get("fingerprint") == fingerprint and (store / ENV_DIR).is_dir():
                root = store / ENV_DIR
                return Baseline(root, fingerprint, record["metrics"], record["manifest"],
                                project.artifacts(root), record.get("build_seconds", 0.0), cached=True)
        except (ValueError, KeyError, OSError):
            pass
    if store.exists():
        shutil.rmtree(store)
    building = store.with_name(store.name + ".building")
    if building.exists():
        shutil.rmtree(building)
    building.mkdir(parents=True)
    start = time.perf_counter()
    project.build(building / ENV_DIR)
    building.rename(store)
    root = store / ENV_DIR
    project.relocate(root, building / ENV_DIR)
    artifacts = project.artifacts(root)
    metrics = {k: float(v) for k, v in project.evaluate(root).items()}
    manifest = take_manifest(root, artifacts.tracked_files())
    baseline = Baseline(root, fingerprint, metrics, manifest, artifacts, time.perf_counter() - start)
    tmp = record_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(baseline.to_json(), indent=1, sort_keys=True))
    tmp.replace(record_path)
    return baseline


def clone_tree(src: Path, dst: Path) -> None:
    """Copy an environment: real copies (never hard links), so nothing a test does reaches the template."""
    shutil.copytree(src, dst, symlinks=True)


Observer = Callable[..., None]


@dataclass
class ChaosEnv:
    """One sandboxed environment: a clone of the baseline that a test may break, repair and check.

    ``inject`` applies incidents (confined to ``root``), ``detect``/``recover``/``evaluate``
    ask the project, ``verify`` judges the result independently of the project's own claims.
    """

    root: Path
    project: MLProject
    baseline: Baseline
    registry: IncidentRegistry
    seed: int = 0
    incidents: list[Incident] = field(default_factory=list)
    injections: list[Injection] = field(default_factory=list)
    recovery: RecoveryResult | None = None
    outcome: IncidentOutcome | None = None
    on_injected: list[Observer] = field(default_factory=list)
    on_recovered: list[Observer] = field(default_factory=list)
    time_to_detect: float | None = None
    time_to_recover: float | None = None
    trash: Path | None = None  # where ``remove`` moves the tree for deletion later (off the test's clock)
    _injected_at: float | None = None

    @property
    def artifacts(self) -> Artifacts:
        return self.baseline.artifacts

    def path(self, rel: str) -> Path:
        return self.root / rel

    # -- incidents -----------------------------------------------------------------
    def prepare(self, incident: Incident, index: int | None = None) -> Incident:
        """The incident validated against the registry and this environment, with its seed fixed."""
        validated = self.registry.validate(incident, self.artifacts.available())
        if validated.seed is None:
            position = len(self.incidents) if index is None else index
            validated = validated.replace(seed=derive_seed(self.seed, position, validated.to_json()))
        return validated

    def inject(self, incident: Incident, *, dry_run: bool = False) -> Injection:
        """Validate and apply one incident; returns what was done."""
        prepared = self.prepare(incident)
        injector = self.registry.get(prepared.kind, prepared.mode)
        run_stage = getattr(self.project, "run_stage", None)
        ctx = InjectionContext(
            root=self.root,
            artifacts=self.artifacts,
            rng=random.Random(prepared.seed),
            run_stage=(lambda stage: run_stage(self.root, stage)) if run_stage else None,
            dry_run=dry_run,
        )
        injection = injector.inject(ctx, prepared)
        if not dry_run:
            self.incidents.append(prepared)
            self.injections.append(injection)
            self._injected_at = time.perf_counter()
            for observer in self.on_injected:
                observer(self, prepared)
        return injection

    # -- the project's side ------------------------------------------------------
    def detect(self) -> list[str]:
        """Problems the project's own checks find; the first call after injection sets ``time_to_detect``."""
        start = time.perf_counter()
        problems = list(self.project.detect(self.root))
        if self.time_to_detect is None and self._injected_at is not None:
            self.time_to_detect = time.perf_counter() - start
        return problems

    def recover(self) -> RecoveryResult:
        """Run the project's recovery manager on the injected incidents (once; later calls return the result)."""
        if self.recovery is not None:
            return self.recovery
        start = time.perf_counter()
        result = self.project.recover(self.root, list(self.incidents))
        self.time_to_recover = time.perf_counter() - start
        if not isinstance(result, RecoveryResult):
            raise TypeError(f"{self.project.name}.recover() returned {result!r}, not a RecoveryResult")
        self.recovery = result
        for observer in self.on_recovered:
            observer(self, result)
        return result

    def evaluate(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.project.evaluate(self.root).items()}

    def digests(self) -> dict[str, str]:
        return take_manifest(self.root, self.baseline.manifest)

    # -- verification -----------------------------------------------------------------
    def verify(self, thresholds: Thresholds | None = None, *, expect: str = "recovered", strict: bool = False,
               nodeid: str = "") -> IncidentOutcome:
        """Recover if nobody has, then judge the environment on its own evidence."""
        thresholds = thresholds or Thresholds()
        result = self.recover()
        common: dict[str, Any] = dict(
            nodeid=nodeid, incidents=tuple(self.incidents), expect=expect,
            injected=tuple(i.description for i in self.injections),
            time_to_detect=self.time_to_detect, time_to_recover=self.time_to_recover,
            **outcome_from_recovery(result),
        )
        if not result.recovered:
            outcome = self._finish(Verdict.UNRECOVERED, common, strict, reason_extra=result.message)
            return outcome
        current = self.digests()
        manifest = self.baseline.manifest
        missing = sorted(rel for rel in manifest if rel not in current)
        mismatched = tuple(sorted(rel for rel in manifest if current.get(rel) != manifest[rel]))
        still_damaged = tuple(sorted(
            rel for inj in self.injections for rel, digest in inj.damaged_digests
            if not rel.startswith(HARNESS_DIR) and manifest.get(rel) != digest
            and take_manifest(self.root, [rel]).get(rel) == digest
        ))
        problems = list(self.project.detect(self.root))
        check_model = getattr(self.project, "check_model", None)
        model_problem = check_model(self.root) if check_model else None
        if model_problem:
            problems.append(f"model: {model_problem}")
        problems += [f"{rel}: missing after recovery" for rel in missing]
        common.update(mismatched=mismatched, still_damaged=still_damaged, problems=tuple(problems))
        if still_damaged or problems:
            return self._finish(Verdict.FALSE_RECOVERY, common, strict)
        start = time.perf_counter()
        try:
            after = self.evaluate()
        except Exception as exc:  # the project could not even evaluate what it "recovered"
            common["problems"] = (*common["problems"], f"evaluation failed: {type(exc).__name__}: {exc}")
            return self._finish(Verdict.FALSE_RECOVERY, common, strict)
        changes = compare_metrics(self.baseline.metrics, after, thresholds)
        common["metrics"] = tuple(changes)
        common["time_to_metrics"] = (self.time_to_recover or 0.0) + (time.perf_counter() - start)
        verdict = metric_verdict(changes, thresholds, bit_exact=not mismatched)
        return self._finish(verdict, common, strict)

    def _finish(self, verdict: Verdict, fields: dict[str, Any], strict: bool, reason_extra: str = "") -> IncidentOutcome:
        passed, reason = expectation_met(verdict, fields["expect"], strict)
        if reason and reason_extra:
            reason = f"{reason} ({reason_extra})"
        self.outcome = IncidentOutcome(verdict=verdict, passed=passed, reason=reason, **fields)
        return self.outcome

    # -- lifetime ------------------------------------------------------------------------
    def remove(self) -> None:
        """Delete the environment; with a ``trash`` directory, only move it there (one rename)."""
        if self.trash is not None and self.root.exists():
            self.trash.mkdir(parents=True, exist_ok=True)
            try:
                self.root.rename(self.trash / f"{self.root.name}-{time.monotonic_ns()}")
                return
            except OSError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ChaosEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class EnvFactory:
    """Makes fresh clones of the baseline, each in its own directory under ``base``."""

    def __init__(self, project: MLProject, baseline: Baseline, registry: IncidentRegistry, base: Path, seed: int,
                 observers: tuple[Sequence[Observer], Sequence[Observer]] = ((), ())) -> None:
        self.project = project
        self.baseline = baseline
        self.registry = registry
        self.base = base
        self.seed = seed
        self.observers = observers
        self.trash: Path | None = None  # set it to defer deletions to ``empty_trash`` (the fixture does)
        self._count = 0

    def __call__(self, incidents: Iterable[Incident] = (), *, name: str | None = None, seed: int | None = None) -> ChaosEnv:
        """A fresh environment with ``incidents`` already injected. Use it as a context manager to delete it after."""
        self._count += 1
        label = name or f"env{self._count}"
        root = self.base / _safe_name(label)
        n = 1
        while root.exists():
            n += 1
            root = self.base / f"{_safe_name(label)}-{n}"
        clone_tree(self.baseline.root, root)
        self.project.relocate(root, self.baseline.root)
        env = ChaosEnv(root, self.project, self.baseline, self.registry,
                       seed=self.seed if seed is None else seed,
                       on_injected=list(self.observers[0]), on_recovered=list(self.observers[1]),
                       trash=self.trash)
        try:
            for incident in incidents:
                env.inject(incident)
        except BaseException:
            env.remove()
            raise
        return env

    def empty_trash(self) -> None:
        """Delete the environments removed so far (called once, at the end of the session)."""
        if self.trash is not None:
            shutil.rmtree(self.trash, ignore_errors=True)


def _safe_name(label: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return keep[-60:] or "env"


def validate_all(registry: IncidentRegistry, incidents: Sequence[Incident], artifacts: Artifacts | None) -> list[Incident]:
    """Validate incidents up front (collection time); IncidentError names the first bad one."""
    available = artifacts.available() if artifacts is not None else None
    return [registry.validate(i, available) for i in incidents]


def finite(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) or math.isnan(value) else value


__all__ = ["Baseline", "ChaosEnv", "EnvFactory", "IncidentError", "build_baseline", "clone_tree", "take_manifest"]
