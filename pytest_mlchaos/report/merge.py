"""Merging the reports of CI shards into one report of the same schema, with the summary and score recomputed.

Only shards of one run merge: every input must have the same seed, project and thresholds (what the score and
the verdicts depend on), and no incident test may appear in two inputs. No pytest import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .document import SCHEMA, outcome_from_record, summarize

__all__ = ["MergeError", "merge_reports"]


class MergeError(ValueError):
    """Reports that are not shards of one run; the message names the file and the field."""


_SAME = (("seed", "seed"), ("project", "project"), ("thresholds", "thresholds"))


def merge_reports(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """One report of the named ``reports`` (``(file name, report)`` pairs, each already ``mlchaos-report/2``).

    ``run`` is the first's, with the earliest ``started``, the longest ``duration`` and the workers added up;
    records are sorted by node id; ``summary`` is recomputed by ``document.summarize`` (the plugin's own
    scoring); ``extensions`` are merged key by key, the first report's winning.
    """
    if not reports:
        raise MergeError("no reports to merge")
    first_name, first = reports[0]
    seen: dict[str, str] = {}
    for name, report in reports:
        if report.get("schema") != SCHEMA:
            raise MergeError(f"{name}: schema {report.get('schema')!r}, expected {SCHEMA!r}")
        for key, label in _SAME:
            if report["run"].get(key) != first["run"].get(key):
                raise MergeError(
                    f"{name}: its {label} {report['run'].get(key)!r} differs from {first_name}'s "
                    f"{first['run'].get(key)!r}; only shards of one run (same seed, project and thresholds) merge"
                )
        for record in report["incidents"]:
            nodeid = str(record["nodeid"])
            if nodeid in seen:
                raise MergeError(f"{name}: {nodeid} is also in {seen[nodeid]}; each test must be in one shard only")
            seen[nodeid] = name
    records = sorted(
        (dict(r) for _, report in reports for r in report["incidents"]),
        key=lambda r: (str(r["nodeid"]), str(r.get("verdict"))),
    )
    run = dict(first["run"])
    starts = [r["run"].get("started") for _, r in reports if r["run"].get("started")]
    if starts:
        run["started"] = min(starts)
    run["duration"] = max((r["run"].get("duration") or 0.0) for _, r in reports)
    run["workers"] = sum(int(r["run"].get("workers") or 0) for _, r in reports)
    extensions: dict[str, Any] = {}
    for _, report in reversed(reports):
        extensions.update(report.get("extensions") or {})
    return {
        "schema": SCHEMA,
        "run": run,
        "summary": summarize([outcome_from_record(r) for r in records]),
        "incidents": records,
        "extensions": extensions,
    }
