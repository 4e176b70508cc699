"""The ``incident`` marker: its documented signature, and parsing marks into incident specs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .gate import EXPECTATIONS, ThresholdError, parse_fraction
from .incidents.registry import IncidentRegistry
from .incidents.spec import Incident, IncidentError, derive_seed

__all__ = ["IncidentPlan", "MARKER", "MARKER_HELP", "ordered_marks", "parse_marks"]

MARKER = "incident"
MARKER_HELP = (
    "incident(kind, *, mode=None, target=None, seed=None, max_drop=None, expect='recovered', **params): "
    "inject incident KIND (MODE, with injector PARAMS, into the artifact TARGET) into the ml_env fixture; "
    "after the test body the project's recovery runs and the plugin verifies artifacts and metrics. "
    "max_drop overrides the fail threshold; expect is 'recovered', 'degraded' or 'unrecoverable'. "
    "Several markers make a compound incident. Runs only with --mlchaos. See pytest --mlchaos-incidents."
)


@dataclass(frozen=True)
class IncidentPlan:
    """What the markers of one test ask for: the incidents, what outcome is expected, a stricter threshold."""

    incidents: tuple[Incident, ...]
    expect: str = "recovered"
    max_drop: float | None = None


def _marker_signature(
    kind: Any = None,
    *args: Any,
    mode: str | None = None,
    target: str | None = None,
    seed: int | None = None,
    max_drop: float | None = None,
    expect: str = "recovered",
    **params: Any,
) -> tuple[Incident, str, float | None]:
    if args:
        raise IncidentError(
            f"incident marker takes one positional argument (the kind), got extra {list(args)!r}; "
            "pass mode=..., target=... and parameters by keyword"
        )
    if kind is None:
        raise IncidentError(
            "incident marker needs the incident kind as its first argument, "
            "e.g. @pytest.mark.incident('data_corruption', mode='noise')"
        )
    if expect not in EXPECTATIONS:
        raise IncidentError(f"expect={expect!r} is not allowed; use one of {', '.join(map(repr, EXPECTATIONS))}")
    if max_drop is not None:
        try:
            max_drop = parse_fraction("max_drop", max_drop)
        except ThresholdError as exc:
            raise IncidentError(str(exc)) from None
    return Incident(kind, mode, params, target, seed), expect, max_drop


def ordered_marks(item: Any) -> list[Any]:
    """A test's ``incident`` marks in reading order: module, then class, then the function's decorators
    top to bottom, then the marks of its ``pytest.param`` as listed.

    pytest lists a function's decorator marks bottom first (the order they are applied).
    """
    groups: dict[int, list[Any]] = {}
    nodes: list[Any] = []
    for node, mark in item.iter_markers_with_node(MARKER):
        if id(node) not in groups:
            groups[id(node)] = []
            nodes.append(node)
        groups[id(node)].append(mark)
    ordered: list[Any] = []
    for node in reversed(nodes):  # outermost (module) first
        marks = groups[id(node)]
        if node is item:
            params = [m for m in getattr(getattr(item, "callspec", None), "marks", ()) if m.name == MARKER]
            decorators = list(marks)
            for mark in params:  # pytest appends the param marks after the decorators
                if mark in decorators:
                    decorators.remove(mark)
            marks = [*reversed(decorators), *params]
        ordered.extend(marks)
    return ordered


def parse_marks(marks: Iterable[Any], registry: IncidentRegistry, session_seed: int, nodeid: str) -> IncidentPlan:
    """Validate a test's ``incident`` marks and fix each incident's seed (from the session seed and node id)."""
    incidents: list[Incident] = []
    expects: list[str] = []
    drops: list[float] = []
    for index, mark in enumerate(marks):
        incident, expect, max_drop = _marker_signature(*mark.args, **mark.kwargs)
        incident = registry.validate(incident)
        if incident.seed is None:
            incident = incident.replace(seed=derive_seed(session_seed, nodeid, index))
        incidents.append(incident)
        expects.append(expect)
        if max_drop is not None:
            drops.append(max_drop)
    return IncidentPlan(tuple(incidents), _combined_expectation(expects), min(drops) if drops else None)


def _combined_expectation(expects: Sequence[str]) -> str:
    """Of several markers' expectations, the most lenient says what the compound incident expects."""
    for candidate in ("unrecoverable", "degraded"):
        if candidate in expects:
            return candidate
    return "recovered"
