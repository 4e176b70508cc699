"""Fault injection without pytest: break a copy of a real project on purpose (a game day).

>>> from pytest_mlchaos.incidents import Incident, inject
>>> inject("/tmp/copy", Incident("data_corruption", mode="truncate", seed=1), artifacts=arts)  # doctest: +SKIP
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from ..artifacts import Artifacts
from .registry import IncidentRegistry, InjectionContext
from .spec import Incident, IncidentError, Injection

__all__ = ["inject"]


def inject(
    root: str | Path,
    incident: Incident,
    *,
    artifacts: Artifacts,
    registry: IncidentRegistry | None = None,
    dry_run: bool = False,
    run_stage: Callable[[str], None] | None = None,
) -> Injection:
    """Validate ``incident`` and apply it to the environment at ``root``; return what was done.

    Validation (kind, mode, parameter types and ranges, stage names) uses ``registry``
    (default: the built-in injectors) against ``artifacts.available()``. Every random choice
    comes from ``random.Random(incident.seed or 0)``. Targets outside ``root`` are refused
    (ContainmentError) before anything is touched. ``dry_run=True`` returns the paths that
    would be touched and touches nothing. ``run_stage(stage)`` runs one pipeline stage in
    this environment (needed by the ``crash``, ``hang`` and ``disk_full`` pipeline failures).
    """
    if not isinstance(incident, Incident):
        raise IncidentError(f"inject() needs an Incident, got {type(incident).__name__}: {incident!r}")
    base = Path(root)
    if not base.is_dir():
        raise IncidentError(f"environment root {str(root)!r} is not a directory")
    if registry is None:
        from . import builtin_registry

        registry = builtin_registry()
    validated = registry.validate(incident, artifacts.available())
    injector = registry.get(validated.kind, validated.mode)
    ctx = InjectionContext(
        root=base.resolve(),
        artifacts=artifacts,
        rng=random.Random(validated.seed if validated.seed is not None else 0),
        run_stage=run_stage,
        dry_run=dry_run,
    )
    return injector.inject(ctx, validated)
