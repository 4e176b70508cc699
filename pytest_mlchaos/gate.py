"""Thresholds and verdicts: numbers in, one verdict out. Knows nothing of files or pytest."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping


class Verdict(str, enum.Enum):
    """The plugin's own judgement of one incident test, after recovery."""

    RESTORED = "restored"            # artifacts bit-exact with the manifest, metrics equal
    REPAIRED = "repaired"            # content differs, metrics within the warn drop
    DEGRADED = "degraded"            # metrics dropped more than the warn drop, less than the fail drop
    CRITICAL = "critical"            # metrics dropped beyond the fail drop
    UNRECOVERED = "unrecovered"      # the recovery manager said it could not recover
    FALSE_RECOVERY = "false_recovery"  # the manager claimed success, but the damage is still there

    @property
    def passed(self) -> bool:
        return self in (Verdict.RESTORED, Verdict.REPAIRED, Verdict.DEGRADED)


EXPECTATIONS = ("recovered", "degraded", "unrecoverable")


class ThresholdError(ValueError):
    """A threshold value that makes no sense; the message names it and what is allowed."""


def parse_fraction(name: str, value: Any) -> float:
    """A drop threshold as a float in [0, 1], or ThresholdError naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ThresholdError(f"{name}={value!r} is not a number; use a fraction in [0, 1] such as 0.05") from None
    if math.isnan(number) or not 0.0 <= number <= 1.0:
        raise ThresholdError(f"{name}={value!r} is outside [0, 1]; use a fraction such as 0.05 for a 5% drop")
    return number


@dataclass(frozen=True)
class Thresholds:
    """Relative metric drops: at ``warn_drop`` a recovery is degraded, beyond ``fail_drop`` it is critical."""

    warn_drop: float = 0.05
    fail_drop: float = 0.10
    metrics: tuple[str, ...] = ()  # empty: every metric both baseline and result have
    lower_is_better: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        parse_fraction("warn_drop", self.warn_drop)
        parse_fraction("fail_drop", self.fail_drop)
        if self.warn_drop > self.fail_drop:
            raise ThresholdError(
                f"warn_drop={self.warn_drop} is larger than fail_drop={self.fail_drop}; the warning must come first"
            )

    def with_fail_drop(self, fail_drop: float | None) -> Thresholds:
        if fail_drop is None:
            return self
        fail = parse_fraction("max_drop", fail_drop)
        return Thresholds(min(self.warn_drop, fail), fail, self.metrics, self.lower_is_better)


@dataclass(frozen=True)
class MetricChange:
    """One gated metric: baseline, value after recovery, and the relative drop (positive = worse)."""

    name: str
    baseline: float
    after: float | None
    drop: float

    def to_dict(self) -> dict[str, Any]:
        drop = None if math.isinf(self.drop) else round(self.drop, 6)  # JSON has no infinity: a missing metric
        return {"name": self.name, "baseline": self.baseline, "after": self.after, "relative_drop": drop}


def relative_drop(baseline: float, after: float | None, lower_is_better: bool = False) -> float:
    """How much worse ``after`` is than ``baseline``, relative to it (0 when equal or better, inf when missing)."""
    if after is None or (isinstance(after, float) and math.isnan(after)):
        return math.inf
    delta = (after - baseline) if lower_is_better else (baseline - after)
    scale = abs(baseline) if baseline else 1.0
    return max(0.0, delta / scale)


def compare_metrics(baseline: Mapping[str, float], after: Mapping[str, float], thresholds: Thresholds) -> list[MetricChange]:
    names: Iterable[str] = thresholds.metrics or [n for n in baseline if n in after]
    changes = []
    for name in names:
        if name not in baseline:
            continue
        value = after.get(name)
        drop = relative_drop(float(baseline[name]), None if value is None else float(value), name in thresholds.lower_is_better)
        changes.append(MetricChange(name, float(baseline[name]), None if value is None else float(value), drop))
    return changes


def metric_verdict(changes: Iterable[MetricChange], thresholds: Thresholds, bit_exact: bool) -> Verdict:
    """The verdict of a recovery the manager claims and the damage check accepts, from its metric changes."""
    worst = max((c.drop for c in changes), default=0.0)
    if worst > thresholds.fail_drop:
        return Verdict.CRITICAL
    if worst > thresholds.warn_drop:
        return Verdict.DEGRADED
    if bit_exact and worst == 0.0:
        return Verdict.RESTORED
    return Verdict.REPAIRED


def expectation_met(verdict: Verdict, expect: str, strict: bool = False) -> tuple[bool, str]:
    """Whether a test with ``expect`` passes given ``verdict``, and the reason when it does not."""
    if verdict is Verdict.FALSE_RECOVERY:
        return False, "false recovery: the recovery manager reported success, but the damage is still there"
    if expect == "unrecoverable":
        if verdict is Verdict.UNRECOVERED:
            return True, ""
        return False, f"expected the system to report the incident as unrecoverable, but the verdict is {verdict.value}"
    if verdict is Verdict.UNRECOVERED:
        return False, "unrecovered: the recovery manager reported that it could not recover"
    if verdict is Verdict.CRITICAL:
        return False, "critical: metrics dropped beyond the fail threshold"
    if verdict is Verdict.DEGRADED and strict and expect != "degraded":
        return False, "degraded: metrics dropped beyond the warn threshold (--mlchaos-strict)"
    return True, ""
