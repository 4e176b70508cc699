"""Hypothesis strategies for incidents and incident sequences, drawn from an incident registry.

>>> from hypothesis import given
>>> from pytest_mlchaos.strategies import incident_sequences
>>> @given(incident_sequences(kinds=["data_corruption", "model_loss"], max_severity=0.5))
... def test_recovers(ml_env_factory, incidents): ...

Every incident is valid for the registry and fully parameterised (each parameter drawn
from its schema, seed included), so a failing example replays exactly. Shrinking goes
towards fewer incidents, then fewer drawn parameters, earlier-registered (simpler) kinds
and modes, lower severity, seed 0.
The marker lines that replay a falsifying example are attached with ``hypothesis.note``.
Importing this module registers the ``mlchaos-dev``/``mlchaos-ci`` settings profiles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from . import profiles as _profiles  # noqa: F401  (registers the settings profiles)
from .incidents import Incident, IncidentError, IncidentRegistry, Injector, Param, active_registry

__all__ = ["StrategyError", "incident_sequences", "incidents", "note_replay", "replay_lines"]

SEED_MAX = 2**32 - 1
_STEPS = 10_000  # grid of float parameters: value = low + (high - low) * k / _STEPS, k shrinks to its minimum
_OPEN_END_INT, _OPEN_END_FLOAT = 10, 1.0  # an open-ended severity is drawn this far past its bound (or 2x its default)


class StrategyError(InvalidArgument, IncidentError):
    """A strategy argument that cannot produce anything; raised when the strategy is made, naming the argument."""


class _UnknownName(StrategyError):
    """A kind or mode the registry does not know (yet: plugins register theirs when the session starts)."""


# -- replay ----------------------------------------------------------------------------


def replay_lines(incidents: Iterable[Incident], *, test_name: str = "test_replay") -> str:
    """The scenario that replays ``incidents``: one ``@pytest.mark.incident(...)`` line each, seeds included."""
    items = list(incidents)
    if not items:
        return "mlchaos replay: no incidents"
    lines = ["mlchaos replay (run with pytest --mlchaos):"]
    lines += [incident.marker_line() for incident in items]
    lines += [f"def {test_name}(ml_env):", "    ..."]
    return "\n".join(lines)


def note_replay(incidents: Iterable[Incident]) -> None:
    """``hypothesis.note`` the replay lines, so they print with the falsifying example (no-op outside a test)."""
    try:
        note(replay_lines(incidents))
    except InvalidArgument:  # not inside a Hypothesis test case
        pass


def _noted_one(incident: Incident) -> Incident:
    note_replay([incident])
    return incident


def _noted_many(incidents: list[Incident]) -> list[Incident]:
    note_replay(incidents)
    return incidents


# -- argument validation -----------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    kinds: tuple[str, ...] | None
    modes: tuple[str, ...] | Mapping[str, tuple[str, ...]] | None
    max_severity: float
    targets: tuple[str | None, ...] | Mapping[str, tuple[str | None, ...]] | None
    available: Mapping[str, tuple[Any, ...]] | None


def _names(arg: str, value: Any, what: str) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else value
    try:
        items = tuple(items)
    except TypeError:
        raise StrategyError(f"{arg}={value!r} must be a {what} name or a list of them") from None
    if not items:
        raise StrategyError(f"{arg}={value!r} is empty: it cannot produce any incident; give at least one {what}")
    for item in items:
        if not isinstance(item, str):
            raise StrategyError(f"{arg}: {item!r} is not a {what} name (a string)")
    return items


def _check_severity(max_severity: Any) -> float:
    if isinstance(max_severity, bool) or not isinstance(max_severity, (int, float)) or math.isnan(max_severity):
        raise StrategyError(
            f"max_severity={max_severity!r} must be a number in (0, 1], the fraction of each severity range to use"
        )
    if not 0.0 < max_severity <= 1.0:
        raise StrategyError(
            f"max_severity={max_severity!r} is outside (0, 1]; use e.g. 0.5 for the milder half of each severity range"
        )
    return float(max_severity)


def _check_targets(targets: Any) -> tuple[str | None, ...] | Mapping[str, tuple[str | None, ...]] | None:
    if targets is None:
        return None

    def one(arg: str, value: Any) -> tuple[str | None, ...]:
        items = (value,) if isinstance(value, str) else tuple(value)
        if not items:
            raise StrategyError(
                f"{arg}={value!r} is empty; give at least one target path or role (None for the default)"
            )
        for item in items:
            if item is not None and not isinstance(item, str):
                raise StrategyError(f"{arg}: {item!r} is not a target path or role (a string, or None for the default)")
        return items

    if isinstance(targets, Mapping):
        return {kind: one(f"targets[{kind!r}]", value) for kind, value in targets.items()}
    return one("targets", targets)


def _check_available(available: Any) -> Mapping[str, tuple[Any, ...]] | None:
    if available is None:
        return None
    if not isinstance(available, Mapping):
        raise StrategyError(f"available={available!r} must be a mapping such as env.artifacts.available()")
    return {name: tuple(values) for name, values in available.items()}


def _resolve_registry(registry: Any) -> IncidentRegistry:
    if registry is None:
        registry = active_registry()
    if not isinstance(registry, IncidentRegistry):
        raise StrategyError(
            f"registry={registry!r} is not an IncidentRegistry (leave it None for the session's registry)"
        )
    if not registry.kinds():
        raise StrategyError("registry has no incident kinds registered; nothing to generate")
    return registry


def _select(registry: IncidentRegistry, options: _Options) -> list[tuple[str, Injector, bool]]:
    """(kind, injector, named explicitly) for every (kind, mode) the options allow, in registration order."""
    known = registry.kinds()
    if options.kinds is not None:
        for kind in options.kinds:
            if kind not in known:
                raise _UnknownName(f"kinds: unknown incident kind {kind!r}; known kinds: {', '.join(known)}")
    modes = options.modes
    if isinstance(modes, Mapping):
        for kind, kind_modes in modes.items():
            if kind not in known:
                raise _UnknownName(f"modes: unknown incident kind {kind!r}; known kinds: {', '.join(known)}")
            if options.kinds is not None and kind not in options.kinds:
                raise StrategyError(f"modes names kind {kind!r}, which kinds={list(options.kinds)!r} leaves out")
            for mode in kind_modes:
                if mode not in registry.modes(kind):
                    raise _UnknownName(
                        f"modes: unknown mode {mode!r} for incident {kind!r}; allowed modes: "
                        f"{', '.join(registry.modes(kind))}"
                    )
    if options.kinds is None and not isinstance(modes, Mapping):  # kinds needing services only when named
        known = [k for k in known if not all(i.requires_services for i in registry if i.kind == k)]
    kinds = list(options.kinds) if options.kinds is not None else (list(modes) if isinstance(modes, Mapping) else known)
    if modes is not None and not isinstance(modes, Mapping):
        allowed = {m for kind in kinds for m in registry.modes(kind)}
        for mode in modes:
            if mode not in allowed:
                listed = ", ".join(f"{k}: {', '.join(registry.modes(k))}" for k in kinds)
                raise _UnknownName(
                    f"modes: unknown mode {mode!r} for kinds {', '.join(kinds)}; allowed modes ({listed})"
                )
    selected = []
    for kind in kinds:
        wanted = modes.get(kind) if isinstance(modes, Mapping) else modes
        for mode in registry.modes(kind):
            if wanted is None or mode in wanted:
                selected.append((kind, registry.get(kind, mode), wanted is not None))
    return selected


# -- drawing parameters ------------------------------------------------------------------


class _Skip(Exception):
    """This (kind, mode) needs something the caller did not give (e.g. ``available["stages"]``)."""


def _span(p: Param, minimum: float) -> float:
    """How far to draw past an open end: twice the default, at least ``minimum``."""
    default = p.default if isinstance(p.default, (int, float)) and not isinstance(p.default, bool) else 0
    return max(minimum, 2 * abs(default))


def _int_bounds(p: Param) -> tuple[int, int]:
    lo = (
        None
        if p.low is None
        else (math.floor(p.low) + 1 if p.low_open and float(p.low).is_integer() else math.ceil(p.low))
    )
    hi = (
        None
        if p.high is None
        else (math.ceil(p.high) - 1 if p.high_open and float(p.high).is_integer() else math.floor(p.high))
    )
    span = int(_span(p, _OPEN_END_INT))
    if lo is None:
        lo = 0 if hi is None or hi >= span else hi - span
    if hi is None:
        hi = lo + span
    return lo, hi


def _float_bounds(p: Param) -> tuple[float, float]:
    span = float(_span(p, _OPEN_END_FLOAT))
    lo = float(p.low) if p.low is not None else (0.0 if p.high is None or p.high >= span else p.high - span)
    hi = float(p.high) if p.high is not None else lo + span
    return lo, hi


def _grid_value(lo: float, hi: float, k: int, p: Param) -> float:
    value = lo + (hi - lo) * k / _STEPS
    tidy = round(value, 12)
    try:
        checked: float = p.check(tidy, "strategy")
    except IncidentError:
        return value
    return checked


def _param_strategy(
    p: Param, max_severity: float, available: Mapping[str, tuple[Any, ...]] | None, where: str
) -> SearchStrategy[Any] | None:
    """How to draw ``p``; None leaves it to its default; _Skip when it needs a list nobody gave."""
    cap = max_severity if p.severity else 1.0
    if p.choices is not None:
        choices = list(p.choices)
        if p.severity:
            choices = choices[: max(1, math.ceil(len(choices) * cap))]
        return _pick(choices)
    if p.choices_from is not None:
        values = (available or {}).get(p.choices_from)
        if values:
            return _pick(values)
        if p.required:
            raise _Skip(
                f"{where} needs available[{p.choices_from!r}] to draw its parameter {p.name} "
                f"(pass available=env.artifacts.available())"
            )
        return None
    if p.type is bool:
        return st.booleans()
    if p.type in (int, float) and (p.low is None or p.high is None) and not (p.severity or p.required):
        return None  # an open-ended knob that is not the severity: keep its default rather than guess a scale
    if p.type is int:
        lo, hi = _int_bounds(p)
        if hi < lo:
            raise StrategyError(f"{where}: parameter {p.name} has an empty range {p.describe_range()}")
        top = lo + math.floor((hi - lo) * cap) if p.severity else hi
        return st.integers(min_value=lo, max_value=max(lo, top))
    if p.type is float:
        flo, fhi = _float_bounds(p)
        if fhi < flo or (fhi == flo and (p.low_open or p.high_open)):
            raise StrategyError(f"{where}: parameter {p.name} has an empty range {p.describe_range()}")
        k_min = 1 if p.low_open else 0
        k_max = math.floor(_STEPS * cap) if p.severity else _STEPS
        if p.high_open and k_max == _STEPS:
            k_max -= 1
        k_max = max(k_min, k_max)
        return st.integers(min_value=k_min, max_value=k_max).map(lambda k: _grid_value(flo, fhi, k, p))
    if p.default is not None:
        return None
    if p.required:
        raise _Skip(
            f"{where} has a required {p.type_name()} parameter {p.name} with no choices, bounds or default to draw from"
        )
    return None


def _pick(values: Sequence[Any]) -> SearchStrategy[Any]:
    """One of ``values``, shrinking to the first; no choice at all for a single value."""
    values = list(values)
    if len(values) == 1:
        return st.just(values[0])
    return st.integers(min_value=0, max_value=len(values) - 1).map(values.__getitem__)


def _targets_for(kind: str, targets: Any) -> SearchStrategy[str | None]:
    return _pick(targets.get(kind, (None,)) if isinstance(targets, Mapping) else (targets or (None,)))


def _param_strategies(injector: Injector, kind: str, options: _Options) -> list[tuple[str, SearchStrategy[Any]]]:
    where = f"incident {kind}/{injector.mode}"
    drawn = []
    for p in injector.params:
        strategy = _param_strategy(p, options.max_severity, options.available, where)
        if strategy is not None:
            drawn.append((p.name, strategy))
    return drawn


def _branch(
    registry: IncidentRegistry,
    kind: str,
    injector: Injector,
    drawn: list[tuple[str, SearchStrategy[Any]]],
    options: _Options,
) -> SearchStrategy[Incident]:
    """One (kind, mode): its parameters, then target and seed, as few choices as possible.

    Hypothesis deletes an incident from a sequence by deleting its choices, at most five in
    a row: so nothing is drawn that has a single possible value, and nothing is padded.
    """
    names = [name for name, _ in drawn]
    available = options.available
    parts = st.tuples(
        st.tuples(*(s for _, s in drawn)),
        _targets_for(kind, options.targets),
        st.integers(min_value=0, max_value=SEED_MAX),
    )

    @st.composite
    def incident(draw: Callable[[SearchStrategy[Any]], Any]) -> Incident:
        # Built inside a composite, so a falsifying example prints as Incident(...), not as a call of a helper.
        values, target, seed = draw(parts)
        return registry.validate(Incident(kind, injector.mode, dict(zip(names, values)), target, seed), available)

    return incident()


def _build(registry: IncidentRegistry, options: _Options) -> SearchStrategy[Incident]:
    selected = _select(registry, options)
    if isinstance(options.targets, Mapping):
        chosen = {kind for kind, _, _ in selected}
        for kind in options.targets:
            if kind not in chosen:
                raise StrategyError(
                    f"targets names kind {kind!r}, which is not among the kinds generated: {', '.join(sorted(chosen))}"
                )
    parts, skipped = [], []
    for kind, injector, explicit in selected:
        try:
            parts.append((kind, injector, _param_strategies(injector, kind, options)))
        except _Skip as why:
            if explicit:
                raise StrategyError(f"available: {why}") from None
            skipped.append(str(why))
    if not parts:
        raise StrategyError("available: no incident can be generated; " + "; ".join(skipped))
    return st.one_of(*(_branch(registry, kind, injector, drawn, options) for kind, injector, drawn in parts))


def _options(kinds: Any, modes: Any, max_severity: Any, targets: Any, available: Any) -> _Options:
    if modes is not None and isinstance(modes, Mapping):
        if not modes:
            raise StrategyError("modes={} is empty: it cannot produce any incident; map a kind to its modes")
        modes = {kind: _names(f"modes[{kind!r}]", value, "mode") for kind, value in modes.items()}
    elif modes is not None:
        modes = _names("modes", modes, "mode")
    return _Options(
        kinds=None if kinds is None else _names("kinds", kinds, "incident kind"),
        modes=modes,
        max_severity=_check_severity(max_severity),
        targets=_check_targets(targets),
        available=_check_available(available),
    )


def _incident_strategy(
    *,
    kinds: Any = None,
    modes: Any = None,
    max_severity: Any = 1.0,
    registry: Any = None,
    targets: Any = None,
    available: Any = None,
) -> SearchStrategy[Incident]:
    options = _options(kinds, modes, max_severity, targets, available)
    if registry is not None:
        return _build(_resolve_registry(registry), options)  # eager: bad arguments raise here
    try:
        _build(_resolve_registry(None), options)  # eager too, against the registry active now
    except _UnknownName:
        # A test module may be imported before the session's registry (with the kinds plugins add
        # through pytest_mlchaos_register_incidents) is active: names are checked again at the first draw.
        pass
    return st.deferred(lambda: _build(_resolve_registry(None), options))


# -- public strategies -----------------------------------------------------------------


def incidents(
    *,
    kinds: str | Sequence[str] | None = None,
    modes: str | Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    max_severity: float = 1.0,
    registry: IncidentRegistry | None = None,
    targets: Sequence[str | None] | Mapping[str, Sequence[str | None]] | None = None,
    available: Mapping[str, Sequence[Any]] | None = None,
) -> SearchStrategy[Incident]:
    """Valid, fully parameterised incidents from ``registry`` (default: the session's active registry).

    - ``kinds``: kinds to draw from (default all); ``modes``: a list of mode names (each
      must belong to one of the kinds) or a mapping ``{kind: [modes]}``.
    - ``max_severity``: in (0, 1]; each ``Param(severity=True)`` is drawn from that
      fraction of its range, from its low end.
    - ``targets``: target paths or roles to draw (``None`` = the injector's default),
      for every kind or as ``{kind: [targets]}``.
    - Parameters are drawn from their schema: choices (first ones first), bounded
      numbers (low end first), booleans. An open-ended number is drawn only when it is the
      severity (up to twice its default past its bound, at least 10, or 1.0 for floats);
      otherwise it, and a string without choices, keeps its default.
    - ``available``: the lists ``choices_from`` parameters draw from, e.g.
      ``env.artifacts.available()``. A (kind, mode) whose required parameter needs a list
      not given is skipped, or raises when its mode was named in ``modes``.

    Arguments are checked now; a bad one raises ``StrategyError`` naming it. (With
    ``registry=None``, a kind or mode the active registry does not know yet is checked
    again at the first draw: a test module may be imported before the session's registry,
    with the kinds plugins register, is active.)
    """
    return _incident_strategy(
        kinds=kinds, modes=modes, max_severity=max_severity, registry=registry, targets=targets, available=available
    ).map(_noted_one)


def incident_sequences(
    *, min_size: int = 1, max_size: int = 3, **incident_kwargs: Any
) -> SearchStrategy[list[Incident]]:
    """Lists of ``min_size`` to ``max_size`` incidents (a compound incident), drawn as in ``incidents()``.

    Shrinks towards fewer incidents. ``incident_kwargs`` are ``incidents()``'s arguments.
    """
    for name, value in (("min_size", min_size), ("max_size", max_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise StrategyError(f"{name}={value!r} must be a non-negative integer")
    if min_size > max_size:
        raise StrategyError(f"min_size={min_size} is larger than max_size={max_size}")
    unknown = sorted(set(incident_kwargs) - {"kinds", "modes", "max_severity", "registry", "targets", "available"})
    if unknown:
        raise StrategyError(
            f"unknown argument(s) {', '.join(unknown)}; allowed: kinds, modes, max_severity, registry, "
            "targets, available, min_size, max_size"
        )
    inner = _incident_strategy(**incident_kwargs)
    return st.lists(inner, min_size=min_size, max_size=max_size).map(_noted_many)
