"""The report document: schema ``mlchaos-report/2``, one record per incident test, the summary and the score.

Pure functions over ``IncidentOutcome`` records; no pytest import.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..gate import DEFAULT_FAIL_DROP, DEFAULT_WARN_DROP, MetricChange, Verdict
from ..outcome import IncidentOutcome

__all__ = [
    "DEFAULT_THRESHOLDS",
    "FAILED_WEIGHT_CAP",
    "FALSE_RECOVERY_PENALTY",
    "HONEST_UNRECOVERABLE_WEIGHT",
    "RunInfo",
    "SCHEMA",
    "VERDICT_SYMBOLS",
    "VERDICT_WEIGHTS",
    "attempts_by_strategy",
    "build_report",
    "collect_versions",
    "comparable",
    "incident_record",
    "jsonable",
    "mttr_by_strategy",
    "outcome_from_record",
    "outcome_weight",
    "relative_change",
    "resilience_score",
    "slowest_recovery",
    "summarize",
    "utc_now",
]

SCHEMA = "mlchaos-report/2"

#: Weight of each verdict in the resilience score (see ``resilience_score``).
VERDICT_WEIGHTS: Mapping[Verdict, float] = {
    Verdict.RESTORED: 1.0,
    Verdict.REPAIRED: 0.9,
    Verdict.DEGRADED: 0.6,
    Verdict.CRITICAL: 0.0,
    Verdict.UNRECOVERED: 0.0,
    Verdict.FALSE_RECOVERY: 0.0,
    Verdict.ERROR: 0.0,
}
#: An unrecovered incident the test expected to be unrecoverable: the system said so honestly.
HONEST_UNRECOVERABLE_WEIGHT = 1.0
#: A failed test never counts more than this, whatever its verdict (e.g. restored but over the MTTR budget).
FAILED_WEIGHT_CAP = 0.5
#: Subtracted from the sum for each false recovery: claiming success over damage is worse than admitting failure.
FALSE_RECOVERY_PENALTY = 0.5

VERDICT_SYMBOLS: Mapping[str, str] = {
    "restored": "✅",
    "repaired": "✅",
    "degraded": "⚠️",
    "critical": "❌",
    "unrecovered": "❌",
    "false_recovery": "❌",
    "error": "💥",
}
_VERDICT_ORDER = [v.value for v in Verdict]
_TIMING_RUN_KEYS = ("started", "duration", "workers", "baseline")
_TIMING_RECORD_KEYS = ("time_to_detect", "time_to_recover", "time_to_metrics")


#: What ``RunInfo.to_dict`` reports for thresholds the caller left out (the plugin's defaults).
DEFAULT_THRESHOLDS: Mapping[str, Any] = {
    "warn_drop": DEFAULT_WARN_DROP,
    "fail_drop": DEFAULT_FAIL_DROP,
    "metrics": (),
    "max_mttr": None,
    "strict": False,
    "directions": {},
}


def utc_now() -> str:
    """The current time as ISO 8601 UTC, to the second."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunInfo:
    """What the report says about the run: seed, project, versions, thresholds, timing, workers.

    ``project`` has ``name`` and ``source``; ``versions`` comes from ``collect_versions()``;
    ``thresholds`` has ``warn_drop``, ``fail_drop``, ``metrics``, ``max_mttr``, ``strict`` and
    ``directions`` (gated metric -> ``lower_is_better``/``higher_is_better``); ``started`` is ISO
    8601 UTC; ``duration`` is seconds; ``workers`` is 0 without xdist; ``baseline`` says whether
    the baseline was cached (and verified), built, or rebuilt and why (None when no test needed it).
    Left out, versions are collected, ``started`` is now, and thresholds are the plugin's defaults.
    """

    seed: int
    project: Mapping[str, str | None] = field(default_factory=dict)
    versions: Mapping[str, str | None] = field(default_factory=lambda: collect_versions())
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    started: str = field(default_factory=lambda: utc_now())
    duration: float = 0.0
    workers: int = 0
    baseline: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        thresholds = {**DEFAULT_THRESHOLDS, **self.thresholds}
        thresholds["metrics"] = list(thresholds["metrics"] or ())
        return {
            "seed": self.seed,
            "project": {"name": self.project.get("name"), "source": self.project.get("source")},
            "versions": dict(self.versions),
            "thresholds": thresholds,
            "started": self.started,
            "duration": _round(self.duration),
            "workers": int(self.workers),
            "baseline": None
            if self.baseline is None
            else {
                "cached": bool(self.baseline.get("cached")),
                "rebuilt_because": self.baseline.get("rebuilt_because"),
                "build_seconds": _round(self.baseline.get("build_seconds")),
                "verify_seconds": _round(self.baseline.get("verify_seconds")),
            },
        }


def collect_versions() -> dict[str, str | None]:
    """Versions of Python and the tools (None when not installed); imports none of them."""
    from ..versions import report_versions

    return report_versions()


# -- the score ---------------------------------------------------------------------------------


def outcome_weight(outcome: IncidentOutcome) -> float:
    """One test's contribution to the score, in [0, 1] (before the false-recovery penalty)."""
    if outcome.verdict is Verdict.UNRECOVERED and outcome.expect == "unrecoverable":
        weight = HONEST_UNRECOVERABLE_WEIGHT
    else:
        weight = VERDICT_WEIGHTS[outcome.verdict]
    if not outcome.passed:
        weight = min(weight, FAILED_WEIGHT_CAP)
    return weight


def resilience_score(outcomes: Sequence[IncidentOutcome]) -> float | None:
    """The resilience score in [0, 100], rounded to 2 decimals; None for a run without incident tests.

    ``score = 100 * max(0, sum(w_i) - 0.5 * F) / N`` where ``N`` is the number of incident
    tests, ``F`` the number of false recoveries, and ``w_i`` each test's weight: restored
    1.0, repaired 0.9, degraded 0.6, critical 0, unrecovered 0 (1.0 when the test expected
    ``unrecoverable``: an honest report), false_recovery 0, error 0; a failed test counts at most
    0.5. Every weight is in [0, 1], so the score cannot exceed 100, and the ``max`` keeps
    the penalty from pushing it below 0. An empty run has no evidence, hence None, not 100.
    """
    if not outcomes:
        return None
    total = math.fsum(outcome_weight(o) for o in outcomes)  # exact, so the order of outcomes cannot matter
    false = sum(1 for o in outcomes if o.verdict is Verdict.FALSE_RECOVERY)
    score = 100.0 * max(0.0, total - FALSE_RECOVERY_PENALTY * false) / len(outcomes)
    return round(min(100.0, max(0.0, score)), 2)


# -- building the report -------------------------------------------------------------------------


def relative_change(change: MetricChange) -> float | None:
    """Signed relative change of a metric, ``(after - baseline) / |baseline|``; None when it is missing."""
    if change.after is None or not math.isfinite(change.after):
        return None
    scale = abs(change.baseline) if change.baseline else 1.0
    return (change.after - change.baseline) / scale


def _round(value: float | None, digits: int = 6) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON: tuples and sets become lists, non-finite floats None, unknown objects str."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=repr)
    if hasattr(value, "value") and isinstance(value.value, str):  # enums such as Verdict
        return value.value
    return str(value)


def incident_record(outcome: IncidentOutcome) -> dict[str, Any]:
    """The report record of one incident test; a superset of ``outcome.to_dict()``.

    Added: ``replay`` (marker lines), ``worst_drop``, and per metric ``relative_change``
    (signed). A missing metric has ``after`` and ``relative_drop`` null (the drop is
    infinite); ``outcome_from_record`` reads that back.
    """
    record: dict[str, Any] = jsonable(outcome.to_dict())
    record["metrics"] = [
        {**jsonable(m.to_dict()), "relative_change": _round(relative_change(m))} for m in outcome.metrics
    ]
    record["worst_drop"] = _round(outcome.worst_drop) if outcome.metrics else 0.0
    record["replay"] = outcome.replay_lines()
    for key in _TIMING_RECORD_KEYS:
        record[key] = _round(record[key])
    return record


def outcome_from_record(record: Mapping[str, Any]) -> IncidentOutcome:
    """The ``IncidentOutcome`` of a report record (a missing metric's null drop becomes infinite again)."""
    data = dict(record)
    data["metrics"] = [
        {**m, "relative_drop": math.inf if m.get("relative_drop") is None else m["relative_drop"]}
        for m in record.get("metrics", ())
    ]
    return IncidentOutcome.from_dict(data)


def _stats(values: Sequence[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "mean": _round(statistics.fmean(values)) if values else None,
        "median": _round(statistics.median(values)) if values else None,
        "max": _round(max(values)) if values else None,
    }


def mttr_by_strategy(outcomes: Iterable[IncidentOutcome]) -> dict[str, dict[str, Any]]:
    """MTTR statistics per winning strategy: tests whose manager claimed recovery via it, with a recovery time."""
    times: dict[str, list[float]] = {}
    for o in outcomes:
        if o.recovery_claimed and o.time_to_recover is not None and math.isfinite(o.time_to_recover):
            times.setdefault(o.strategy or "(unnamed)", []).append(o.time_to_recover)
    return {name: _stats(values) for name, values in sorted(times.items())}


def attempts_by_strategy(outcomes: Iterable[IncidentOutcome]) -> dict[str, dict[str, Any]]:
    """Statistics of every attempt per strategy (seconds each attempt took), with how many succeeded."""
    times: dict[str, list[float]] = {}
    wins: dict[str, int] = {}
    for o in outcomes:
        for a in o.attempts:
            times.setdefault(a.strategy, []).append(a.seconds)
            wins[a.strategy] = wins.get(a.strategy, 0) + int(a.succeeded)
    return {name: {**_stats(values), "succeeded": wins[name]} for name, values in sorted(times.items())}


def slowest_recovery(outcomes: Iterable[IncidentOutcome]) -> dict[str, Any] | None:
    timed = [o for o in outcomes if o.time_to_recover is not None and math.isfinite(o.time_to_recover)]
    if not timed:
        return None
    worst = max(timed, key=lambda o: (o.time_to_recover, o.nodeid))
    return {"nodeid": worst.nodeid, "seconds": _round(worst.time_to_recover), "strategy": worst.strategy}


def summarize(outcomes: Sequence[IncidentOutcome]) -> dict[str, Any]:
    """The ``summary`` section: counts, score, slowest recovery, MTTR per strategy."""
    verdicts = {v: 0 for v in _VERDICT_ORDER}
    for o in outcomes:
        verdicts[o.verdict.value] += 1
    passed = sum(1 for o in outcomes if o.passed)
    return {
        "total": len(outcomes),
        "passed": passed,
        "failed": len(outcomes) - passed,
        "verdicts": verdicts,
        "expected_unrecoverable": sum(
            1 for o in outcomes if o.verdict is Verdict.UNRECOVERED and o.expect == "unrecoverable"
        ),
        "score": resilience_score(outcomes),
        "slowest_recovery": slowest_recovery(outcomes),
        "mttr_by_strategy": mttr_by_strategy(outcomes),
        "attempts_by_strategy": attempts_by_strategy(outcomes),
    }


def build_report(run: RunInfo, outcomes: Sequence[IncidentOutcome]) -> dict[str, Any]:
    """The JSON-serialisable report (schema ``mlchaos-report/2``); records sorted by node id."""
    ordered = sorted(outcomes, key=lambda o: (o.nodeid, o.verdict.value))
    return {
        "schema": SCHEMA,
        "run": jsonable(run.to_dict()),
        "summary": summarize(ordered),
        "incidents": [incident_record(o) for o in ordered],
        "extensions": {},
    }


def comparable(report: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``report`` without timings, dates, durations and the worker count.

    Two runs of the same suite with the same seed (``-n 0`` and ``-n 2``) give equal
    ``comparable`` reports. MTTR statistics keep only their counts; the slowest recovery
    (which test it is depends on timing) is dropped.
    """
    data = copy.deepcopy(dict(report))
    run = data.get("run", {})
    for key in _TIMING_RUN_KEYS:
        run.pop(key, None)
    summary = data.get("summary", {})
    summary.pop("slowest_recovery", None)
    for section in ("mttr_by_strategy", "attempts_by_strategy"):
        for stats in summary.get(section, {}).values():
            for key in ("mean", "median", "max"):
                stats.pop(key, None)
    for record in data.get("incidents", ()):
        for key in _TIMING_RECORD_KEYS:
            record.pop(key, None)
        for attempt in record.get("attempts", ()):
            attempt.pop("seconds", None)
    comparison = data.get("comparison")
    if isinstance(comparison, dict):  # --mlchaos-compare: its MTTR changes are timings too
        comparison.pop("mttr", None)
    return data
