"""Fault injection, usable without pytest: incident specs, the registry, the built-in injectors.

>>> from pytest_mlchaos.incidents import Incident, builtin_registry, inject
"""

from __future__ import annotations

from ..digest import file_digest
from .api import inject
from .registry import FunctionInjector, IncidentRegistry, InjectionContext, Injector
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
    "active_registry",
    "builtin_registry",
    "derive_seed",
    "file_digest",
    "inject",
    "set_active_registry",
]

_active: IncidentRegistry | None = None


def builtin_registry() -> IncidentRegistry:
    """A new registry holding every built-in injector (data, model, pipeline, storage, service outages)."""
    from . import data, model, pipeline, service, storage

    registry = IncidentRegistry()
    for family in (data, model, pipeline, storage, service):
        family.register(registry)
    return registry


def active_registry() -> IncidentRegistry:
    """The registry of the running pytest session (built-ins plus plugin-registered kinds), else the built-ins."""
    global _active
    if _active is None:
        _active = builtin_registry()
    return _active


def set_active_registry(registry: IncidentRegistry | None) -> None:
    """Set by the plugin at session start (after ``pytest_mlchaos_register_incidents``); None resets."""
    global _active
    _active = registry
