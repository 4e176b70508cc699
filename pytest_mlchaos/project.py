"""``MLProject``: what a system under test implements so the plugin can build, break and check it."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .artifacts import Artifacts
from .incidents.spec import Incident

__all__ = [
    "Attempt",
    "MLProject",
    "ProjectError",
    "REQUIRED_METHODS",
    "RecoveryResult",
    "ensure_project",
    "load_project",
]


@dataclass(frozen=True)
class Attempt:
    """One recovery strategy tried: its name, whether it worked, how long it took, why it failed."""

    strategy: str
    succeeded: bool
    seconds: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "succeeded": self.succeeded,
            "seconds": round(self.seconds, 6),
            "error": self.error,
        }


@dataclass(frozen=True)
class RecoveryResult:
    """What the system's recovery manager says it did. The plugin checks it independently.

    Only ``recovered`` and ``strategy`` are required: ``RecoveryResult(recovered=True, strategy="noop")``.
    """

    recovered: bool
    strategy: str | None
    attempts: tuple[Attempt, ...] = ()
    seconds: float = 0.0
    message: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "attempts", tuple(self.attempts))

    def to_dict(self) -> dict[str, Any]:
        return {
            "recovered": self.recovered,
            "strategy": self.strategy,
            "attempts": [a.to_dict() for a in self.attempts],
            "seconds": round(self.seconds, 6),
            "message": self.message,
        }


@runtime_checkable
class MLProject(Protocol):
    """The protocol a system under test implements. All paths are environment roots.

    - ``name``: shown in the header and reports.
    - ``fingerprint()``: a string that changes whenever a rebuilt baseline would differ
      (inputs, code version); the cached baseline is keyed by it, together with the installed
      versions of the tools (``pytest_mlchaos.versions.TOOLS``), which it need not include.
    - ``build(root)``: build a complete baseline environment (data, pipeline outputs,
      stores, trained and registered model) into the empty directory ``root``.
    - ``relocate(root, old_root)``: fix up a copy of an environment made from ``old_root``
      (absolute paths in databases, configs). Called after every clone.
    - ``artifacts(root)``: the ``Artifacts`` map of the environment: data, models, stages,
      which files are sources (must come back bit-exact), the holdout, the stores.
    - ``evaluate(root)``: metric name -> value, computed from the environment's files by the
      project's own evaluation code (never read from a metrics file: the plugin deletes those
      before it evaluates a recovery). Higher is better unless the optional attribute
      ``lower_is_better`` (names) or the metric's conventional name (``rmse``, ``loss``, ...)
      says otherwise; an optional ``higher_is_better`` overrides the conventions.
    - ``detect(root)``: human-readable problems found (empty when healthy).
    - ``recover(root, incidents)``: let the system's recovery manager repair the
      environment; returns its own account as a ``RecoveryResult``.
    - ``run_stage(root, stage)``: run one pipeline stage (and mark it done), raising on failure.
    - ``check_model(root)``: None if the served model loads and predicts, else the reason.
    """

    name: str

    def fingerprint(self) -> str: ...

    def build(self, root: Path) -> None: ...

    def relocate(self, root: Path, old_root: Path) -> None: ...

    def artifacts(self, root: Path) -> Artifacts: ...

    def evaluate(self, root: Path) -> Mapping[str, float]: ...

    def detect(self, root: Path) -> Sequence[str]: ...

    def recover(self, root: Path, incidents: Sequence[Incident]) -> RecoveryResult: ...

    def run_stage(self, root: Path, stage: str) -> None: ...

    def check_model(self, root: Path) -> str | None: ...


class ProjectError(Exception):
    """The configured project cannot be loaded or does not implement ``MLProject``."""


REQUIRED_METHODS = ("fingerprint", "build", "relocate", "artifacts", "evaluate", "detect", "recover")


def load_project(spec: str) -> MLProject:
    """Load ``package.module:attr``: an ``MLProject`` instance, a class, or another zero-argument callable
    returning one. Every way this can fail is a ``ProjectError`` naming ``spec``."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ProjectError(f"mlchaos_project = {spec!r} is not of the form package.module:attr")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or whatever the module raises while it is imported
        raise ProjectError(
            f"mlchaos_project = {spec!r}: importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ProjectError(
                f"mlchaos_project = {spec!r}: module {module_name!r} has no attribute {attr!r}"
            ) from None
    if isinstance(obj, type) or (callable(obj) and not _looks_like_project(obj)):
        what = "class" if isinstance(obj, type) else "callable"
        try:
            obj = obj()
        except TypeError as exc:
            raise ProjectError(
                f"mlchaos_project = {spec!r}: the {what} {attr!r} cannot be called without arguments "
                f"({exc}); point the ini key at an instance or a zero-argument factory, or return the "
                "project from the pytest_mlchaos_make_project hook"
            ) from None
        except Exception as exc:
            raise ProjectError(
                f"mlchaos_project = {spec!r}: calling {attr!r} raised {type(exc).__name__}: {exc}"
            ) from None
    return ensure_project(obj, spec)


def _looks_like_project(obj: Any) -> bool:
    return all(callable(getattr(obj, m, None)) for m in REQUIRED_METHODS) and isinstance(
        getattr(obj, "name", None), str
    )


def ensure_project(obj: Any, where: str) -> MLProject:
    if isinstance(obj, type):
        raise ProjectError(f"{where}: {obj.__qualname__} is a class; give an instance of it (an MLProject)")
    missing = [m for m in REQUIRED_METHODS if not callable(getattr(obj, m, None))]
    if not isinstance(getattr(obj, "name", None), str):
        missing.insert(0, "name")
    if missing:
        raise ProjectError(f"{where}: {obj!r} is not an MLProject; missing: {', '.join(missing)}")
    project: MLProject = obj  # every method and a name, checked above
    return project
