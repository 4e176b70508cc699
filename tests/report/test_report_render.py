"""Markdown summary, terminal section and JUnit properties rendered from a report."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_mlchaos.gate import MetricChange, Verdict
from pytest_mlchaos.incidents.spec import Incident
from pytest_mlchaos.outcome import IncidentOutcome
from pytest_mlchaos.report import render_markdown
from pytest_mlchaos.report.document import RunInfo, build_report
from pytest_mlchaos.report.render import ellipsize_middle, junit_properties, md_code, terminal_lines


def table_rows(markdown: str, header_start: str) -> list[list[str]]:
    """The data rows of the Markdown table whose header starts with ``header_start``, split on unescaped pipes."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([c.strip() for c in cells])
    return rows


# -- Markdown ------------------------------------------------------------------------------------


def test_the_markdown_headline_says_passed_degraded_failed_score_and_slowest_recovery(outcomes, run):
    markdown = render_markdown(build_report(run(), outcomes))
    headline = markdown.splitlines()[2]
    assert headline.startswith("**8 incident tests: 4 passed (1 degraded), 4 failed**")
    assert "resilience score **37.5**/100" in headline
    assert "slowest recovery 3.00s (`scenarios/test_model.py::test_critical`)" in headline


def test_the_markdown_table_has_one_row_per_incident_test_failures_first(outcomes, run, long_nodeid):
    rows = table_rows(render_markdown(build_report(run(), outcomes)), "| | Test |")
    assert len(rows) == len(outcomes)
    assert all(len(row) == 7 for row in rows)
    verdicts = [row[3] for row in rows]
    assert verdicts == ["false_recovery", "critical", "critical", "unrecovered", "degraded",
                        "unrecovered (expected)", "repaired", "restored"]
    assert [row[0] for row in rows] == ["❌"] * 4 + ["⚠️", "✅", "✅", "✅"]
    critical = [row for row in rows if row[3] == "critical"]
    assert [row[1] for row in critical] == [md_code(long_nodeid), "`scenarios/test_model.py::test_critical`"]


def test_a_markdown_row_shows_incidents_strategy_mttr_and_worst_metric_change(outcomes, run):
    rows = table_rows(render_markdown(build_report(run(), outcomes)), "| | Test |")
    critical = next(row for row in rows if row[1] == "`scenarios/test_model.py::test_critical`")
    assert critical[2:] == ["model_loss/delete", "critical", "retrain", "3.00s", "-20.0% accuracy"]
    repaired = next(row for row in rows if row[3] == "repaired")
    assert repaired[2] == "data_corruption/noise(fraction=0.1, scale=3.0)"
    assert repaired[4:] == ["rerun_pipeline", "1.55s", "-2.2% accuracy"]


def test_pipes_in_node_ids_and_reasons_are_escaped_so_the_table_keeps_its_columns(outcomes, run, long_nodeid):
    markdown = render_markdown(build_report(run(), outcomes))
    row = next(line for line in markdown.splitlines() if "seed-3" in line and line.startswith("| "))
    assert "[seed-3\\|fraction=0.2]" in row
    assert len(re.split(r"(?<!\\)\|", row.strip())) == 9  # 7 cells between 8 unescaped pipes
    failure = next(line for line in markdown.splitlines() if line.startswith("- ") and "seed-3" in line)
    assert "threshold \\| missing metric" in failure


def test_a_missing_metric_shows_as_missing(outcomes, run, long_nodeid):
    rows = table_rows(render_markdown(build_report(run(), outcomes)), "| | Test |")
    row = next(row for row in rows if "seed-3" in row[1])
    assert row[6] == "missing f1"


def test_failures_come_with_their_reason_and_replay_lines(outcomes, run):
    markdown = render_markdown(build_report(run(), outcomes))
    details = markdown[markdown.index("<details>"):markdown.index("</details>")]
    assert "`scenarios/test_pipeline.py::test_false_recovery`: false recovery: the recovery manager reported " \
           "success, but the damage is still there" in details
    assert "`@pytest.mark.incident('pipeline_failure', target='dvc.yaml', stage='train', seed=14)`" in details
    assert "--mlchaos-seed=1234" in details
    assert "test_restored" not in details


def test_the_markdown_has_an_mttr_table_per_strategy(outcomes, run):
    rows = table_rows(render_markdown(build_report(run(), outcomes)), "| Strategy |")
    assert rows == [
        ["noop", "1", "0.00s", "0.00s", "0.00s", "0"],
        ["rerun_pipeline", "2", "1.40s", "1.40s", "1.55s", "2 (2)"],
        ["restore_backup", "1", "0.25s", "0.25s", "0.25s", "3 (1)"],
        ["retrain", "2", "2.50s", "2.50s", "3.00s", "1 (1)"],
    ]


def test_an_empty_run_renders_a_headline_without_tables(run):
    markdown = render_markdown(build_report(run(), []))
    assert "**no incident tests ran**" in markdown
    assert "| Test |" not in markdown


def test_inline_code_survives_backticks():
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x`") == "`` `x` ``"
    assert md_code("a|b") == "`a\\|b`"


# -- terminal --------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [100, 80, 60])
def test_every_terminal_line_fits_the_width(outcomes, run, width):
    lines = terminal_lines(build_report(run(), outcomes), width=width)
    assert lines
    assert max(len(line) for line in lines) <= width


def test_the_terminal_headline_counts_verdicts_score_and_slowest_recovery(outcomes, run):
    lines = terminal_lines(build_report(run(), outcomes))
    assert lines[:lines.index("")] == [
        "8 incident tests: 4 passed (1 degraded), 4 failed; score 37.5/100",
        "1 restored, 1 repaired, 1 degraded, 2 critical, 2 unrecovered, 1 false recovery",
        "slowest recovery 3.00s (scenarios/test_model.py::test_critical)",
    ]


def test_the_terminal_table_puts_failures_first(outcomes, run):
    lines = terminal_lines(build_report(run(), outcomes))
    table = lines[lines.index("") + 1:]
    assert table[0].split() == ["verdict", "incident", "test", "strategy", "MTTR", "worst", "Δ"]
    assert [line.split()[0] for line in table[1:]] == ["✗"] * 4 + ["!", "✓", "✓", "✓"]
    assert [line.split()[1] for line in table[1:]] == ["false_recovery", "critical", "critical", "unrecovered",
                                                       "degraded", "unrecovered", "repaired", "restored"]
    assert "noop" in table[1]
    assert table[3].split()[2:] == ["scenarios/test_model.py::test_critical", "retrain", "3.00s", "-20.0%",
                                    "accuracy"]
    assert table[-1].split()[2] == "scenarios/test_data.py::test_restored"


def test_a_long_node_id_keeps_the_test_name_and_both_its_ends(outcomes, run, long_nodeid):
    lines = terminal_lines(build_report(run(), outcomes), width=100)
    row = next(line for line in lines if "seed-3" in line and line.startswith("✗"))
    cell = row.split()[2]
    test_name = long_nodeid.partition("::")[2]
    assert "scenarios/" not in cell and cell.endswith("fraction=0.2]")
    assert cell.startswith(test_name[:5]) or cell.startswith(long_nodeid.partition("::")[0].rsplit("/", 1)[-1][:5])
    assert len(cell) < len(long_nodeid)


def test_ellipsize_middle_keeps_the_width():
    assert ellipsize_middle("abcdefghij", 5) == "ab…ij"
    assert ellipsize_middle("abc", 5) == "abc"
    assert len(ellipsize_middle("x" * 300, 37)) == 37


def test_an_empty_run_has_a_one_line_terminal_section(run):
    assert terminal_lines(build_report(run(), [])) == ["no incident tests ran"]


# -- JUnit -----------------------------------------------------------------------------------------


def test_junit_properties_carry_verdict_strategy_mttr_incidents_and_one_delta_per_metric(outcomes):
    repaired = next(o for o in outcomes if o.verdict is Verdict.REPAIRED)
    assert junit_properties(repaired) == [
        ("mlchaos_verdict", "repaired"),
        ("mlchaos_strategy", "rerun_pipeline"),
        ("mlchaos_mttr", "1.550000"),
        ("mlchaos_incidents", "data_corruption/noise(fraction=0.1, scale=3.0)"),
        ("mlchaos_delta_accuracy", "-0.022222"),
        ("mlchaos_delta_rmse", "-0.050000"),
    ]


def test_junit_properties_of_an_unrecovered_compound_incident_and_a_missing_metric(outcomes, make, incidents):
    unrecovered = next(o for o in outcomes if o.nodeid.endswith("test_unrecovered"))
    props = dict(junit_properties(unrecovered))
    assert props["mlchaos_strategy"] == ""
    assert props["mlchaos_incidents"] == "model_loss/delete + data_corruption/missing_values(fraction=0.2)"
    missing = make("t.py::test_m", Verdict.CRITICAL, metrics=(MetricChange("f1", 0.5, None, float("inf")),))
    assert dict(junit_properties(missing))["mlchaos_delta_f1"] == "missing"
    assert dict(junit_properties(missing))["mlchaos_mttr"] == ""
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in junit_properties(missing))


def test_ordinary_node_ids_are_shown_whole_in_an_80_column_ci_log(make):
    records = [make(f"test_chaos.py::test_{name}", Verdict.FALSE_RECOVERY, strategy="noop", time_to_recover=0.01)
               for name in ("model_delete", "noise", "compound")]
    lines = terminal_lines(build_report(RunInfo(seed=1), records), width=80)
    assert max(len(line) for line in lines) <= 80
    assert sum("test_chaos.py::test_model_delete" in line for line in lines) == 1
    assert not any("…" in line for line in lines)


def test_a_reason_with_html_or_line_breaks_stays_inside_its_list_item(make, run):
    broken = make("t.py::test_x", Verdict.CRITICAL, reason="critical:\n<details> | dropped")
    markdown = render_markdown(build_report(run(), [broken]))
    assert "- `t.py::test_x`: critical: &lt;details> \\| dropped" in markdown.splitlines()
    assert markdown.count("<details>") == 1


RUN = RunInfo(seed=1)
node_ids = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp", "Zs")),
                   min_size=1, max_size=150)


@settings(max_examples=60, deadline=None)
@given(st.lists(node_ids, min_size=1, max_size=5), st.integers(min_value=1, max_value=160),
       st.sampled_from(list(Verdict)))
def test_no_terminal_line_is_wider_than_asked_whatever_the_node_ids(nodeids, width, verdict):
    outcomes = [IncidentOutcome(nodeid=n, incidents=(Incident("model_loss", "delete", seed=1),), verdict=verdict,
                                strategy="restore_from_dvc_remote_cache", time_to_recover=123.4,
                                metrics=(MetricChange("a_very_long_metric_name", 0.5, 0.25, 0.5),))
                for n in nodeids]
    lines = terminal_lines(build_report(RUN, outcomes), width=width)
    assert all(len(line) <= width for line in lines)
    if width >= 100:
        assert sum(line.startswith(("✗", "!", "✓")) for line in lines) == len(nodeids)



def test_a_long_node_id_loses_its_directories_then_its_file_before_its_test_name():
    from pytest_mlchaos.report.render import ellipsize_nodeid

    nodeid = "scenarios/sub/test_catalogue.py::test_storage_loss_is_detected[mlflow_pages]"
    assert ellipsize_nodeid(nodeid, 100) == nodeid
    assert ellipsize_nodeid(nodeid, 70) == "test_catalogue.py::test_storage_loss_is_detected[mlflow_pages]"
    assert ellipsize_nodeid(nodeid, 60) == "test_storage_loss_is_detected[mlflow_pages]"
    short = ellipsize_nodeid(nodeid, 30)
    assert len(short) == 30 and short.endswith("[mlflow_pages]") and short.startswith("test_storage")
