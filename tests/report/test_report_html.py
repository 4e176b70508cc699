"""The HTML page: self-contained, escaped, failures first, the matrix, the MTTR chart and the metric bars."""

from __future__ import annotations

import re

import pytest
from html.parser import HTMLParser

from pytest_mlchaos.gate import MetricChange, Verdict
from pytest_mlchaos.report.document import build_report
from pytest_mlchaos.report.charts import COLORS, HONEST, metric_bar, mttr_samples
from pytest_mlchaos.report.html import render_html


class _Collect(HTMLParser):
    """Tags and text of a page, to check it parses and what a reader sees."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> _Collect:
    collect = _Collect()
    collect.feed(page)
    return collect


def test_the_page_loads_nothing_from_the_network_and_has_no_script(outcomes, run):
    page = render_html(build_report(run(), outcomes))
    tags = parsed(page).tags
    assert "script" not in tags and "link" not in tags and "img" not in tags and "iframe" not in tags
    assert not re.search(r"\b(src|href)\s*=", page)
    assert "url(" not in page and "@import" not in page
    assert "<style>" in page and "<svg" in page


def test_the_headline_names_score_counts_seed_project_and_thresholds(outcomes, run):
    report = build_report(run(seed=987), outcomes)
    text = "".join(parsed(render_html(report)).text)
    assert f"{report['summary']['score']:g}/100 resilience score" in text
    assert "8 incident tests: 4 passed, 4 failed" in text
    assert "2 critical" in text and "1 false recovery" in text
    assert "1 unrecovered1 unrecovered (expected)" in text  # a test that expected it, and passed, apart
    assert "seed 987" in text and "project toy" in text
    assert "warn drop 5%, fail drop 10%" in text


def test_text_from_the_report_is_escaped(make, run):
    nasty = "tests/test_x.py::test_it[<script>alert(1)</script>&amp]"
    outcome = make(nasty, Verdict.CRITICAL, reason="critical: a <b>bold</b> & 'quoted' claim", strategy="<retrain>",
                   recovery_claimed=True, time_to_recover=1.0, metrics=(MetricChange("acc<", 0.9, 0.5, 0.44),))
    report = build_report(run(project={"name": "<proj>", "source": None}), [outcome])
    page = render_html(report)
    assert "<script>" not in page and "<b>bold" not in page and "<retrain>" not in page and "<proj>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp]" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &#x27;quoted&#x27; claim" in page
    assert nasty in "".join(parsed(page).text)  # what a reader sees is the original text


def test_failures_come_first_with_their_reason_and_replay_lines(outcomes, run):
    report = build_report(run(), outcomes)
    page = render_html(report)
    failures = page[page.index("<h2>Failures (4)</h2>"):page.index("<h2>Every incident test")]
    assert failures.index("test_false_recovery") < failures.index("test_critical") < failures.index("test_unrecovered")
    assert "@pytest.mark.incident(&#x27;model_loss&#x27;, mode=&#x27;delete&#x27;, seed=13)" in failures
    assert "the damage is still there" in failures
    assert "--mlchaos-seed=1234" in failures
    assert "test_restored" not in failures
    table = page[page.index("<h2>Every incident test"):]
    assert table.index("test_false_recovery") < table.index("test_degraded") < table.index("test_restored")


def test_a_run_without_failures_says_so(make, run):
    page = render_html(build_report(run(), [make("t.py::test_ok", Verdict.RESTORED)]))
    assert "No incident test failed." in page


def test_the_matrix_counts_each_incident_kind_and_mode_by_verdict(outcomes, run):
    page = render_html(build_report(run(), outcomes))
    matrix = page[page.index("<h2>Incidents × verdicts</h2>"):page.index("<h2>MTTR")]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr><td><code>([^<]+)</code></td>.*?</tr>", matrix)}
    assert set(rows) == {"data_corruption/missing_values", "data_corruption/noise", "model_loss/delete",
                         "pipeline_failure", "data_corruption/missing_values + model_loss/delete",
                         "model_loss/delete + data_corruption/missing_values"}
    missing = rows["data_corruption/missing_values"]
    assert f"background:{COLORS['restored']}" in missing and f"background:{COLORS['degraded']}" in missing
    assert missing.endswith("<td class=n>2</td></tr>")
    assert f"background:{COLORS['false_recovery']}" in rows["pipeline_failure"]
    model_loss = rows["model_loss/delete"]  # one critical, one unrecovered that expected to be
    assert f"background:{COLORS['critical']}" in model_loss and f"background:{COLORS[HONEST]}" in model_loss
    assert f"background:{COLORS['unrecovered']}" not in model_loss


def test_the_mttr_chart_has_a_row_and_a_dot_per_recovery_of_each_strategy(outcomes, run):
    report = build_report(run(), outcomes)
    samples = mttr_samples(report["incidents"])
    assert {name: len(v) for name, v in samples.items()} == {
        name: stats["count"] for name, stats in report["summary"]["mttr_by_strategy"].items()
    }
    page = render_html(report)
    chart = page[page.index("<h2>MTTR per recovery strategy</h2>"):page.index("<h2>Failures")]
    assert chart.count("<circle") == sum(len(v) for v in samples.values())
    assert chart.count("<rect") == len(samples)  # one box per strategy
    assert "n=2, median 2.50s" in chart  # retrain: 2.0 s and 3.0 s


def test_a_metric_bar_is_coloured_by_where_the_drop_falls_against_the_thresholds():
    assert COLORS["repaired"] in metric_bar(0.02, 0.05, 0.10)
    assert COLORS["degraded"] in metric_bar(0.07, 0.05, 0.10)
    assert COLORS["critical"] in metric_bar(0.5, 0.05, 0.10)
    assert COLORS["critical"] in metric_bar(None, 0.05, 0.10)  # missing after recovery
    bar = metric_bar(0.05, 0.05, 0.10)
    widths = re.findall(r'<rect width="([\d.]+)"', bar)
    assert float(widths[1]) == float(widths[0]) / 4  # drop 0.05 on a scale to 2 x fail = 0.2


def test_each_gated_metric_has_a_column_with_the_signed_change(outcomes, run):
    page = render_html(build_report(run(), outcomes))
    table = page[page.index("<h2>Every incident test"):]
    for name in ("accuracy", "f1", "rmse"):
        assert f"<th>{name} Δ</th>" in table
    assert "-20.0%" in table and "missing" in table


def test_an_empty_report_renders(run):
    page = render_html(build_report(run(), []))
    assert "n/a<small>/100" in page and "No incident tests ran." in page


def test_the_time_axis_turns_logarithmic_when_times_span_decades():
    from pytest_mlchaos.report.charts import SecondsAxis

    linear = SecondsAxis.fit([0.5, 1.0, 3.2])
    assert not linear.log and linear.high == 4.0 and linear.position(2.0) == 0.5
    log = SecondsAxis.fit([0.05, 0.2, 10.1])
    assert log.log and (log.low, log.high) == (0.01, 10.0)
    assert log.position(0.1) == pytest.approx(1 / 3) and log.position(10.1) == 1.0
    assert log.ticks() == pytest.approx([0.01, 0.1, 1.0, 10.0])
