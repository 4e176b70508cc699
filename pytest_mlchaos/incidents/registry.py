"""Injectors and the registry that maps (kind, mode) to them, with validation of incident specs."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..artifacts import Artifacts
from ..digest import file_digest
from .spec import Incident, IncidentError, Injection, Param, relpath_within

__all__ = ["FunctionInjector", "IncidentRegistry", "InjectionContext", "Injector"]


@dataclass
class InjectionContext:
    """Everything an injector may use: the root it is confined to, the artifact map, a seeded RNG.

    ``run_stage`` (when the project supports it) runs one pipeline stage in this
    environment; pipeline injectors use it to make a stage fail for real.
    """

    root: Path
    artifacts: Artifacts
    rng: random.Random
    run_stage: Callable[[str], None] | None = None
    dry_run: bool = False

    def path(self, rel: str | Path) -> Path:
        """The absolute path of ``rel``, refusing (ContainmentError) anything outside the root."""
        return Path(self.root).resolve() / relpath_within(self.root, rel)

    def rel(self, path: str | Path) -> str:
        return relpath_within(self.root, path)


class Injector:
    """Base class of an incident injector: one (kind, mode), a parameter schema, a one-line docstring.

    Subclasses set ``kind``, ``mode`` and ``params``, and implement ``targets`` (what
    would be touched, for dry runs and containment checks) and ``apply`` (the damage).
    ``inject`` wraps them: it resolves and contains targets, then records digests.
    """

    kind: str
    mode: str
    params: tuple[Param, ...] = ()
    default_target: ClassVar[str | None] = None  # role or path used when the incident names none
    formats: ClassVar[str] = ""  # which files it works on, for the catalogue (empty: not file-specific)
    # services the environment must be attached to (service outages); strategies draw these only when named
    requires_services: ClassVar[tuple[str, ...]] = ()

    def summary(self) -> str:
        doc = (type(self).__doc__ or "").strip()
        return doc.splitlines()[0].strip() if doc else ""

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        """Relative paths this incident would touch (default: the target role's files)."""
        name = incident.target or self.default_target
        if name is None:
            return []
        paths = ctx.artifacts.role_paths(name)
        return list(paths) if paths else [name]

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        """Damage ``targets`` (already contained); return a one-line description of what was done."""
        raise NotImplementedError

    def inject(self, ctx: InjectionContext, incident: Incident) -> Injection:
        rels = [ctx.rel(t) for t in self.targets(ctx, incident)]
        paths = [ctx.path(r) for r in rels]
        if ctx.dry_run:
            return Injection(
                incident, tuple(rels), f"would {self.summary()[:1].lower() + self.summary()[1:]}", dry_run=True
            )
        description = self.apply(ctx, incident, paths)
        digests = tuple((r, file_digest(p)) for r, p in zip(rels, paths) if p.is_file())
        return Injection(incident, tuple(rels), description, damaged_digests=digests)


class FunctionInjector(Injector):
    """Adapts a plain function ``fn(ctx, incident, targets) -> str`` to the Injector interface."""

    def __init__(
        self,
        kind: str,
        mode: str,
        fn: Callable[..., str],
        params: Iterable[Param],
        doc: str,
        targets: Callable[[InjectionContext, Incident], list[str]] | str | None = None,
    ) -> None:
        self.kind = kind
        self.mode = mode
        self.params = tuple(params)
        self._fn = fn
        self._doc = doc or (fn.__doc__ or "").strip()
        self._targets = targets

    def summary(self) -> str:
        return self._doc.splitlines()[0].strip() if self._doc else ""

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        if callable(self._targets):
            return list(self._targets(ctx, incident))
        if isinstance(self._targets, str) and incident.target is None:
            return list(ctx.artifacts.role_paths(self._targets)) or [self._targets]
        return super().targets(ctx, incident)

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        return self._fn(ctx, incident, targets)


@dataclass
class IncidentRegistry:
    """All known injectors, keyed by kind then mode; the first mode registered for a kind is its default."""

    _kinds: dict[str, dict[str, Injector]] = field(default_factory=dict)

    def register(self, injector: Injector | type[Injector]) -> Injector:
        inst = injector() if isinstance(injector, type) else injector
        for attr in ("kind", "mode"):
            value = getattr(inst, attr, None)
            if not isinstance(value, str) or not value.isidentifier():
                raise IncidentError(f"injector {inst!r} needs a {attr} that is an identifier, got {value!r}")
        modes = self._kinds.setdefault(inst.kind, {})
        if inst.mode in modes:
            raise IncidentError(f"incident {inst.kind}/{inst.mode} is already registered by {modes[inst.mode]!r}")
        modes[inst.mode] = inst
        return inst

    def register_function(
        self,
        kind: str,
        mode: str,
        fn: Callable[..., str],
        *,
        params: Iterable[Param] = (),
        doc: str = "",
        targets: Callable[..., list[str]] | str | None = None,
    ) -> Injector:
        """Register a function ``fn(ctx, incident, targets) -> description`` as an injector."""
        return self.register(FunctionInjector(kind, mode, fn, params, doc, targets))

    def kinds(self) -> list[str]:
        return list(self._kinds)

    def modes(self, kind: str) -> list[str]:
        return list(self._kinds.get(kind, {}))

    def __iter__(self) -> Iterator[Injector]:
        for modes in self._kinds.values():
            yield from modes.values()

    def __contains__(self, kind: str) -> bool:
        return kind in self._kinds

    def get(self, kind: str, mode: str | None = None) -> Injector:
        if kind not in self._kinds:
            raise IncidentError(f"unknown incident kind {kind!r}; known kinds: {', '.join(sorted(self._kinds))}")
        modes = self._kinds[kind]
        if mode is None:
            return next(iter(modes.values()))
        if mode not in modes:
            raise IncidentError(f"unknown mode {mode!r} for incident {kind!r}; allowed modes: {', '.join(modes)}")
        return modes[mode]

    def validate(self, incident: Incident, available: Mapping[str, Iterable[Any]] | None = None) -> Incident:
        """The incident with mode and defaults filled in, or IncidentError naming what is wrong and what is allowed."""
        injector = self.get(incident.kind, incident.mode)
        where = f"incident {incident.kind}/{injector.mode}"
        schema = {p.name: p for p in injector.params}
        given = incident.param_dict
        unknown = sorted(set(given) - set(schema))
        if unknown:
            allowed = ", ".join(schema) or "none"
            raise IncidentError(f"{where}: unknown parameter(s) {', '.join(unknown)}; allowed: {allowed}")
        resolved: dict[str, Any] = {}
        for name, param in schema.items():
            if name in given:
                resolved[name] = param.check(given[name], where, available)
            elif param.required:
                raise IncidentError(
                    f"{where}: parameter {name} is required ({param.type_name()}, {param.describe_range()})"
                )
            elif param.default is not None:
                resolved[name] = param.default
        return Incident(incident.kind, injector.mode, resolved, incident.target, incident.seed)

    def copy(self) -> IncidentRegistry:
        return IncidentRegistry({k: dict(v) for k, v in self._kinds.items()})
