"""The ``mlchaos`` command: merge shard reports, the ratchet offline, render; bad files are one-line errors."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from pytest_mlchaos.cli import main
from pytest_mlchaos.gate import Verdict
from pytest_mlchaos.report import comparable
from pytest_mlchaos.report.document import build_report
from pytest_mlchaos.report.files import write_json


@pytest.fixture
def shards(tmp_path: Path, outcomes, run) -> tuple[Path, Path, dict]:
    """Two shard reports of one run (every verdict, split in two), and the report of the whole run."""
    first, second = tmp_path / "shard-1.json", tmp_path / "shard-2.json"
    write_json(build_report(run(workers=1), outcomes[::2]), first)
    write_json(build_report(run(workers=1), outcomes[1::2]), second)
    return first, second, build_report(run(workers=2), outcomes)


def test_the_console_script_is_installed():
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "mlchaos"]
    assert script.value == "pytest_mlchaos.cli:main"


def test_merge_makes_the_report_of_the_whole_run_with_the_score_recomputed(shards, tmp_path, capsys, validate):
    first, second, whole = shards
    out = tmp_path / "merged.json"
    assert main(["merge", str(out), str(first), str(second)]) == 0
    merged = json.loads(out.read_text())
    validate(merged)
    assert comparable(merged) == comparable(json.loads(json.dumps(whole)))
    assert merged["summary"]["score"] == whole["summary"]["score"] == 37.5
    assert merged["run"]["workers"] == 2
    assert f"mlchaos merge: {out}: 2 reports, 8 incident tests, score 37.5" in capsys.readouterr().out


def test_merge_refuses_reports_of_different_runs(tmp_path, outcomes, run, capsys):
    a, b, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "out.json"
    write_json(build_report(run(seed=1), outcomes[:2]), a)
    write_json(build_report(run(seed=2), outcomes[2:]), b)
    assert main(["merge", str(out), str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert err == (f"mlchaos merge: error: {b}: its seed 2 differs from {a}'s 1; only shards of one run "
                   "(same seed, project and thresholds) merge\n")
    assert not out.exists()


def test_merge_refuses_a_test_in_two_shards(tmp_path, outcomes, run, capsys):
    a, b, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "out.json"
    write_json(build_report(run(), outcomes[:3]), a)
    write_json(build_report(run(), outcomes[2:]), b)
    assert main(["merge", str(out), str(a), str(b)]) == 2
    assert f"{outcomes[2].nodeid} is also in {a}; each test must be in one shard only" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("command", ["merge", "compare", "render"])
@pytest.mark.parametrize(
    ("content", "problem"),
    [("{\"schema\": \"mlchaos-report/2\", ", "not valid JSON"),
     ('{"version": 4, "coverage": 0.9}', "not an mlchaos report (it has no 'schema' field; expected 'mlchaos-report/2')")],
)
def test_a_malformed_or_foreign_file_is_one_line_naming_it_and_nothing_is_written(
    shards, tmp_path, capsys, command, content, problem
):
    good = shards[0]
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    out = tmp_path / "out"
    argv = {
        "merge": ["merge", str(out), str(good), str(bad)],
        "compare": ["compare", str(good), str(bad), "--html", str(out)],
        "render": ["render", str(bad), "--html", str(out)],
    }[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"mlchaos {command}: error: {bad}: {problem}")
    assert not out.exists()


def test_compare_exits_1_on_a_regression_and_writes_the_comparison(tmp_path, make, run, capsys):
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    write_json(build_report(run(), [make("t.py::test_a", Verdict.RESTORED)]), before)
    write_json(build_report(run(), [make("t.py::test_a", Verdict.CRITICAL)]), after)
    html, report = tmp_path / "cmp.html", tmp_path / "cmp.json"
    assert main(["compare", str(before), str(after), "--html", str(html), "--report", str(report)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("mlchaos ratchet: FAILED: worse than the previous report: resilience score 0 is below")
    assert "  regressed t.py::test_a  restored (passed) -> critical (failed)" in out
    assert "Compared with the previous report" in html.read_text()
    assert json.loads(report.read_text())["comparison"]["regressed"][0]["nodeid"] == "t.py::test_a"
    assert main(["compare", str(before), str(before)]) == 0
    assert capsys.readouterr().out.startswith("mlchaos ratchet: ok: not worse than the previous report")


def test_compare_rejects_a_bad_tolerance(tmp_path, capsys, shards):
    with pytest.raises(SystemExit) as exit_:
        main(["compare", str(shards[0]), str(shards[1]), "--mttr-tolerance", "fast"])
    assert exit_.value.code == 2
    assert "'fast' is not RELATIVE,SECONDS; use two non-negative numbers such as 0.5,0.5" in capsys.readouterr().err


def test_render_writes_html_and_markdown(shards, tmp_path, capsys):
    html, md = tmp_path / "r.html", tmp_path / "sub" / "r.md"
    assert main(["render", str(shards[0]), "--html", str(html), "--markdown", str(md)]) == 0
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert md.read_text().startswith("## mlchaos resilience report")
    assert f"mlchaos render: wrote {html}" in capsys.readouterr().out


def test_render_without_an_output_is_an_error(shards, capsys):
    assert main(["render", str(shards[0])]) == 2
    assert capsys.readouterr().err == "mlchaos render: error: render: nothing to write; give --html PATH and/or --markdown PATH\n"


def test_an_output_that_is_a_directory_is_refused_before_anything_is_written(shards, tmp_path, capsys):
    md = tmp_path / "r.md"
    assert main(["render", str(shards[0]), "--markdown", str(md), "--html", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert not md.exists()
