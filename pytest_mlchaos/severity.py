"""Severity search: the smallest severity at which a recovery stops keeping the metrics within thresholds.

>>> result = find_breaking_severity(ml_env_factory, Incident("data_corruption", "missing_values", seed=1))
>>> print(result)   # e.g. "data_corruption/missing_values breaks at fraction=0.4375 (critical); holds at 0.4297"

Bisection over the incident's ``Param(severity=True)`` (or ``param=``), one fresh
environment per probe, the incident's seed fixed so that only the severity changes.

It assumes monotonicity: if recovery fails at severity ``s`` it fails at every higher
severity. Injectors that pick nested sets (the rows hit at a lower fraction are a subset
of those hit at a higher one, for the same seed) make that hold for the damage; the
recovery and the metrics may still be noisy near the boundary. When the assumption does
not hold, the result is still a severity that breaks next to one that holds, within
``tolerance``, but not necessarily the smallest that breaks: every probe is in
``verdicts`` to check.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from .env import ChaosEnv
from .gate import Thresholds, Verdict
from .incidents.spec import Incident, IncidentError, Param, derive_seed

__all__ = ["SeverityResult", "find_breaking_severity"]


@dataclass(frozen=True)
class SeverityResult:
    """What the search found: the breaking value (None: it held up to ``high``) and every probe's verdict."""

    incident: Incident
    param: str
    low: float
    high: float
    tolerance: float
    breaking: float | None
    holding: float | None  # the highest severity seen to hold below ``breaking``
    verdicts: tuple[tuple[float, Verdict], ...]

    @property
    def breaking_incident(self) -> Incident | None:
        """The incident at the breaking severity (its marker line replays it)."""
        if self.breaking is None:
            return None
        return self.incident.replace(params={**self.incident.param_dict, self.param: self.breaking})

    def __str__(self) -> str:
        name = self.incident.label()
        if self.breaking is None:
            return f"{name}: recovery held up to {self.param}={self.high} ({len(self.verdicts)} probes)"
        verdict = dict(self.verdicts)[self.breaking].value
        held = f"; holds at {self.holding}" if self.holding is not None else "; breaks already at the lowest severity"
        return f"{name} breaks at {self.param}={self.breaking} ({verdict}){held}"


def _severity_param(schema: tuple[Param, ...], param: str | None, where: str) -> Param:
    by_name = {p.name: p for p in schema}
    if param is not None:
        if param not in by_name:
            raise IncidentError(
                f"{where}: param={param!r} is not one of its parameters: {', '.join(by_name) or 'none'}"
            )
        chosen = by_name[param]
    else:
        severity = [p for p in schema if p.severity]
        if len(severity) != 1:
            names = ", ".join(p.name for p in severity) or "none"
            raise IncidentError(f"{where}: pass param= to choose the parameter to search; severity parameters: {names}")
        chosen = severity[0]
    if chosen.type not in (int, float) or chosen.choices is not None:
        raise IncidentError(f"{where}: parameter {chosen.name} is {chosen.type_name()}, not a numeric range to search")
    return chosen


def _bounds(p: Param, low: float | None, high: float | None, tolerance: float, where: str) -> tuple[float, float]:
    step = 1 if p.type is int else tolerance
    lo = low if low is not None else p.low
    hi = high if high is not None else p.high
    if lo is None or hi is None:
        raise IncidentError(
            f"{where}: parameter {p.name} has range {p.describe_range() or 'unbounded'}; pass low= and high="
        )
    if low is None and p.low_open:
        lo = lo + step
    if high is None and p.high_open:
        hi = hi - step
    if p.type is int:
        lo, hi = math.ceil(lo), math.floor(hi)
    if not lo < hi:
        raise IncidentError(f"{where}: low={lo!r} must be below high={hi!r}")
    return lo, hi


def find_breaking_severity(
    make_env: Callable[[], ChaosEnv],
    incident: Incident,
    *,
    param: str | None = None,
    thresholds: Thresholds | None = None,
    low: float | None = None,
    high: float | None = None,
    tolerance: float = 0.01,
    strict: bool = False,
) -> SeverityResult:
    """Bisect ``incident``'s severity parameter for the smallest value at which the verdict stops passing.

    - ``make_env``: returns a fresh ``ChaosEnv`` (``ml_env_factory`` or an ``EnvFactory``);
      each probe uses one and removes it.
    - ``param``: the parameter to search (default: the incident's one ``severity=True`` param).
    - ``low``/``high``: the range (default: the parameter's bounds, open ends stepped in).
    - ``tolerance``: stop when the holding and breaking values are this close (absolute, in
      the parameter's unit; integers stop at 1).
    - ``strict``: count ``degraded`` as breaking (by default it passes, as in the plugin).
    """
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance > 0:
        raise IncidentError(f"tolerance={tolerance!r} must be a positive number")
    if not callable(make_env):
        raise IncidentError(f"make_env={make_env!r} is not callable; pass ml_env_factory or an EnvFactory")
    probes: list[tuple[float, Verdict]] = []
    seed = incident.seed if incident.seed is not None else derive_seed("severity", incident.to_json())
    incident = incident.replace(seed=seed)
    p: Param

    def breaks(value: float) -> bool:
        with make_env() as env:
            env.inject(incident.replace(params={**incident.param_dict, p.name: value}))
            verdict = env.verify(thresholds).verdict
        probes.append((value, verdict))
        return not verdict.passed or (strict and verdict is Verdict.DEGRADED)

    with make_env() as env:  # one environment to read the schema from, and to validate the incident early
        injector = env.registry.get(incident.kind, incident.mode)
        where = f"incident {incident.kind}/{injector.mode}"
        p = _severity_param(injector.params, param, where)
        lo, hi = _bounds(p, low, high, tolerance, where)
        env.prepare(incident.replace(params={**incident.param_dict, p.name: p.type(hi)}))
        env.prepare(incident.replace(params={**incident.param_dict, p.name: p.type(lo)}))
    step = max(1, math.ceil(tolerance)) if p.type is int else tolerance

    def result(breaking: float | None, holding: float | None) -> SeverityResult:
        return SeverityResult(incident, p.name, lo, hi, tolerance, breaking, holding, tuple(probes))

    lo, hi = p.type(lo), p.type(hi)
    n = math.ceil((hi - lo) / step)

    def value(k: int) -> float:  # a grid of ``step`` from ``lo``, so reported values are round numbers
        return hi if k >= n else cast(float, p.type(round(lo + k * step, 12)))  # an int parameter stays an int

    if not breaks(hi):
        return result(None, hi)
    if breaks(lo):
        return result(lo, None)
    holding, breaking = 0, n
    while breaking - holding > 1:
        mid = (holding + breaking) // 2
        if breaks(value(mid)):
            breaking = mid
        else:
            holding = mid
    return result(value(breaking), value(holding))
