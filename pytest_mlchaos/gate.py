"""Thresholds, metric directions and verdicts: numbers in, one verdict out. Knows nothing of files or pytest."""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "DEFAULT_FAIL_DROP",
    "DEFAULT_WARN_DROP",
    "Directions",
    "EXPECTATIONS",
    "FALSE_RECOVERY_REPLACED",
    "FALSE_RECOVERY_STILL",
    "LOWER_IS_BETTER_NAMES",
    "MetricChange",
    "ThresholdError",
    "Thresholds",
    "Verdict",
    "compare_metrics",
    "conventionally_lower",
    "expectation_met",
    "metric_verdict",
    "mttr_over_budget",
    "parse_fraction",
    "relative_drop",
    "resolve_metric_names",
    "worst_changes",
]


class Verdict(str, enum.Enum):
    """The plugin's own judgement of one incident test, after recovery."""

    RESTORED = "restored"  # artifacts bit-exact with the manifest, metrics equal
    REPAIRED = "repaired"  # content differs, metrics within the warn drop
    DEGRADED = "degraded"  # metrics dropped more than the warn drop, less than the fail drop
    CRITICAL = "critical"  # metrics dropped beyond the fail drop
    UNRECOVERED = "unrecovered"  # the recovery manager said it could not recover
    FALSE_RECOVERY = "false_recovery"  # the manager claimed success, but the damage is still there
    ERROR = "error"  # the body, detect(), recover() or evaluate() raised: no judgement possible

    @property
    def passed(self) -> bool:
        return self in (Verdict.RESTORED, Verdict.REPAIRED, Verdict.DEGRADED)


EXPECTATIONS = ("recovered", "degraded", "unrecoverable")


class ThresholdError(ValueError):
    """A threshold value that makes no sense; the message names it and what is allowed."""


#: The default drop thresholds: a recovery is degraded at a 5% drop and critical beyond 10%.
DEFAULT_WARN_DROP = 0.05
DEFAULT_FAIL_DROP = 0.10


def parse_fraction(name: str | None, value: Any) -> float:
    """A drop threshold as a float in [0, 1], or ThresholdError naming ``name`` (or just the value)."""
    label = f"{name}={value!r}" if name else repr(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ThresholdError(f"{label} is not a number; use a fraction in [0, 1] such as 0.05") from None
    if math.isnan(number) or not 0.0 <= number <= 1.0:
        raise ThresholdError(f"{label} is outside [0, 1]; use a fraction such as 0.05 for a 5% drop")
    return number


# -- metric direction ------------------------------------------------------------------------------

#: Metric names that are lower-is-better by convention, matched on each component of a nested key
#: (``eval.test.rmse``, ``rmse.test``), whole or as its last ``_``/``-`` word (``val_loss``,
#: ``mean_squared_error``).
LOWER_IS_BETTER_NAMES = frozenset(
    {
        "loss",
        "error",
        "err",
        "rmse",
        "mse",
        "mae",
        "mape",
        "smape",
        "rmsle",
        "msle",
        "medae",
        "log_loss",
        "logloss",
        "nll",
        "cross_entropy",
        "crossentropy",
        "brier",
        "brier_score",
        "hamming",
        "wer",
        "cer",
        "perplexity",
        "error_rate",
        "distance",
        "latency",
        "regret",
    }
)
_LOWER_LAST_WORDS = frozenset(
    {
        "loss",
        "error",
        "err",
        "rmse",
        "mse",
        "mae",
        "mape",
        "rmsle",
        "msle",
        "perplexity",
        "nll",
        "brier",
        "wer",
        "cer",
        "regret",
    }
)


def _components(name: str) -> list[str]:
    """The parts of a nested key, the last first (``eval.test.rmse`` -> ``rmse``, ``test``, ``eval``)."""
    return [part.lower() for part in reversed(re.split(r"[./]", name)) if part]


def _lower_by_name(part: str) -> bool:
    if part.startswith("neg_"):  # scikit-learn's neg_* scorers are higher-is-better
        return False
    if part in LOWER_IS_BETTER_NAMES:
        return True
    words = [w for w in re.split(r"[_\-\s]+", part) if w]
    return bool(words) and words[-1] in _LOWER_LAST_WORDS


def conventionally_lower(name: str) -> bool:
    """True for names such as ``rmse``, ``val_loss``, ``test.log_loss``, ``rmse.train``, ``mean_squared_error``.

    scikit-learn's ``neg_`` scorers (``neg_mean_squared_error``) are higher-is-better.
    """
    return any(_lower_by_name(part) for part in _components(name))


def _matches(name: str, declared: Collection[str]) -> bool:
    """``name`` is declared by its full key or by one of its components (``rmse`` covers ``eval.rmse.test``)."""
    wanted = {d.lower() for d in declared}
    return name in declared or any(part in wanted for part in _components(name))


@dataclass(frozen=True)
class Directions:
    """Which metrics are lower-is-better: declared by the project, added by the ini file, or by convention.

    ``higher`` (the project's ``higher_is_better``) overrides the conventions; ``lower`` (the
    project's ``lower_is_better`` and the ini key ``mlchaos_lower_is_better``) adds to them.
    """

    lower: frozenset[str] = frozenset()
    higher: frozenset[str] = frozenset()

    def lower_is_better(self, name: str) -> bool:
        if _matches(name, self.lower):
            return True
        if _matches(name, self.higher):
            return False
        return conventionally_lower(name)

    def arrow(self, name: str) -> str:
        """``↓`` for lower-is-better, ``↑`` for higher-is-better."""
        return "↓" if self.lower_is_better(name) else "↑"


@dataclass(frozen=True)
class Thresholds:
    """Relative metric drops: at ``warn_drop`` a recovery is degraded, beyond ``fail_drop`` it is critical.

    ``metrics`` are the gated names (empty: every metric the baseline has; a name may be the
    prefix of nested keys); ``directions`` says which of them are lower-is-better.
    """

    warn_drop: float = DEFAULT_WARN_DROP
    fail_drop: float = DEFAULT_FAIL_DROP
    metrics: tuple[str, ...] = ()
    directions: Directions = field(default_factory=Directions)

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
        return replace(self, warn_drop=min(self.warn_drop, fail), fail_drop=fail)

    def with_directions(self, lower: Iterable[str] = (), higher: Iterable[str] = ()) -> Thresholds:
        """These thresholds with more lower-/higher-is-better names declared."""
        d = self.directions
        return replace(self, directions=Directions(d.lower | frozenset(lower), d.higher | frozenset(higher)))

    def gated(self, available: Iterable[str]) -> list[str]:
        """The gated metric names among ``available`` (prefixes expanded); see ``resolve_metric_names``."""
        names = list(available)
        return resolve_metric_names(self.metrics, names) if self.metrics else names


def resolve_metric_names(requested: Sequence[str], available: Sequence[str]) -> list[str]:
    """Each requested name as the metrics it selects: itself, or every nested key it is a prefix of
    (``roc_auc`` selects ``roc_auc.test`` and ``roc_auc.train``). ThresholdError for a name that selects
    nothing, listing the available names."""
    selected: dict[str, None] = {}
    for name in requested:
        hits = [a for a in available if a == name or a.startswith(name + ".") or a.startswith(name + "/")]
        if not hits:
            shown = ", ".join(sorted(available)) or "(none: the project's evaluate() returned no metrics)"
            raise ThresholdError(f"metric {name!r} matches no metric of the baseline; available: {shown}")
        selected.update(dict.fromkeys(hits))
    return list(selected)


# -- metric changes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricChange:
    """One gated metric: baseline, value after recovery, the relative drop (positive = worse), its direction."""

    name: str
    baseline: float
    after: float | None
    drop: float
    lower_is_better: bool = False

    def to_dict(self) -> dict[str, Any]:
        drop = None if math.isinf(self.drop) else round(self.drop, 6)  # JSON has no infinity: a missing metric
        return {
            "name": self.name,
            "baseline": self.baseline,
            "after": self.after,
            "relative_drop": drop,
            "direction": "lower_is_better" if self.lower_is_better else "higher_is_better",
        }


def relative_drop(baseline: float, after: float | None, lower_is_better: bool = False) -> float:
    """How much worse ``after`` is than ``baseline``, relative to it (0 when equal or better, inf when missing)."""
    if after is None or (isinstance(after, float) and math.isnan(after)):
        return math.inf
    delta = (after - baseline) if lower_is_better else (baseline - after)
    scale = abs(baseline) if baseline else 1.0
    return max(0.0, delta / scale)


def compare_metrics(
    baseline: Mapping[str, float], after: Mapping[str, float], thresholds: Thresholds
) -> list[MetricChange]:
    """One ``MetricChange`` per gated metric of the baseline (a gated name that matches nothing raises
    ThresholdError)."""
    changes = []
    for name in thresholds.gated(baseline):
        value = after.get(name)
        lower = thresholds.directions.lower_is_better(name)
        after_value = None if value is None else float(value)
        changes.append(
            MetricChange(
                name,
                float(baseline[name]),
                after_value,
                relative_drop(float(baseline[name]), after_value, lower),
                lower,
            )
        )
    return changes


def worst_changes(evaluations: Sequence[Sequence[MetricChange]]) -> list[MetricChange]:
    """Per metric, the worst change over several evaluations of one recovery (in the first one's order)."""
    worst: dict[str, MetricChange] = {}
    for changes in evaluations:
        for change in changes:
            if change.name not in worst or change.drop > worst[change.name].drop:
                worst[change.name] = change
    return list(worst.values())


def metric_verdict(changes: Iterable[MetricChange], thresholds: Thresholds, bit_exact: bool) -> Verdict:
    """The verdict of a recovery the manager claims and the evidence accepts, from its metric changes."""
    worst = max((c.drop for c in changes), default=0.0)
    if worst > thresholds.fail_drop:
        return Verdict.CRITICAL
    if worst > thresholds.warn_drop:
        return Verdict.DEGRADED
    if bit_exact and worst == 0.0:
        return Verdict.RESTORED
    return Verdict.REPAIRED


def mttr_over_budget(seconds: float | None, strategy: str | None, max_mttr: float | None) -> str | None:
    """The failure reason when a recovery took longer than ``max_mttr`` seconds, else None."""
    if max_mttr is None or seconds is None or seconds <= max_mttr:
        return None
    via = f" via {strategy}" if strategy else ""
    shown = f"{seconds:.3f}" if round(seconds, 3) > max_mttr else f"{seconds:.6f}"  # never "10.000s over 10s"
    return f"recovery too slow: it took {shown}s{via}, over the MTTR budget of {max_mttr:g}s (--mlchaos-max-mttr)"


FALSE_RECOVERY_STILL = "false recovery: the recovery manager reported success, but the damage is still there"
FALSE_RECOVERY_REPLACED = (
    "false recovery: the recovery manager reported success, but it replaced {what} with different content"
)


def expectation_met(verdict: Verdict, expect: str, strict: bool = False) -> tuple[bool, str]:
    """Whether a test with ``expect`` passes given ``verdict``, and the reason when it does not."""
    if verdict is Verdict.ERROR:
        return False, "error: the incident could not be judged"
    if verdict is Verdict.FALSE_RECOVERY:
        return False, FALSE_RECOVERY_STILL
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
