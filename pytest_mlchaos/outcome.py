"""``IncidentOutcome``: the plugin's record of one incident test, the unit of every report."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .gate import MetricChange, Verdict
from .incidents.spec import Incident
from .project import Attempt

__all__ = ["IncidentOutcome"]


@dataclass(frozen=True)
class IncidentOutcome:
    """Everything verification found about one test's incidents, JSON-round-trippable.

    ``still_damaged``: entries left as the incident left them; ``replaced``: sources (or the
    served model) with other content although a good copy survived; ``lossy``: sources whose
    every copy was destroyed and how they came back; ``stores``: store damage left behind;
    ``evaluated``: what the plugin evaluated to get ``metrics``; ``error``: what raised, for the
    ``error`` verdict (``where``, ``type``, ``message``).

    Times are seconds: ``time_to_detect`` (first ``detect()`` after injection),
    ``time_to_recover`` (MTTR, the recovery manager's wall time), ``time_to_metrics``
    (recovery plus re-evaluation, until metrics were known to be within thresholds).
    """

    nodeid: str
    incidents: tuple[Incident, ...]
    verdict: Verdict
    expect: str = "recovered"
    passed: bool = True
    reason: str = ""
    strategy: str | None = None
    attempts: tuple[Attempt, ...] = ()
    recovery_claimed: bool = False
    metrics: tuple[MetricChange, ...] = ()
    mismatched: tuple[str, ...] = ()
    still_damaged: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    lossy: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    injected: tuple[str, ...] = ()
    evaluated: tuple[str, ...] = ()
    error: Mapping[str, str] | None = None
    time_to_detect: float | None = None
    time_to_recover: float | None = None
    time_to_metrics: float | None = None

    @property
    def worst_drop(self) -> float:
        return max((m.drop for m in self.metrics), default=0.0)

    def replay_lines(self) -> list[str]:
        """The marker lines that replay the incidents, in injection order; the first carries ``expect=``."""
        lines = [i.marker_line() for i in self.incidents]
        if lines and self.expect != "recovered":
            lines[0] = lines[0][:-1] + f", expect={self.expect!r})"
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "incidents": [i.to_dict() for i in self.incidents],
            "verdict": self.verdict.value,
            "expect": self.expect,
            "passed": self.passed,
            "reason": self.reason,
            "strategy": self.strategy,
            "attempts": [a.to_dict() for a in self.attempts],
            "recovery_claimed": self.recovery_claimed,
            "metrics": [m.to_dict() for m in self.metrics],
            "mismatched": list(self.mismatched),
            "still_damaged": list(self.still_damaged),
            "replaced": list(self.replaced),
            "lossy": list(self.lossy),
            "stores": list(self.stores),
            "problems": list(self.problems),
            "injected": list(self.injected),
            "evaluated": list(self.evaluated),
            "error": dict(self.error) if self.error else None,
            "time_to_detect": self.time_to_detect,
            "time_to_recover": self.time_to_recover,
            "time_to_metrics": self.time_to_metrics,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IncidentOutcome:
        return cls(
            nodeid=data["nodeid"],
            incidents=tuple(Incident.from_dict(i) for i in data["incidents"]),
            verdict=Verdict(data["verdict"]),
            expect=data.get("expect", "recovered"),
            passed=data.get("passed", True),
            reason=data.get("reason", ""),
            strategy=data.get("strategy"),
            attempts=tuple(Attempt(**a) for a in data.get("attempts", ())),
            recovery_claimed=data.get("recovery_claimed", False),
            metrics=tuple(
                MetricChange(
                    m["name"],
                    m["baseline"],
                    m["after"],
                    math.inf if m["relative_drop"] is None else m["relative_drop"],
                    m.get("direction") == "lower_is_better",
                )
                for m in data.get("metrics", ())
            ),
            mismatched=tuple(data.get("mismatched", ())),
            still_damaged=tuple(data.get("still_damaged", ())),
            replaced=tuple(data.get("replaced", ())),
            lossy=tuple(data.get("lossy", ())),
            stores=tuple(data.get("stores", ())),
            problems=tuple(data.get("problems", ())),
            injected=tuple(data.get("injected", ())),
            evaluated=tuple(data.get("evaluated", ())),
            error=data.get("error"),
            time_to_detect=data.get("time_to_detect"),
            time_to_recover=data.get("time_to_recover"),
            time_to_metrics=data.get("time_to_metrics"),
        )
