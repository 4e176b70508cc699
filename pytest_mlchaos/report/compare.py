"""The ratchet: what changed between a previous report and this one, and whether this run is worse.

Pure functions over two report documents (schema ``mlchaos-report/2``); the plugin
(``--mlchaos-compare``) and the command line (``mlchaos compare``) both use them.

The run is worse (``failed``) when its score is below the previous one, or when an incident
test that passed in the previous report fails now. Tests that are new, removed or fixed, and
MTTR changes, are listed but fail nothing (timings are too noisy to gate on).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .render import format_seconds

__all__ = [
    "DEFAULT_MTTR_TOLERANCE",
    "compare",
    "comparison_lines",
    "comparison_markdown",
    "mttr_changes",
    "outcome_text",
    "parse_tolerance",
]

#: An MTTR is listed when the strategy's median grew by more than 50% and by more than 0.5 s.
DEFAULT_MTTR_TOLERANCE = (0.5, 0.5)


def parse_tolerance(value: str) -> tuple[float, float]:
    """``RELATIVE,SECONDS`` (e.g. ``0.5,0.5``) as numbers; ``ValueError`` saying what is allowed."""
    parts = [p.strip() for p in str(value).split(",")]
    try:
        relative, seconds = (float(parts[0]), float(parts[1])) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        relative = seconds = math.nan
    if not (math.isfinite(relative) and math.isfinite(seconds) and relative >= 0 and seconds >= 0):
        raise ValueError(
            f"{value!r} is not RELATIVE,SECONDS; use two non-negative numbers such as 0.5,0.5 (+50% and +0.5 s)"
        )
    return relative, seconds


def _by_nodeid(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(r["nodeid"]): r for r in report.get("incidents", ())}


def _item(nodeid: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "before": None if before is None else before.get("verdict"),
        "after": None if after is None else after.get("verdict"),
        "before_passed": None if before is None else bool(before.get("passed")),
        "after_passed": None if after is None else bool(after.get("passed")),
    }


def outcome_text(verdict: str | None, passed: bool | None) -> str:
    """``restored (passed)``, ``critical (failed)``, or ``-`` for a test that was not in the report."""
    if verdict is None:
        return "-"
    return f"{verdict} ({'passed' if passed else 'failed'})"


def mttr_changes(
    previous: Mapping[str, Any], current: Mapping[str, Any], tolerance: tuple[float, float] | None = None
) -> list[dict[str, Any]]:
    """Strategies whose median MTTR grew beyond ``tolerance`` = (relative, seconds): both must be exceeded
    (None: ``DEFAULT_MTTR_TOLERANCE``)."""
    relative, seconds = tolerance or DEFAULT_MTTR_TOLERANCE
    before = previous.get("summary", {}).get("mttr_by_strategy") or {}
    after = current.get("summary", {}).get("mttr_by_strategy") or {}
    changes = []
    for strategy in sorted(set(before) & set(after)):
        old, new = before[strategy].get("median"), after[strategy].get("median")
        if old is None or new is None:
            continue
        grew = new - old
        if grew > seconds and new > old * (1 + relative):
            pct = f"+{grew / old:.0%}" if old > 0 else "from 0"
            changes.append(
                {"strategy": strategy, "before": old, "after": new, "change": f"{pct}, +{format_seconds(grew)}"}
            )
    return changes


def compare(
    previous: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    tolerance: tuple[float, float] | None = None,
    previous_name: str | None = None,
) -> dict[str, Any]:
    """The comparison section (JSON): scores, regressed, fixed, new and removed tests, MTTR changes, the verdict."""
    old, new = _by_nodeid(previous), _by_nodeid(current)
    regressed = [
        _item(n, old[n], new[n]) for n in sorted(set(old) & set(new)) if old[n]["passed"] and not new[n]["passed"]
    ]
    fixed = [_item(n, old[n], new[n]) for n in sorted(set(old) & set(new)) if not old[n]["passed"] and new[n]["passed"]]
    added = [_item(n, None, new[n]) for n in sorted(set(new) - set(old))]
    removed = [_item(n, old[n], None) for n in sorted(set(old) - set(new))]
    prev_score = previous.get("summary", {}).get("score")
    score = current.get("summary", {}).get("score")
    score_dropped = prev_score is not None and score is not None and score < prev_score
    reasons = []
    if score_dropped:
        reasons.append(f"resilience score {score:g} is below the previous {prev_score:g}")
    if regressed:
        reasons.append(
            f"{len(regressed)} incident test{'s' if len(regressed) != 1 else ''} that passed before fail"
            f"{'s' if len(regressed) == 1 else ''} now"
        )
    return {
        "previous": previous_name,
        "previous_score": prev_score,
        "score": score,
        "score_dropped": score_dropped,
        "regressed": regressed,
        "fixed": fixed,
        "new": added,
        "removed": removed,
        "mttr": mttr_changes(previous, current, tolerance),
        "mttr_tolerance": dict(zip(("relative", "seconds"), tolerance or DEFAULT_MTTR_TOLERANCE)),
        "failed": bool(reasons),
        "reasons": reasons,
        "summary": _summary(reasons, prev_score, score, regressed, fixed, added, removed),
    }


def _summary(
    reasons: Sequence[str],
    prev: float | None,
    score: float | None,
    regressed: Sequence[Any],
    fixed: Sequence[Any],
    added: Sequence[Any],
    removed: Sequence[Any],
) -> str:
    scores = f"score {'n/a' if prev is None else f'{prev:g}'} -> {'n/a' if score is None else f'{score:g}'}"
    counts = f"{len(regressed)} regressed, {len(fixed)} fixed, {len(added)} new, {len(removed)} removed"
    verdict = (
        "worse than the previous report: " + "; ".join(reasons) if reasons else "not worse than the previous report"
    )
    return f"{verdict} ({scores}; {counts})"


def comparison_lines(comparison: Mapping[str, Any], width: int = 100) -> list[str]:
    """The comparison for a terminal: the verdict (wrapped to ``width``), then one line per change."""
    import textwrap

    verdict = "mlchaos ratchet: FAILED: " if comparison.get("failed") else "mlchaos ratchet: ok: "
    lines = textwrap.wrap(
        verdict + comparison["summary"], width=max(width, 40), subsequent_indent="    ", break_on_hyphens=False
    )
    for key in ("regressed", "fixed", "new", "removed"):
        for item in comparison.get(key) or ():
            before = outcome_text(item["before"], item.get("before_passed"))
            lines.append(
                f"  {key:<9} {item['nodeid']}  {before} -> {outcome_text(item['after'], item.get('after_passed'))}"
            )
    for item in comparison.get("mttr") or ():
        lines.append(
            f"  slower    MTTR of {item['strategy']}: {format_seconds(item['before'])} -> "
            f"{format_seconds(item['after'])} ({item['change']})"
        )
    return lines


def comparison_markdown(comparison: Mapping[str, Any]) -> list[str]:
    """The comparison as Markdown lines: the verdict, then a table of what changed."""
    from .render import md_cell, md_code

    mark = "❌" if comparison.get("failed") else "✅"
    lines = ["### Compared with the previous report", "", f"{mark} {md_cell(comparison['summary'])}", ""]
    rows = [
        f"| {key} | {md_code(item['nodeid'])} | {outcome_text(item['before'], item.get('before_passed'))} | "
        f"{outcome_text(item['after'], item.get('after_passed'))} |"
        for key in ("regressed", "fixed", "new", "removed")
        for item in comparison.get(key) or ()
    ]
    rows += [
        f"| MTTR {md_cell(item['change'])} | {md_cell(item['strategy'])} | {format_seconds(item['before'])} | "
        f"{format_seconds(item['after'])} |"
        for item in comparison.get("mttr") or ()
    ]
    if rows:
        lines += ["| Change | Test / strategy | Before | After |", "|---|---|---|---|", *rows, ""]
    return lines
