"""The report as people read it: the Markdown summary, the terminal table and JUnit properties."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..outcome import IncidentOutcome
from .document import VERDICT_SYMBOLS, relative_change

__all__ = [
    "ellipsize_end",
    "ellipsize_middle",
    "ellipsize_nodeid",
    "failures_first",
    "format_seconds",
    "incidents_text",
    "junit_properties",
    "markdown_headline",
    "md_cell",
    "md_code",
    "render_markdown",
    "terminal_lines",
    "worst_metric_text",
]

# -- rendering helpers -----------------------------------------------------------------------


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 100:
        return f"{seconds:.1f}s"
    return f"{seconds:.0f}s"


def _incident_text(incident: Mapping[str, Any]) -> str:
    label = incident["kind"] if incident.get("mode") is None else f"{incident['kind']}/{incident['mode']}"
    params = ", ".join(f"{k}={v!r}" for k, v in sorted((incident.get("params") or {}).items()))
    return f"{label}({params})" if params else label


def incidents_text(record: Mapping[str, Any]) -> str:
    return " + ".join(_incident_text(i) for i in record.get("incidents", ()))


def _worst_metric(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    metrics = list(record.get("metrics", ()))
    if not metrics:
        return None
    worst: Mapping[str, Any] = max(
        metrics, key=lambda m: math.inf if m.get("relative_drop") is None else m["relative_drop"]
    )
    return worst


def worst_metric_text(record: Mapping[str, Any]) -> str:
    """E.g. ``-12.3% accuracy``: signed relative change of the metric that dropped most (number first, so a
    cut keeps it); ``missing f1`` when it was missing; ``-`` without metrics."""
    worst = _worst_metric(record)
    if worst is None:
        return "-"
    change = worst.get("relative_change")
    return f"missing {worst['name']}" if change is None else f"{change:+.1%} {worst['name']}"


def _rank(record: Mapping[str, Any]) -> tuple[int, int, str]:
    verdict = record["verdict"]
    if not record["passed"]:
        severity = {"false_recovery": 0, "error": 1, "critical": 2, "unrecovered": 3}.get(verdict, 4)
        return (0, severity, record["nodeid"])
    order = {"degraded": 1, "unrecovered": 2, "repaired": 3, "restored": 4}
    return (order.get(verdict, 5), 0, record["nodeid"])


def failures_first(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Records ordered: failed (false recovery, error, critical, unrecovered, others), degraded, then passes."""
    return sorted(records, key=_rank)


def _mark(record: Mapping[str, Any]) -> str:
    """``✗`` failed, ``!`` passed with a warning (degraded), ``✓`` passed."""
    if not record["passed"]:
        return "✗"
    return "!" if record["verdict"] == "degraded" else "✓"


def _verdict_label(record: Mapping[str, Any], short: bool = False) -> str:
    if record["verdict"] == "unrecovered" and record.get("expect") == "unrecoverable":
        return "unrecovered (exp)" if short else "unrecovered (expected)"
    verdict: str = record["verdict"]
    return verdict


def _headline_parts(report: Mapping[str, Any]) -> list[str]:
    summary = report["summary"]
    total = summary["total"]
    if not total:
        return ["no incident tests ran"]
    degraded = summary["verdicts"].get("degraded", 0)
    passed = f"{summary['passed']} passed ({degraded} degraded)"
    parts = [f"{total} incident test{'s' if total != 1 else ''}: {passed}, {summary['failed']} failed"]
    counts = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in summary["verdicts"].items() if n)
    parts.append(counts)
    score = summary["score"]
    parts.append("score n/a" if score is None else f"score {score:g}/100")
    slow = summary.get("slowest_recovery")
    if slow:
        parts.append(f"slowest recovery {format_seconds(slow['seconds'])} ({slow['nodeid']})")
    return parts


# -- Markdown --------------------------------------------------------------------------------------


def md_cell(text: Any) -> str:
    """Text made safe for a GitHub table cell: ``|`` escaped, ``<`` as an entity (no stray HTML), one line."""
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;")


def md_code(text: Any) -> str:
    """``text`` as an inline code span that survives backticks and ``|`` in a table cell."""
    flat = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall("`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}".replace("|", "\\|")


def markdown_headline(report: Mapping[str, Any]) -> str:
    """E.g. ``**12 incident tests: 9 passed (2 degraded), 3 failed** · score **78.5**/100 · slowest recovery ...``."""
    summary = report["summary"]
    parts = _headline_parts(report)
    if not summary["total"]:
        return f"**{parts[0]}**"
    line = f"**{md_cell(parts[0])}** · resilience score **{summary['score']:g}**/100"
    slow = summary.get("slowest_recovery")
    if slow:
        line += f" · slowest recovery {format_seconds(slow['seconds'])} ({md_code(slow['nodeid'])})"
    return line


def render_markdown(report: Mapping[str, Any]) -> str:
    """The Markdown summary: headline, one row per incident test (failures first), MTTR per strategy."""
    summary = report["summary"]
    run = report["run"]
    lines = ["## mlchaos resilience report", ""]
    lines.append(markdown_headline(report))
    thresholds = run.get("thresholds", {})
    setting = [f"seed `{run.get('seed')}`"]
    project = (run.get("project") or {}).get("name")
    if project:
        setting.append(f"project {md_code(project)}")
    if "warn_drop" in thresholds:
        setting.append(f"warn drop {thresholds['warn_drop']:.0%}, fail drop {thresholds['fail_drop']:.0%}")
    if thresholds.get("max_mttr"):
        setting.append(f"max MTTR {thresholds['max_mttr']:g}s")
    if thresholds.get("strict"):
        setting.append("strict")
    lines += ["", " · ".join(setting), ""]
    comparison = report.get("comparison")
    if isinstance(comparison, Mapping):
        from .compare import comparison_markdown

        lines += comparison_markdown(comparison)
    records = failures_first(report["incidents"])
    if records:
        lines += [
            "| | Test | Incident(s) | Verdict | Strategy | MTTR | Worst metric Δ |",
            "|---|---|---|---|---|---:|---|",
        ]
        for r in records:
            symbol = VERDICT_SYMBOLS.get(r["verdict"], "")
            if not r["passed"]:
                symbol = "❌"
            elif r["verdict"] == "unrecovered":
                symbol = "✅"
            lines.append(
                "| "
                + " | ".join(
                    [
                        symbol,
                        md_code(r["nodeid"]),
                        md_cell(incidents_text(r)),
                        md_cell(_verdict_label(r)),
                        md_cell(r.get("strategy") or "-"),
                        format_seconds(r.get("time_to_recover")),
                        md_cell(worst_metric_text(r)),
                    ]
                )
                + " |"
            )
        lines.append("")
    mttr = summary.get("mttr_by_strategy", {})
    attempts = summary.get("attempts_by_strategy", {})
    if mttr or attempts:
        lines += [
            "| Strategy | Recoveries | MTTR mean | MTTR median | MTTR max | Attempts (succeeded) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name in sorted(set(mttr) | set(attempts)):
            stats = mttr.get(name, {"count": 0, "mean": None, "median": None, "max": None})
            tried = attempts.get(name)
            lines.append(
                "| "
                + " | ".join(
                    [
                        md_cell(name),
                        str(stats["count"]),
                        format_seconds(stats["mean"]),
                        format_seconds(stats["median"]),
                        format_seconds(stats["max"]),
                        f"{tried['count']} ({tried['succeeded']})" if tried else "0",
                    ]
                )
                + " |"
            )
        lines.append("")
    failed = [r for r in records if not r["passed"]]
    if failed:
        lines += ["<details><summary>Failures and how to replay them</summary>", ""]
        for r in failed:
            lines.append(f"- {md_code(r['nodeid'])}: {md_cell(r.get('reason') or r['verdict'])}")
            lines.extend(f"  - {md_code(line)}" for line in r.get("replay", ()))
        lines += ["", f"Rerun with `--mlchaos-seed={run.get('seed')}`.", "", "</details>", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


# -- terminal --------------------------------------------------------------------------------------


def ellipsize_middle(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with ``…`` in the middle (keeping a bit more of the end)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[: max(width, 0)]
    keep = width - 1
    head = keep // 2
    return text[:head] + "…" + text[len(text) - (keep - head) :]


def ellipsize_nodeid(nodeid: str, width: int) -> str:
    """A node id cut to ``width``: first the directories go, then the file, then the middle of the test name."""
    if len(nodeid) <= width:
        return nodeid
    path, sep, name = nodeid.partition("::")
    if not sep:
        return ellipsize_middle(nodeid, width)
    in_file = path.rsplit("/", 1)[-1] + sep + name
    if len(in_file) <= width:
        return in_file
    return ellipsize_middle(name, width)


def ellipsize_end(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[: max(width, 0)]
    return text[: width - 1] + "…"


def _fit(text: str, width: int) -> list[str]:
    import textwrap

    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width=width, subsequent_indent="  ", break_on_hyphens=False)


def _terminal_headline(report: Mapping[str, Any], width: int) -> list[str]:
    """Counts and score; the verdicts; the slowest recovery (its node id cut in the middle to fit)."""
    summary = report["summary"]
    parts = _headline_parts(report)
    if not summary["total"]:
        return _fit(parts[0], width)
    lines = _fit(f"{parts[0]}; {parts[2]}", width) + _fit(parts[1], width)
    slow = summary.get("slowest_recovery")
    if slow:
        text = f"slowest recovery {format_seconds(slow['seconds'])} ("
        lines.append(text + ellipsize_middle(slow["nodeid"], max(width - len(text) - 1, 1)) + ")")
    return lines


def terminal_lines(report: Mapping[str, Any], width: int = 100) -> list[str]:
    """The ``mlchaos`` terminal section: headline, then a table with failures first; no line exceeds ``width``."""
    limit = max(int(width), 1)
    width = max(limit, 20)  # lay out for at least 20 columns, then cut to the real limit
    lines = _terminal_headline(report, width)
    records = failures_first(report["incidents"])
    if not records:
        return [ellipsize_end(line, limit) for line in lines]
    header = ("verdict", "incident test", "strategy", "MTTR", "worst Δ")
    rows = [
        (
            f"{_mark(r)} {_verdict_label(r, short=True)}",
            r["nodeid"],
            r.get("strategy") or "-",
            format_seconds(r.get("time_to_recover")),
            worst_metric_text(r),
        )
        for r in records
    ]
    gap = 2
    widths = _column_widths([header, *rows], width - gap * (len(header) - 1))
    lines.append("")
    for row in (header, *rows):
        cells = []
        for i, text in enumerate(row):
            cut = ellipsize_nodeid(text, widths[i]) if i == 1 else ellipsize_end(text, widths[i])
            cells.append(cut.rjust(widths[i]) if i == 3 else cut.ljust(widths[i]))
        lines.append((" " * gap).join(cells).rstrip())
    return [ellipsize_end(line, limit) for line in lines]


# (column, smallest width) in the order columns give up room: strategy and metric a bit, then the node id
_SHRINK_STEPS = ((2, 12), (1, 36), (4, 14), (1, 24), (2, 8), (4, 10), (1, 12))


def _column_widths(rows: Sequence[Sequence[str]], room: int) -> list[int]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for column, smallest in _SHRINK_STEPS:
        excess = sum(widths) - room
        if excess <= 0:
            break
        widths[column] = max(smallest, widths[column] - excess) if widths[column] > smallest else widths[column]
    return widths


# -- JUnit -----------------------------------------------------------------------------------------


def junit_properties(outcome: IncidentOutcome) -> list[tuple[str, str]]:
    """``--junitxml`` properties of one incident test: verdict, strategy, MTTR, incidents, one delta per metric.

    ``mlchaos_delta_<metric>`` is the signed relative change (``-0.1234`` = 12.34% lower), or ``missing``.
    """
    mttr = outcome.time_to_recover
    properties = [
        ("mlchaos_verdict", outcome.verdict.value),
        ("mlchaos_strategy", outcome.strategy or ""),
        ("mlchaos_mttr", "" if mttr is None else f"{mttr:.6f}"),
        ("mlchaos_incidents", " + ".join(_incident_text(i.to_dict()) for i in outcome.incidents)),
    ]
    for change in outcome.metrics:
        delta = relative_change(change)
        properties.append((f"mlchaos_delta_{change.name}", "missing" if delta is None else f"{delta:+.6f}"))
    return properties
