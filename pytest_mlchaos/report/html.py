"""The report as one self-contained HTML page: inline CSS and SVG, no script, nothing from the network.

Rendered from the report document (schema ``mlchaos-report/2``), so ``mlchaos render`` makes the same page
from a JSON file. Every piece of text from the report is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from .charts import COLORS, HONEST, VERDICTS, metric_bar, mttr_chart
from .render import _verdict_label, failures_first, format_seconds, incidents_text

__all__ = ["comparison_html", "render_html"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2328;margin:0;
background:#f6f8fa}
main{max-width:1200px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 8px;border-bottom:1px solid #d0d7de;
padding-bottom:4px}
section,header{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin-top:14px}
.head{display:flex;gap:28px;align-items:center;flex-wrap:wrap}
.score{font-size:44px;font-weight:700;line-height:1}.score small{font-size:16px;color:#656d76;font-weight:400}
.chips span{display:inline-block;border-radius:12px;padding:2px 10px;margin:2px 4px 2px 0;color:#fff;
font-weight:600;font-size:13px}
.meta{color:#656d76;font-size:13px}.meta b{color:#1f2328;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #eaeef2;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{overflow-wrap:anywhere}
td.m{white-space:nowrap}td.m svg{vertical-align:middle;margin-right:4px}th.t{min-width:260px}
.wide{overflow-x:auto}td.i,td.s{max-width:220px;font-size:12px;overflow-wrap:anywhere}td.i{min-width:180px}td.s{max-width:150px}
pre{background:#f6f8fa;border:1px solid #eaeef2;border-radius:4px;padding:6px 8px;margin:4px 0;
white-space:pre-wrap;word-break:break-all}
.fail{border-left:4px solid #cf222e;padding:6px 10px;margin:10px 0;background:#fff8f8}
.fail h3{font-size:14px;margin:0 0 4px}.fail ul{margin:2px 0 2px 18px;padding:0}
.v{font-weight:600;white-space:nowrap}.pass{color:#1a7f37}.bad{color:#cf222e}.warn{color:#9a6700}
.m0{color:#8c959f}.cell{color:#fff;text-align:center;font-weight:600}
svg text{font:11px system-ui,sans-serif;fill:#1f2328}
.legend{color:#656d76;font-size:12px;margin:4px 0}
"""
_CHANGE_CLASS = {"regressed": "bad", "fixed": "pass", "new": "pass", "removed": "m0"}
_MAX_FAILURES = 200  # failure blocks shown in full; the rest are in the table


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _pct(value: float | None) -> str:
    return "missing" if value is None else f"{value:+.1%}"


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page for ``report`` (a ``mlchaos-report/2`` document)."""
    records = failures_first(report.get("incidents", ()))
    parts = [
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width,initial-scale=1">',
        f"<title>mlchaos resilience report{_title_suffix(report)}</title><style>{_CSS}</style></head><body><main>",
        _headline(report),
    ]
    comparison = report.get("comparison")
    if isinstance(comparison, Mapping):
        parts.append(comparison_html(comparison))
    parts += [
        _matrix(records),
        mttr_chart(records),
        _failures(records, report.get("run", {}).get("seed")),
        _tests_table(records, report.get("run", {}).get("thresholds", {})),
        "</main></body></html>\n",
    ]
    return "".join(parts)


def _title_suffix(report: Mapping[str, Any]) -> str:
    name = (report.get("run", {}).get("project") or {}).get("name")
    return f": {_e(name)}" if name else ""


# -- headline ----------------------------------------------------------------------------------------


def _headline(report: Mapping[str, Any]) -> str:
    summary = report.get("summary", {})
    run = report.get("run", {})
    score = summary.get("score")
    total = summary.get("total", 0)
    counts = dict(summary.get("verdicts", {}))
    honest = int(summary.get("expected_unrecoverable") or 0)
    counts["unrecovered"] = counts.get("unrecovered", 0) - honest
    counts[HONEST] = honest
    chips = "".join(
        f'<span style="background:{COLORS[v]}">{counts[v]} {_e(_column_label(v))}</span>'
        for v in VERDICTS
        if counts.get(v)
    )
    t = run.get("thresholds", {})
    meta = [
        f"seed <b>{_e(run.get('seed'))}</b>",
        f"project <b>{_e((run.get('project') or {}).get('name') or '-')}</b>",
    ]
    if "warn_drop" in t:
        meta.append(f"warn drop <b>{t['warn_drop']:.0%}</b>, fail drop <b>{t['fail_drop']:.0%}</b>")
    if t.get("max_mttr"):
        meta.append(f"max MTTR <b>{_e(format_seconds(t['max_mttr']))}</b>")
    if t.get("strict"):
        meta.append("<b>strict</b>")
    directions = t.get("directions") or {}
    if directions:
        gated = ", ".join(f"{_e(m)} {'↓' if d == 'lower_is_better' else '↑'}" for m, d in sorted(directions.items()))
        meta.append(f"gating on <b>{gated}</b>")
    if run.get("started"):
        meta.append(f"started {_e(run['started'])}")
    score_text = "n/a" if score is None else f"{score:g}"
    headline = (
        f"{total} incident test{'s' if total != 1 else ''}: "
        f"<span class=pass>{summary.get('passed', 0)} passed</span>, "
        f"<span class={'bad' if summary.get('failed') else 'm0'}>{summary.get('failed', 0)} failed</span>"
    )
    return (
        "<header><h1>mlchaos resilience report</h1><div class=head>"
        f"<div class=score>{score_text}<small>/100 resilience score</small></div>"
        f"<div><div>{headline}</div><div class=chips>{chips}</div></div></div>"
        f"<p class=meta>{' · '.join(meta)}</p></header>"
    )


# -- matrix: incident kind/mode x verdict ---------------------------------------------------------------


def _kind_label(record: Mapping[str, Any]) -> str:
    labels = []
    for incident in record.get("incidents", ()):
        mode = incident.get("mode")
        labels.append(str(incident.get("kind")) + (f"/{mode}" if mode else ""))
    return " + ".join(labels) or "(none)"


def _column(record: Mapping[str, Any]) -> str:
    if record["verdict"] == "unrecovered" and record.get("expect") == "unrecoverable":
        return HONEST
    return str(record["verdict"])


def _column_label(column: str) -> str:
    return "unrecovered (expected)" if column == HONEST else column.replace("_", " ")


def _matrix(records: Sequence[Mapping[str, Any]]) -> str:
    counts: dict[str, dict[str, int]] = {}
    for r in records:
        row = counts.setdefault(_kind_label(r), {})
        row[_column(r)] = row.get(_column(r), 0) + 1
    if not counts:
        return "<section><h2>Incidents × verdicts</h2><p>No incident tests ran.</p></section>"
    top = max(n for row in counts.values() for n in row.values())
    head = "".join(f"<th>{_e(_column_label(v))}</th>" for v in VERDICTS)
    rows = []
    for label in sorted(counts):
        cells = []
        for v in VERDICTS:
            n = counts[label].get(v, 0)
            if n:
                alpha = 0.35 + 0.65 * n / top
                cells.append(f'<td class=cell style="background:{COLORS[v]};opacity:{alpha:.2f}">{n}</td>')
            else:
                cells.append("<td class='n m0'>·</td>")
        total = sum(counts[label].values())
        rows.append(f"<tr><td><code>{_e(label)}</code></td>{''.join(cells)}<td class=n>{total}</td></tr>")
    return (
        "<section><h2>Incidents × verdicts</h2>"
        f"<table><tr><th>incident kind/mode</th>{head}<th>total</th></tr>{''.join(rows)}</table></section>"
    )


# -- failures first --------------------------------------------------------------------------------------


def _failures(records: Sequence[Mapping[str, Any]], seed: Any) -> str:
    failed = [r for r in records if not r.get("passed")]
    if not failed:
        return "<section><h2>Failures</h2><p class=pass>No incident test failed.</p></section>"
    blocks = [_failure_block(r) for r in failed[:_MAX_FAILURES]]
    more = len(failed) - _MAX_FAILURES
    if more > 0:
        blocks.append(f"<p>… and {more} more failures (in the table below).</p>")
    return (
        f"<section><h2>Failures ({len(failed)})</h2>"
        f"<p class=meta>Rerun the whole run with <code>--mlchaos-seed={_e(seed)}</code>.</p>"
        + "".join(blocks)
        + "</section>"
    )


def _failure_block(r: Mapping[str, Any]) -> str:
    lines = [
        f"<div class=fail><h3><code>{_e(r['nodeid'])}</code> · <span class='v bad'>{_e(_verdict_label(r))}</span></h3>"
    ]
    lines.append(f"<div>{_e(r.get('reason') or r['verdict'])}</div><ul>")
    lines.append(f"<li>incident: <code>{_e(incidents_text(r))}</code></li>")
    attempts = r.get("attempts") or ()
    if attempts:
        tried = "; ".join(
            f"{a.get('strategy')} {'ok' if a.get('succeeded') else 'failed'} {format_seconds(a.get('seconds'))}"
            + (f" ({a['error']})" if a.get("error") else "")
            for a in attempts
        )
        lines.append(f"<li>strategies tried: {_e(tried)}</li>")
    evidence = (
        ("still damaged", "still_damaged"),
        ("replaced with different content", "replaced"),
        ("stores left damaged", "stores"),
        ("lossy", "lossy"),
        ("problem", "problems"),
    )
    for label, key in evidence:
        items = list(r.get(key) or ())
        if items:
            extra = f" (+{len(items) - 8} more)" if len(items) > 8 else ""
            lines.append(f"<li>{label}: {_e('; '.join(items[:8]) + extra)}</li>")
    error = r.get("error")
    if isinstance(error, Mapping):
        lines.append(f"<li>error in {_e(error.get('where'))}: {_e(error.get('type'))}: {_e(error.get('message'))}</li>")
    for m in r.get("metrics") or ():
        after = "missing" if m.get("after") is None else f"{m['after']:.4g}"
        lines.append(
            f"<li>metric {_e(m['name'])}: {m['baseline']:.4g} → {_e(after)} ({_e(_pct(m.get('relative_change')))})</li>"
        )
    lines.append("</ul>")
    replay = r.get("replay") or ()
    if replay:
        lines.append("<div>replay with:</div><pre>" + _e("\n".join(replay)) + "</pre>")
    lines.append("</div>")
    return "".join(lines)


# -- every test, with each gated metric against the thresholds -------------------------------------------------


def _metric_names(records: Sequence[Mapping[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for r in records:
        for m in r.get("metrics") or ():
            names.setdefault(str(m["name"]), None)
    return list(names)


def _tests_table(records: Sequence[Mapping[str, Any]], thresholds: Mapping[str, Any]) -> str:
    if not records:
        return ""
    warn = float(thresholds.get("warn_drop", 0.05))
    fail = float(thresholds.get("fail_drop", 0.10))
    names = _metric_names(records)
    head = "".join(f"<th>{_e(n)} Δ</th>" for n in names)
    rows = []
    for r in records:
        by_name = {str(m["name"]): m for m in r.get("metrics") or ()}
        cells = []
        for name in names:
            m = by_name.get(name)
            if m is None:
                cells.append("<td class=m0>-</td>")
                continue
            drop = m.get("relative_drop")
            cells.append(f"<td class=m>{metric_bar(drop, warn, fail)}{_e(_pct(m.get('relative_change')))}</td>")
        status = "bad" if not r.get("passed") else "warn" if r["verdict"] == "degraded" else "pass"
        mark = "✗" if status == "bad" else "!" if status == "warn" else "✓"
        rows.append(
            f"<tr><td class='v {status}'>{mark} {_e(_verdict_label(r))}</td><td><code>{_e(r['nodeid'])}</code></td>"
            f"<td class=i>{_e(incidents_text(r))}</td><td class=s>{_e(r.get('strategy') or '-')}</td>"
            f"<td class=n>{_e(format_seconds(r.get('time_to_recover')))}</td>{''.join(cells)}</tr>"
        )
    return (
        "<section><h2>Every incident test, failures first</h2>"
        f"<p class=legend>Bars: each gated metric's drop, against the warn ({warn:.0%}, amber dashes) and fail "
        f"({fail:.0%}, red dashes) thresholds; the number is the signed change.</p>"
        "<div class=wide><table><tr><th>verdict</th><th class=t>test</th><th>incident(s)</th><th>strategy</th>"
        f"<th>MTTR</th>{head}</tr>" + "".join(rows) + "</table></div></section>"
    )


# -- comparison with a previous report ------------------------------------------------------------------


def comparison_html(comparison: Mapping[str, Any]) -> str:
    """The section of what changed since the previous report (``compare.compare`` output)."""
    from .compare import outcome_text

    verdict = "bad" if comparison.get("failed") else "pass"
    prev, cur = comparison.get("previous_score"), comparison.get("score")
    head = (
        f"<p class={verdict}><b>{_e(comparison.get('summary', ''))}</b></p>"
        f"<p class=meta>score {_e('n/a' if prev is None else f'{prev:g}')} → {_e('n/a' if cur is None else f'{cur:g}')}"
        f" · previous report {_e(comparison.get('previous') or '-')}</p>"
    )

    def test_rows(keys: Sequence[str]) -> list[str]:
        return [
            f"<tr><td class='v {_CHANGE_CLASS[key]}'>{key}</td><td><code>{_e(item['nodeid'])}</code></td>"
            f"<td>{_e(outcome_text(item.get('before'), item.get('before_passed')))}</td>"
            f"<td>{_e(outcome_text(item.get('after'), item.get('after_passed')))}</td></tr>"
            for key in keys
            for item in comparison.get(key) or ()
        ]

    rows = test_rows(("regressed", "fixed"))
    for item in comparison.get("mttr") or ():
        rows.append(
            f"<tr><td class='v warn'>MTTR {_e(item['change'])}</td><td><code>{_e(item['strategy'])}</code></td>"
            f"<td>{_e(format_seconds(item['before']))}</td><td>{_e(format_seconds(item['after']))}</td></tr>"
        )
    header = "<tr><th>change</th><th>test / strategy</th><th>before</th><th>after</th></tr>"
    table = (
        f"<table>{header}{''.join(rows)}</table>"
        if rows
        else "<p>No test changed its outcome and no recovery got slower.</p>"
    )
    others = test_rows(("new", "removed"))
    if others:  # folded: a renamed module makes dozens of them
        counts = f"{len(comparison.get('new') or ())} new, {len(comparison.get('removed') or ())} removed tests"
        table += f"<details><summary>{counts}</summary><table>{header}{''.join(others)}</table></details>"
    return f"<section><h2>Compared with the previous report</h2>{head}{table}</section>"
