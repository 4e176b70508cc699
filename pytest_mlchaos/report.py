"""The resilience report: JSON (schema ``mlchaos-report/1``), Markdown for CI summaries, terminal lines.

Pure functions over ``IncidentOutcome`` records; no pytest import. The plugin builds one
report on the controller (``build_report``), lets plugins extend it through the
``pytest_mlchaos_report`` hook, then renders and writes it. The schema is documented in
``docs/report-schema.md`` and ``docs/mlchaos-report-1.schema.json``.
"""

from __future__ import annotations

import copy
import math
import os
import platform
import re
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .gate import MetricChange, Verdict
from .outcome import IncidentOutcome

SCHEMA = "mlchaos-report/1"

#: Weight of each verdict in the resilience score (see ``resilience_score``).
VERDICT_WEIGHTS: Mapping[Verdict, float] = {
    Verdict.RESTORED: 1.0,
    Verdict.REPAIRED: 0.9,
    Verdict.DEGRADED: 0.6,
    Verdict.CRITICAL: 0.0,
    Verdict.UNRECOVERED: 0.0,
    Verdict.FALSE_RECOVERY: 0.0,
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
}
_VERDICT_ORDER = [v.value for v in Verdict]
_VERSION_PACKAGES = (("pytest", "pytest"), ("pytest-mlchaos", "pytest-mlchaos"), ("dvc", "dvc"),
                     ("mlflow", "mlflow"), ("sklearn", "scikit-learn"))
_TIMING_RUN_KEYS = ("started", "duration", "workers")
_TIMING_RECORD_KEYS = ("time_to_detect", "time_to_recover", "time_to_metrics")


#: What ``RunInfo.to_dict`` reports for thresholds the caller left out (the plugin's defaults).
DEFAULT_THRESHOLDS: Mapping[str, Any] = {"warn_drop": 0.05, "fail_drop": 0.10, "metrics": (), "max_mttr": None,
                                         "strict": False}


def utc_now() -> str:
    """The current time as ISO 8601 UTC, to the second."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ReportPathError(ValueError):
    """A report path that cannot be written; the message names the option and the path."""


@dataclass(frozen=True)
class RunInfo:
    """What the report says about the run: seed, project, versions, thresholds, timing, workers.

    ``project`` has ``name`` and ``source``; ``versions`` comes from ``collect_versions()``;
    ``thresholds`` has ``warn_drop``, ``fail_drop``, ``metrics``, ``max_mttr``, ``strict``;
    ``started`` is ISO 8601 UTC; ``duration`` is seconds; ``workers`` is 0 without xdist.
    Left out, versions are collected, ``started`` is now, and thresholds are the plugin's defaults.
    """

    seed: int
    project: Mapping[str, str | None] = field(default_factory=dict)
    versions: Mapping[str, str | None] = field(default_factory=lambda: collect_versions())
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    started: str = field(default_factory=lambda: utc_now())
    duration: float = 0.0
    workers: int = 0

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
        }


def collect_versions() -> dict[str, str | None]:
    """Versions of Python and the packages the report names (None when not installed); imports none of them."""
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {"python": platform.python_version()}
    for key, dist in _VERSION_PACKAGES:
        try:
            versions[key] = version(dist)
        except PackageNotFoundError:
            versions[key] = None
    return versions


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
    ``unrecoverable``: an honest report), false_recovery 0; a failed test counts at most
    0.5. Every weight is in [0, 1], so the score cannot exceed 100, and the ``max`` keeps
    the penalty from pushing it below 0. An empty run has no evidence, hence None, not 100.
    """
    if not outcomes:
        return None
    total = math.fsum(outcome_weight(o) for o in outcomes)  # exact, so the order of outcomes cannot matter
    false = sum(1 for o in outcomes if o.verdict is Verdict.FALSE_RECOVERY)
    score = 100.0 * max(0.0, total - FALSE_RECOVERY_PENALTY * false) / len(outcomes)
    return round(min(100.0, max(0.0, score)), 2)


# -- the gate --------------------------------------------------------------------------------


def gate_mttr(outcome: IncidentOutcome, max_mttr: float | None) -> str | None:
    """The failure reason when the recovery took longer than ``max_mttr`` seconds, else None."""
    took = outcome.time_to_recover
    if max_mttr is None or took is None or took <= max_mttr:
        return None
    via = f" via {outcome.strategy}" if outcome.strategy else ""
    shown = f"{took:.3f}" if round(took, 3) > max_mttr else f"{took:.6f}"  # never "10.000s over 10s"
    return (f"recovery too slow: it took {shown}s{via}, over the MTTR budget of {max_mttr:g}s "
            f"(--mlchaos-max-mttr)")


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
    if hasattr(value, "value") and isinstance(getattr(value, "value"), str):  # enums such as Verdict
        return value.value
    return str(value)


def incident_record(outcome: IncidentOutcome) -> dict[str, Any]:
    """The report record of one incident test; a superset of ``outcome.to_dict()``.

    Added: ``replay`` (marker lines), ``worst_drop``, and per metric ``relative_change``
    (signed). A missing metric has ``after`` and ``relative_drop`` null (the drop is
    infinite); ``outcome_from_record`` reads that back.
    """
    record = jsonable(outcome.to_dict())
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
            1 for o in outcomes if o.verdict is Verdict.UNRECOVERED and o.expect == "unrecoverable"),
        "score": resilience_score(outcomes),
        "slowest_recovery": slowest_recovery(outcomes),
        "mttr_by_strategy": mttr_by_strategy(outcomes),
        "attempts_by_strategy": attempts_by_strategy(outcomes),
    }


def build_report(run: RunInfo, outcomes: Sequence[IncidentOutcome]) -> dict[str, Any]:
    """The JSON-serialisable report (schema ``mlchaos-report/1``); records sorted by node id."""
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
    return data


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
    return max(metrics, key=lambda m: math.inf if m.get("relative_drop") is None else m["relative_drop"])


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
        severity = {"false_recovery": 0, "critical": 1, "unrecovered": 2}.get(verdict, 3)
        return (0, severity, record["nodeid"])
    order = {"degraded": 1, "unrecovered": 2, "repaired": 3, "restored": 4}
    return (order.get(verdict, 5), 0, record["nodeid"])


def failures_first(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Records ordered: failed (false recovery, critical, unrecovered, others), degraded, then passes."""
    return sorted(records, key=_rank)


def _mark(record: Mapping[str, Any]) -> str:
    """``✗`` failed, ``!`` passed with a warning (degraded), ``✓`` passed."""
    if not record["passed"]:
        return "✗"
    return "!" if record["verdict"] == "degraded" else "✓"


def _verdict_label(record: Mapping[str, Any], short: bool = False) -> str:
    if record["verdict"] == "unrecovered" and record.get("expect") == "unrecoverable":
        return "unrecovered (exp)" if short else "unrecovered (expected)"
    return record["verdict"]


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
    records = failures_first(report["incidents"])
    if records:
        lines += ["| | Test | Incident(s) | Verdict | Strategy | MTTR | Worst metric Δ |",
                  "|---|---|---|---|---|---:|---|"]
        for r in records:
            symbol = VERDICT_SYMBOLS.get(r["verdict"], "")
            if not r["passed"]:
                symbol = "❌"
            elif r["verdict"] == "unrecovered":
                symbol = "✅"
            lines.append("| " + " | ".join([
                symbol, md_code(r["nodeid"]), md_cell(incidents_text(r)), md_cell(_verdict_label(r)),
                md_cell(r.get("strategy") or "-"), format_seconds(r.get("time_to_recover")),
                md_cell(worst_metric_text(r)),
            ]) + " |")
        lines.append("")
    mttr = summary.get("mttr_by_strategy", {})
    attempts = summary.get("attempts_by_strategy", {})
    if mttr or attempts:
        lines += ["| Strategy | Recoveries | MTTR mean | MTTR median | MTTR max | Attempts (succeeded) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name in sorted(set(mttr) | set(attempts)):
            stats = mttr.get(name, {"count": 0, "mean": None, "median": None, "max": None})
            tried = attempts.get(name)
            lines.append("| " + " | ".join([
                md_cell(name), str(stats["count"]), format_seconds(stats["mean"]), format_seconds(stats["median"]),
                format_seconds(stats["max"]), f"{tried['count']} ({tried['succeeded']})" if tried else "0",
            ]) + " |")
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
        return "…"[:max(width, 0)]
    keep = width - 1
    head = keep // 2
    return text[:head] + "…" + text[len(text) - (keep - head):]


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
        return "…"[:max(width, 0)]
    return text[:width - 1] + "…"


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
    rows = [(
        f"{_mark(r)} {_verdict_label(r, short=True)}", r["nodeid"], r.get("strategy") or "-",
        format_seconds(r.get("time_to_recover")), worst_metric_text(r),
    ) for r in records]
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


# -- writing ---------------------------------------------------------------------------------------


def _nearest_existing(path: Path) -> Path:
    current = path
    while not current.exists() and not current.is_symlink():
        if current.parent == current:
            break
        current = current.parent
    return current


def check_writable(path: str | os.PathLike[str], option: str) -> None:
    """Raise ``ReportPathError`` naming ``option`` and ``path`` unless a report can be written there.

    Checked at start-up and leaves nothing behind: a probe file, if one is made, is removed.
    """
    text = os.fspath(path)
    if not str(text).strip():
        raise ReportPathError(f"{option}: the path is empty; give a file path such as mlchaos-report.json")
    target = Path(text).expanduser()
    if target.is_dir():
        raise ReportPathError(f"{option}={text}: is a directory; give a file path inside it")
    ancestor = _nearest_existing(target.parent)
    if not ancestor.is_dir():
        raise ReportPathError(f"{option}={text}: cannot create it, because {ancestor} is a file, not a directory")
    if target.exists() and not os.access(target, os.W_OK):
        raise ReportPathError(f"{option}={text}: the file exists and is not writable")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ReportPathError(f"{option}={text}: directory {ancestor} is not writable")
    try:
        fd, probe = tempfile.mkstemp(dir=ancestor, prefix=".mlchaos-probe-")
    except OSError as exc:
        raise ReportPathError(f"{option}={text}: cannot create a file in {ancestor} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` all at once: a temp file in the same directory, then ``os.replace``.

    Parent directories are created. A reader sees the old file or the new one, never half of
    one; on error the temp file is removed and the old file is left as it was.
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = (target.stat().st_mode & 0o7777) if target.exists() else (0o666 & ~_umask())
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def dumps(report: Mapping[str, Any]) -> str:
    """The report as strict JSON text (no NaN or Infinity), indented, with a final newline."""
    import json

    return json.dumps(jsonable(report), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(report: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the report as JSON, atomically."""
    return atomic_write_text(path, dumps(report))


def write_markdown(report: Mapping[str, Any], path: str | os.PathLike[str], *, append: bool = False) -> Path:
    """Write the Markdown summary, atomically; ``append=True`` keeps what the file held (e.g. a step summary)."""
    text = render_markdown(report)
    target = Path(path).expanduser()
    if append and target.is_file():
        old = target.read_text(encoding="utf-8")
        if old and not old.endswith("\n"):
            old += "\n"
        text = old + ("\n" if old else "") + text
    return atomic_write_text(target, text)
