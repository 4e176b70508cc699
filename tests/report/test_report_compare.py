"""The ratchet (``report.compare``) and reading report files back (``report.load``)."""

from __future__ import annotations

import json

import pytest

from pytest_mlchaos.gate import Verdict
from pytest_mlchaos.report import comparable
from pytest_mlchaos.report.document import build_report
from pytest_mlchaos.report.compare import compare, comparison_lines, comparison_markdown, mttr_changes
from pytest_mlchaos.report.html import render_html
from pytest_mlchaos.report.load import ReportFileError, load_report
from pytest_mlchaos.report.render import render_markdown


def report_of(make, run, *specs):
    """A report of ``(name, verdict, seconds)`` tests, each recovered by ``restore_backup``."""
    return build_report(run(), [make(f"t.py::{name}", verdict, strategy="restore_backup", recovery_claimed=True,
                                     time_to_recover=seconds) for name, verdict, seconds in specs])


def test_an_unchanged_run_is_not_worse(make, run):
    report = report_of(make, run, ("test_a", Verdict.RESTORED, 1.0))
    result = compare(report, report)
    assert not result["failed"] and result["reasons"] == []
    assert result["regressed"] == result["fixed"] == result["new"] == result["removed"] == result["mttr"] == []


def test_a_test_that_passed_before_and_fails_now_fails_the_ratchet(make, run):
    before = report_of(make, run, ("test_a", Verdict.RESTORED, 1.0), ("test_b", Verdict.CRITICAL, 1.0))
    after = report_of(make, run, ("test_a", Verdict.FALSE_RECOVERY, 1.0), ("test_b", Verdict.RESTORED, 1.0))
    result = compare(before, after, previous_name="main.json")
    assert result["failed"]
    assert result["regressed"] == [{"nodeid": "t.py::test_a", "before": "restored", "after": "false_recovery",
                                    "before_passed": True, "after_passed": False}]
    assert [(i["nodeid"], i["before"], i["after"]) for i in result["fixed"]] == [("t.py::test_b", "critical", "restored")]
    assert "1 incident test that passed before fails now" in result["reasons"]
    assert result["previous"] == "main.json"


def test_a_lower_score_fails_the_ratchet_even_when_no_test_regressed(make, run):
    before = report_of(make, run, ("test_a", Verdict.RESTORED, 1.0))
    after = report_of(make, run, ("test_a", Verdict.REPAIRED, 1.0))  # passes, but scores 90 instead of 100
    result = compare(before, after)
    assert result["failed"] and result["score_dropped"] and not result["regressed"]
    assert result["reasons"] == ["resilience score 90 is below the previous 100"]
    assert not compare(after, before)["failed"]  # a higher score is fine


def test_new_and_removed_tests_are_listed_but_fail_nothing(make, run):
    before = report_of(make, run, ("test_a", Verdict.RESTORED, 1.0), ("test_old", Verdict.RESTORED, 1.0))
    after = report_of(make, run, ("test_a", Verdict.RESTORED, 1.0), ("test_new", Verdict.RESTORED, 1.0))
    result = compare(before, after)
    assert not result["failed"]
    assert [(i["nodeid"], i["before"], i["after"]) for i in result["new"]] == [("t.py::test_new", None, "restored")]
    assert [(i["nodeid"], i["before"], i["after"]) for i in result["removed"]] == [("t.py::test_old", "restored", None)]


@pytest.mark.parametrize(
    ("before", "after", "listed"),
    [(1.0, 1.6, True), (1.0, 1.4, False), (0.1, 0.4, False), (0.1, 0.7, True), (2.0, 2.9, False)],
)
def test_an_mttr_change_is_listed_beyond_both_tolerances(make, run, before, after, listed):
    old = report_of(make, run, ("test_a", Verdict.RESTORED, before))
    new = report_of(make, run, ("test_a", Verdict.RESTORED, after))
    changes = mttr_changes(old, new, (0.5, 0.5))
    assert bool(changes) is listed
    if listed:
        assert changes[0]["strategy"] == "restore_backup" and changes[0]["change"].startswith("+")
    assert not compare(old, new)["failed"]  # timings never fail the ratchet


def test_the_comparison_shows_in_terminal_markdown_and_html(make, run):
    before = report_of(make, run, ("test_a", Verdict.RESTORED, 1.0))
    after = report_of(make, run, ("test_a", Verdict.CRITICAL, 3.0), ("test_<new>", Verdict.RESTORED, 1.0))
    after["comparison"] = compare(before, after)
    lines = comparison_lines(after["comparison"])
    assert lines[0].startswith("mlchaos ratchet: FAILED: worse than the previous report: ")
    assert "  regressed t.py::test_a  restored (passed) -> critical (failed)" in lines
    assert any(line.startswith("  slower    MTTR of restore_backup: 1.00s -> ") for line in lines)
    markdown = render_markdown(after)
    assert "### Compared with the previous report" in markdown
    assert "| regressed | `t.py::test_a` | restored (passed) | critical (failed) |" in markdown
    assert comparison_markdown(after["comparison"])[2].startswith("❌ ")
    page = render_html(after)
    assert "Compared with the previous report" in page and "t.py::test_&lt;new&gt;" in page
    section = page[page.index("Compared with the previous report"):page.index("Incidents × verdicts")]
    folded = section[section.index("<details><summary>1 new, 0 removed tests</summary>"):]
    assert "test_&lt;new&gt;" in folded and "t.py::test_a" not in folded  # the regression stays in sight


def test_comparable_reports_ignore_the_comparisons_timings(make, run):
    before = report_of(make, run, ("test_a", Verdict.RESTORED, 1.0))
    fast, slow = report_of(make, run, ("test_a", Verdict.RESTORED, 1.0)), report_of(make, run, ("test_a", Verdict.RESTORED, 9.0))
    fast["comparison"], slow["comparison"] = compare(before, fast), compare(before, slow)
    assert comparable(fast) == comparable(slow)


def test_the_comparison_follows_the_schema(make, run, validate):
    before = report_of(make, run, ("test_a", Verdict.RESTORED, 1.0))
    after = report_of(make, run, ("test_a", Verdict.CRITICAL, 3.0))
    after["comparison"] = compare(before, after, previous_name="prev.json")
    validate(json.loads(json.dumps(after)))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "bad.json: not valid JSON (Expecting property name enclosed in double quotes at line 1, column 2)"),
        ('{"name": "package.json"}', "bad.json: not an mlchaos report (it has no 'schema' field; expected 'mlchaos-report/2')"),
        ('{"schema": "mlchaos-report/1"}', "bad.json: not an mlchaos report (its schema is 'mlchaos-report/1'; expected 'mlchaos-report/2')"),
        ("[1, 2]", "bad.json: not an mlchaos report (it has no 'schema' field; expected 'mlchaos-report/2')"),
        ('{"schema": "mlchaos-report/2", "run": {}, "summary": {}}', "bad.json: a mlchaos-report/2 report without a valid 'incidents' (list expected)"),
    ],
)
def test_a_bad_report_file_is_one_error_naming_the_file(tmp_path, monkeypatch, content, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(ReportFileError) as caught:
        load_report("bad.json")
    assert str(caught.value) == message


def test_a_missing_report_file_is_named(tmp_path):
    with pytest.raises(ReportFileError, match=r"nope\.json: no such file$"):
        load_report(tmp_path / "nope.json")
