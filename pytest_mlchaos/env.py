"""Sandboxed environments: the session template, its cache, and ``ChaosEnv``, one clone a test may break.

``ChaosEnv`` collects the evidence of an incident (digests when recovery starts and after it
ends, the project's checks, metrics computed on the plugin's own copies) and hands it to
``judge``; it decides nothing itself.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import progress
from .artifacts import Artifacts
from .containment import EscapeError, check_contained
from .deadline import DeadlineExceeded, call_with_deadline, can_cut
from .evaluation import judged_evaluations
from .evidence import Evidence, Failure
from .gate import Thresholds
from .incidents.registry import IncidentRegistry, InjectionContext
from .incidents.spec import Incident, IncidentError, Injection, derive_seed
from .judge import Policy, assess, judge
from .manifest import HARNESS_DIR, DigestCache, Manifest, Observation, differences, observe, take_manifest
from .outcome import IncidentOutcome
from .project import MLProject, RecoveryResult

BASELINE_FILE = "mlchaos-baseline.json"
RECORD_FORMAT = 2  # the layout of BASELINE_FILE; another one is rebuilt, never read
ENV_DIR = "env"


@dataclass(frozen=True)
class Baseline:
    """The snapshotted environment every test clones: where it is, its metrics, its manifest.

    ``cached`` says it came from an earlier run (and was verified against its manifest);
    ``rebuilt_because`` says why a cached one was not trusted.
    """

    root: Path
    fingerprint: str
    metrics: Mapping[str, float]
    manifest: Manifest
    artifacts: Artifacts
    build_seconds: float = 0.0
    cached: bool = False
    verify_seconds: float = 0.0
    rebuilt_because: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT,
            "fingerprint": self.fingerprint,
            "metrics": dict(self.metrics),
            "manifest": self.manifest.to_json(),
            "manifest_digest": self.manifest.digest(),
            "build_seconds": self.build_seconds,
        }


def verify_template(project: MLProject, store: Path, fingerprint: str) -> tuple[Baseline | None, str | None]:
    """The cached baseline under ``store`` if it is intact, else (None, why it cannot be trusted)."""
    record_path, root = store / BASELINE_FILE, store / ENV_DIR
    if not record_path.is_file() or not root.is_dir():
        return None, None
    start = time.perf_counter()
    try:
        record = json.loads(record_path.read_text())
        if record.get("format") != RECORD_FORMAT:
            return None, "its record is of an older format"
        if record.get("fingerprint") != fingerprint:
            return None, "the project's fingerprint changed"
        manifest = Manifest.from_json(record["manifest"])
        if manifest.digest() != record.get("manifest_digest"):
            return None, f"its manifest does not match the digest recorded beside it ({record_path.name})"
        metrics = {k: float(v) for k, v in record["metrics"].items()}
    except (ValueError, KeyError, TypeError, OSError) as exc:
        return None, f"its record {record_path.name} is unreadable ({type(exc).__name__}: {exc})"
    problems = differences(manifest, observe(root, manifest, DigestCache()))
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        return None, "the template differs from its manifest: " + "; ".join(problems[:3]) + more
    return Baseline(
        root,
        fingerprint,
        metrics,
        manifest,
        project.artifacts(root),
        record.get("build_seconds", 0.0),
        cached=True,
        verify_seconds=time.perf_counter() - start,
    ), None


def build_baseline(project: MLProject, store: Path, fingerprint: str) -> Baseline:
    """The baseline under ``store`` (``store/env`` plus a JSON record): the cached one if it verifies, else built.

    Callers hold a lock on ``store`` so that concurrent sessions and xdist workers build it once.
    A cached template is verified against its manifest (stores and registry included) and the
    manifest against its recorded digest; a damaged one is rebuilt and ``rebuilt_because`` says why.
    The environment is built in a sibling temp directory and renamed into place, so an
    interrupted build never leaves a half baseline that a later session would trust.
    """
    cached, why = verify_template(project, store, fingerprint)
    if cached is not None:
        return cached
    if store.exists():
        shutil.rmtree(store)
    building = store.with_name(store.name + ".building")
    if building.exists():
        shutil.rmtree(building)
    building.mkdir(parents=True)
    start = time.perf_counter()
    progress.stage(f"building {project.name}")
    project.build(building / ENV_DIR)
    building.rename(store)
    root = store / ENV_DIR
    project.relocate(root, building / ENV_DIR)
    artifacts = project.artifacts(root)
    progress.stage("evaluating the baseline's metrics")
    metrics = {k: float(v) for k, v in project.evaluate(root).items()}
    progress.stage("taking the manifest (digests of artifacts, stores and registry)")
    manifest = take_manifest(root, artifacts)
    baseline = Baseline(
        root, fingerprint, metrics, manifest, artifacts, time.perf_counter() - start, rebuilt_because=why
    )
    tmp = (store / BASELINE_FILE).with_suffix(".tmp")
    tmp.write_text(json.dumps(baseline.to_json(), indent=1, sort_keys=True))
    tmp.replace(store / BASELINE_FILE)
    return baseline


def clone_tree(src: Path, dst: Path) -> None:
    """Copy an environment: real copies (never hard links), so nothing a test does reaches the template."""
    shutil.copytree(src, dst, symlinks=True)


def git_holds(root: Path, content: Path) -> bool:
    """Whether the git repository at ``root`` holds a blob with exactly the bytes of ``content``."""
    if not (root / ".git").exists() or not content.is_file():
        return False
    import hashlib

    data = content.read_bytes()
    sha = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
    done = subprocess.run(
        ["git", "cat-file", "-e", sha],
        cwd=root,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "GIT_CEILING_DIRECTORIES": str(root.parent)},
    )
    return done.returncode == 0


def describe_change(old: Path, new: Path) -> str:
    """How a file's content changed, in rows for text (``4,750 of 5,000 lines (250 lost)``), else in bytes."""
    if not new.is_file():
        return "missing"
    old_bytes, new_bytes = old.read_bytes(), new.read_bytes()
    if b"\0" not in old_bytes[:8192] and b"\0" not in new_bytes[:8192]:
        before, after = old_bytes.count(b"\n"), new_bytes.count(b"\n")
        if after < before:
            return f"{after:,} of {before:,} lines ({before - after:,} lost)"
        if after > before:
            return f"{after:,} lines instead of {before:,} ({after - before:,} more)"
        return f"{after:,} lines as before, content differs"
    return f"{len(new_bytes):,} bytes instead of {len(old_bytes):,}, content differs"


Observer = Callable[..., None]


@dataclass
class ChaosEnv:
    """One sandboxed environment: a clone of the baseline that a test may break, repair and check.

    ``inject`` applies incidents (confined to ``root``), ``detect``/``recover``/``evaluate``
    ask the project, ``verify`` collects the evidence and has ``judge`` decide, independently
    of the project's own claims. ``policy`` (thresholds, expectation, strict mode, MTTR budget)
    is the run's when the environment comes from the ``ml_env``/``ml_env_factory`` fixtures.
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
    policy: Policy = field(default_factory=Policy)
    digests: DigestCache = field(default_factory=DigestCache)
    failure: Failure | None = None  # what raised in the body, detect(), recover() or evaluate()
    before: Observation | None = None  # the environment as it was when recovery started
    git_copies: frozenset[str] = frozenset()
    # the plugin's own checks of stores outside the root (an S3 bucket): problems found after recovery
    store_checks: list[Callable[[], list[str]]] = field(default_factory=list)
    cut_after: float | None = None  # the MTTR budget at which a recovery that had not returned was cut
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
    def _note_failure(self, where: str, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = Failure.of("containment" if isinstance(exc, EscapeError) else where, exc)

    def detect(self) -> list[str]:
        """Problems the project's own checks find; the first call after injection sets ``time_to_detect``."""
        start = time.perf_counter()
        try:
            problems = list(self.project.detect(self.root))
        except Exception as exc:
            self._note_failure("detect", exc)
            raise
        if self.time_to_detect is None and self._injected_at is not None:
            self.time_to_detect = time.perf_counter() - start
        return problems

    def recover(self) -> RecoveryResult:
        """Run the project's recovery manager on the injected incidents (once; later calls return the result).

        Before it runs, the environment is read (the evidence of what survived the incident) and
        checked for symlinks that lead outside it (``EscapeError``: recovery does not run); after
        it, the same check again.
        """
        if self.recovery is not None:
            return self.recovery
        try:
            check_contained(self.root, "before recovery")
            self.before = observe(self.root, self.baseline.manifest, self.digests)
            self.git_copies = self._git_copies(self.before)
            start = time.perf_counter()
            try:
                result = self._run_recovery()
            finally:
                self.time_to_recover = time.perf_counter() - start
            if not isinstance(result, RecoveryResult):
                raise TypeError(f"{self.project.name}.recover() returned {result!r}, not a RecoveryResult")
            self.recovery = result
            check_contained(self.root, "after recovery")
        except Exception as exc:
            self._note_failure("recover", exc)
            raise
        for observer in self.on_recovered:
            observer(self, result)
        return result

    def _run_recovery(self) -> RecoveryResult:
        """The project's ``recover()``; with an MTTR budget, in a child process cut at the budget."""
        incidents = list(self.incidents)
        budget = self.policy.max_mttr
        if budget is None or not can_cut():
            return self.project.recover(self.root, incidents)
        try:
            return call_with_deadline(lambda: self.project.recover(self.root, incidents), budget)
        except DeadlineExceeded:  # the manager never said anything: nothing recovered, as far as it told
            self.cut_after = budget
            return RecoveryResult(False, None, message=f"cut: it had not returned after the {budget:g}s MTTR budget")

    def evaluate(self) -> dict[str, float]:
        """The project's metrics of this environment as it is now."""
        try:
            return {k: float(v) for k, v in self.project.evaluate(self.root).items()}
        except Exception as exc:
            self._note_failure("evaluate", exc)
            raise

    def observe(self) -> Observation:
        """Digests of everything the baseline manifest covers, read now."""
        return observe(self.root, self.baseline.manifest, self.digests)

    def _git_copies(self, before: Observation) -> frozenset[str]:
        manifest = self.baseline.manifest
        damaged = [rel for rel in manifest.sources if before.files.get(rel) != manifest.files[rel]]
        return frozenset(rel for rel in damaged if git_holds(self.root, self.baseline.root / rel))

    # -- verification -----------------------------------------------------------------
    def verify(
        self,
        thresholds: Thresholds | None = None,
        *,
        expect: str | None = None,
        strict: bool | None = None,
        nodeid: str = "",
    ) -> IncidentOutcome:
        """Recover if nobody has, collect the evidence, and judge it (``judge``) under this env's policy.

        ``thresholds``, ``expect`` and ``strict`` override the policy's for this call (the
        project's metric directions are kept).
        """
        policy = self.policy
        if thresholds is not None:
            d = policy.thresholds.directions
            policy = dataclasses.replace(policy, thresholds=thresholds.with_directions(d.lower, d.higher))
        if expect is not None:
            policy = dataclasses.replace(policy, expect=expect)
        if strict is not None:
            policy = dataclasses.replace(policy, strict=strict)
        self.outcome = judge(self.collect(nodeid), policy)
        return self.outcome

    def collect(self, nodeid: str = "") -> Evidence:
        """Everything the plugin observes of this incident: recovery runs here if the test did not run it."""
        if self.failure is None:
            try:
                self.recover()
            except Exception:
                pass  # recorded in self.failure
        evidence = Evidence(
            nodeid=nodeid,
            incidents=tuple(self.incidents),
            manifest=self.baseline.manifest,
            baseline_metrics=dict(self.baseline.metrics),
            injected=tuple(i.description for i in self.injections),
            recovery=self.recovery,
            before=self.before,
            git_copies=self.git_copies,
            failure=self.failure,
            time_to_detect=self.time_to_detect,
            time_to_recover=self.time_to_recover,
            cut_after=self.cut_after,
        )
        if self.failure is not None:
            return evidence
        outside = [problem for check in self.store_checks for problem in check()]
        after = self.observe()
        evidence = dataclasses.replace(evidence, after=after, changes=self._source_changes(after))
        try:
            problems = list(self.project.detect(self.root))
            check_model = getattr(self.project, "check_model", None)
            model_problem = check_model(self.root) if check_model else None
        except Exception as exc:
            return dataclasses.replace(evidence, failure=Failure.of("detect", exc))
        problems += [f"model: {model_problem}"] if model_problem else []
        problems += outside
        evidence = dataclasses.replace(evidence, problems=tuple(problems))
        if self.recovery is None or not self.recovery.recovered or problems or assess(evidence).blocking:
            return evidence
        start = time.perf_counter()
        scratch = self.root.with_name(self.root.name + ".judging")
        try:
            evaluations, found = judged_evaluations(self.project, self.root, self.baseline, after, scratch)
        except Exception as exc:  # the project cannot evaluate what it "recovered"
            return dataclasses.replace(evidence, failure=Failure.of("evaluate", exc))
        return dataclasses.replace(
            evidence,
            evaluations=tuple(evaluations),
            problems=(*problems, *found),
            time_to_metrics=(self.time_to_recover or 0.0) + time.perf_counter() - start,
        )

    def _source_changes(self, after: Observation) -> dict[str, str]:
        manifest = self.baseline.manifest
        return {
            rel: describe_change(self.baseline.root / rel, self.root / rel)
            for rel in manifest.sources
            if after.files.get(rel) != manifest.files[rel]
        }

    def reset_round(self) -> None:
        """Forget the finished round (incidents, recovery, evidence, outcome) so this environment can go again."""
        self.incidents.clear()
        self.injections.clear()
        self.recovery = self.outcome = self.failure = self.before = None
        self.git_copies = frozenset()
        self.time_to_detect = self.time_to_recover = self._injected_at = None

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
    """Makes fresh clones of the baseline, each in its own directory under ``base``.

    ``policy`` is what their ``verify()`` judges by (the fixture sets the run's).
    """

    def __init__(
        self,
        project: MLProject,
        baseline: Baseline,
        registry: IncidentRegistry,
        base: Path,
        seed: int,
        observers: tuple[Sequence[Observer], Sequence[Observer]] = ((), ()),
        policy: Policy | None = None,
    ) -> None:
        self.project = project
        self.baseline = baseline
        self.registry = registry
        self.base = base
        self.seed = seed
        self.observers = observers
        self.policy = policy or Policy()
        self.trash: Path | None = None  # set it to defer deletions to ``empty_trash`` (the fixture does)
        self._count = 0

    def __call__(
        self, incidents: Iterable[Incident] = (), *, name: str | None = None, seed: int | None = None
    ) -> ChaosEnv:
        """A fresh environment with ``incidents`` already injected. Use it as a context manager to delete it after."""
        self._count += 1
        label = name or f"env{self._count}"
        root = self.base / _safe_name(label)
        n = 1
        while root.exists() or root.with_name(root.name + ".judging").exists():
            n += 1
            root = self.base / f"{_safe_name(label)}-{n}"
        clone_tree(self.baseline.root, root)
        self.project.relocate(root, self.baseline.root)
        env = ChaosEnv(
            root,
            self.project,
            self.baseline,
            self.registry,
            seed=self.seed if seed is None else seed,
            on_injected=list(self.observers[0]),
            on_recovered=list(self.observers[1]),
            trash=self.trash,
            policy=self.policy,
            digests=self._seeded_digests(root),
        )
        try:
            for incident in incidents:
                env.inject(incident)
        except BaseException:
            env.remove()
            raise
        return env

    def _seeded_digests(self, root: Path) -> DigestCache:
        """A digest cache that knows the clone's copies of the verified template (no hashing until one changes)."""
        cache = DigestCache()
        manifest = self.baseline.manifest
        for group in (manifest.files, manifest.stores):
            for rel, digest in group.items():
                cache.seed(root / rel, digest)
        return cache

    def empty_trash(self) -> None:
        """Delete the environments removed so far (called once, at the end of the session)."""
        if self.trash is not None:
            shutil.rmtree(self.trash, ignore_errors=True)


def _safe_name(label: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
    return keep[-60:] or "env"


__all__ = [
    "Baseline",
    "ChaosEnv",
    "EnvFactory",
    "HARNESS_DIR",
    "IncidentError",
    "build_baseline",
    "clone_tree",
    "take_manifest",
    "verify_template",
]
