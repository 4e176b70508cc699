"""Per-run state of the plugin: settings, the incident registry, the project, the baseline, outcomes."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .env import Baseline, build_baseline
from .gate import Thresholds
from .incidents import IncidentRegistry, builtin_registry, set_active_registry
from .judge import Policy
from .outcome import IncidentOutcome
from .project import MLProject, ProjectError, ensure_project, load_project
from .settings import Settings

STORE_DIR = "mlchaos"


def baseline_key(project: MLProject) -> str:
    import hashlib

    from .digest import DIGEST_NAME
    from .versions import pinned

    raw = f"{project.name}\x1f{project.fingerprint()}\x1f{pinned()}\x1f{DIGEST_NAME}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def baseline_store_name(project: MLProject) -> str:
    """The directory of the project's baseline in the store (``<name>-<baseline_key>``); it changes exactly when
    the cached baseline would be rebuilt, so CI caches are keyed by it (``pytest --mlchaos-baseline-key``)."""
    return f"{_slug(project.name)}-{baseline_key(project)}"


@dataclass
class ChaosSession:
    """State shared by the hooks and fixtures of one pytest run (one per xdist worker)."""

    settings: Settings
    register_hook: Callable[[IncidentRegistry], None]
    started: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    started_perf: float = field(default_factory=time.perf_counter)
    outcomes: list[IncidentOutcome] = field(default_factory=list)
    project: MLProject | None = None
    project_source: str = ""
    baseline: Baseline | None = None
    _baseline_of: MLProject | None = None
    _registry: IncidentRegistry | None = None

    @property
    def registry(self) -> IncidentRegistry:
        """Built-in injectors plus those plugins add; built on first use, so loading the plugin stays cheap."""
        if self._registry is None:
            registry = builtin_registry()
            self.register_hook(registry)
            self._registry = registry
            set_active_registry(registry)
        return self._registry

    def close(self) -> None:
        set_active_registry(None)

    @property
    def thresholds(self) -> Thresholds:
        """The run's thresholds with the metric directions the project declares (``lower_is_better``,
        ``higher_is_better``) added to the ini file's and the conventional ones."""
        thresholds = self.settings.thresholds
        if self.project is None:
            return thresholds
        return thresholds.with_directions(
            lower=_names(getattr(self.project, "lower_is_better", ())),
            higher=_names(getattr(self.project, "higher_is_better", ())),
        )

    def policy(self, expect: str = "recovered", max_drop: float | None = None) -> Policy:
        """How this run judges an incident: thresholds (a marker's ``max_drop`` applied), strict mode, MTTR budget."""
        return Policy(self.thresholds.with_fail_drop(max_drop), expect, self.settings.strict, self.settings.max_mttr)

    def gated_metrics(self, baseline: Baseline) -> list[str]:
        """The metric names the run gates on, checked against the baseline (``ThresholdError`` names a bad one)."""
        return self.thresholds.gated(baseline.metrics)

    def resolve_project(self, from_hook: Any) -> MLProject | None:
        """The project from ``pytest_mlchaos_make_project``, else from the ``mlchaos_project`` ini key, else the
        DVC repository pytest runs in (zero configuration)."""
        if self.project is not None:
            return self.project
        if from_hook is not None:
            self.project = ensure_project(from_hook, "pytest_mlchaos_make_project")
            self.project_source = f"hook:{type(from_hook).__module__}.{type(from_hook).__qualname__}"
        elif self.settings.project_spec:
            self.project = load_project(self.settings.project_spec)
            self.project_source = self.settings.project_spec
        elif self.settings.discovery:
            from .dvc_project.discover import discover

            found = discover(self.settings.discovery)
            if found is not None:
                self.project, self.project_source = found
        return self.project

    def get_baseline(self, project: MLProject, store_root: Path) -> Baseline:
        """The baseline of ``project``, built once across sessions and xdist workers (file lock), else cached."""
        from filelock import FileLock

        if self.baseline is not None and self._baseline_of is project and self.baseline.root.is_relative_to(store_root):
            return self.baseline
        store_root.mkdir(parents=True, exist_ok=True)
        key = baseline_key(project)
        store = store_root / baseline_store_name(project)
        with FileLock(str(store) + ".lock"):
            baseline = build_baseline(project, store, key)
        _prune_stale(store_root, project.name, keep=store)
        self.baseline, self._baseline_of = baseline, project
        return baseline


def _names(value: object) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, Iterable):
        return frozenset(str(v) for v in value)
    return frozenset()


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "project"


def _prune_stale(store_root: Path, name: str, keep: Path) -> None:
    """Remove baselines of older fingerprints of the same project (only those nobody holds a lock on)."""
    from filelock import FileLock, Timeout

    for other in store_root.glob(f"{_slug(name)}-*"):
        if other == keep or other.suffix in (".lock", ".building") or not other.is_dir():
            continue
        try:
            with FileLock(str(other) + ".lock", timeout=0):
                shutil.rmtree(other, ignore_errors=True)
            Path(str(other) + ".lock").unlink(missing_ok=True)
        except Timeout:
            continue


__all__ = ["ChaosSession", "ProjectError", "baseline_key"]
