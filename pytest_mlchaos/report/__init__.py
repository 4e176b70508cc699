"""The resilience report: JSON (schema ``mlchaos-report/2``), Markdown for CI summaries, terminal lines.

The plugin builds one report on the controller (``document.build_report``), lets plugins extend
it through the ``pytest_mlchaos_report`` hook, then renders (``render``) and writes it
(``files``). No pytest import. The schema is documented in ``docs/report-schema.md`` and
``docs/mlchaos-report-2.schema.json``.
"""

from .document import (
    DEFAULT_THRESHOLDS,
    FAILED_WEIGHT_CAP,
    FALSE_RECOVERY_PENALTY,
    HONEST_UNRECOVERABLE_WEIGHT,
    SCHEMA,
    VERDICT_SYMBOLS,
    VERDICT_WEIGHTS,
    RunInfo,
    attempts_by_strategy,
    build_report,
    collect_versions,
    comparable,
    incident_record,
    jsonable,
    mttr_by_strategy,
    outcome_from_record,
    outcome_weight,
    relative_change,
    resilience_score,
    slowest_recovery,
    summarize,
    utc_now,
)
from .files import ReportPathError, atomic_write_text, check_writable, dumps, write_json, write_markdown
from .render import (
    ellipsize_end,
    ellipsize_middle,
    ellipsize_nodeid,
    failures_first,
    format_seconds,
    incidents_text,
    junit_properties,
    markdown_headline,
    md_cell,
    md_code,
    render_markdown,
    terminal_lines,
    worst_metric_text,
)

__all__ = [
    "DEFAULT_THRESHOLDS", "FAILED_WEIGHT_CAP", "FALSE_RECOVERY_PENALTY", "HONEST_UNRECOVERABLE_WEIGHT", "SCHEMA",
    "VERDICT_SYMBOLS", "VERDICT_WEIGHTS", "ReportPathError", "RunInfo", "atomic_write_text", "attempts_by_strategy",
    "build_report", "check_writable", "collect_versions", "comparable", "dumps", "ellipsize_end", "ellipsize_middle",
    "ellipsize_nodeid", "failures_first", "format_seconds", "incident_record", "incidents_text",
    "jsonable", "junit_properties", "markdown_headline", "md_cell", "md_code", "mttr_by_strategy",
    "outcome_from_record", "outcome_weight", "relative_change", "render_markdown", "resilience_score",
    "slowest_recovery", "summarize", "terminal_lines", "utc_now", "worst_metric_text", "write_json", "write_markdown",
]
