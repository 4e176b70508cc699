"""Fault injection, usable without pytest: incident specs, the registry, the built-in injectors.

>>> from pytest_mlchaos.incidents import Incident, builtin_registry
"""

from __future__ import annotations

from .registry import FunctionInjector, IncidentRegistry, InjectionContext, Injector, file_digest
from .spec import ContainmentError, Incident, IncidentError, Injection, Param, derive_seed

__all__ = [
    "ContainmentError",
    "FunctionInjector",
    "Incident",
    "IncidentError",
    "IncidentRegistry",
    "Injection",
    "InjectionContext",
    "Injector",
    "Param",
    "builtin_registry",
    "derive_seed",
    "file_digest",
]


def builtin_registry() -> IncidentRegistry:
    """A new registry holding every built-in injector (data, model, pipeline, storage)."""
    from . import data, model, pipeline, storage

    registry = IncidentRegistry()
    for family in (data, model, pipeline, storage):
        family.register(registry)
    return registry
