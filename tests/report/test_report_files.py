"""Writing reports: atomic files, start-up path checks, the MTTR budget."""

from __future__ import annotations

import argparse
import json
import math
import os
import stat
from pathlib import Path

import pytest

from pytest_mlchaos.report import files as report_files
from pytest_mlchaos.gate import Verdict, mttr_over_budget
from pytest_mlchaos.report import render_markdown
from pytest_mlchaos.report.document import build_report
from pytest_mlchaos.report.files import ReportPathError, check_writable, dumps, write_json, write_markdown
from pytest_mlchaos.settings import seconds_type


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.fixture
def report(outcomes, run):
    return build_report(run(), outcomes)


# -- atomic writing ---------------------------------------------------------------------------------


def test_write_json_creates_parent_directories_and_leaves_no_temp_file(tmp_path, report):
    target = tmp_path / "out" / "ci" / "mlchaos.json"
    assert write_json(report, target) == target
    assert json.loads(target.read_text(encoding="utf-8")) == json.loads(dumps(report))
    assert tree(tmp_path) == ["out", "out/ci", "out/ci/mlchaos.json"]


def test_a_new_report_file_gets_the_usual_permissions_not_the_temp_file_ones(tmp_path, report):
    target = tmp_path / "mlchaos.json"
    old_umask = os.umask(0o022)
    try:
        write_json(report, target)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_overwriting_keeps_the_existing_files_mode(tmp_path, report):
    target = tmp_path / "mlchaos.json"
    target.write_text("old")
    target.chmod(0o640)
    write_json(report, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert json.loads(target.read_text())["schema"] == "mlchaos-report/2"


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_a_failed_write_keeps_the_old_file_whole_and_leaves_no_temp_file(tmp_path, report, monkeypatch, failing):
    target = tmp_path / "mlchaos.json"
    target.write_text('{"schema": "mlchaos-report/2", "previous": true}\n')

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_files.os, failing, boom)
    with pytest.raises(OSError, match="No space left"):
        write_json(report, target)
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"schema": "mlchaos-report/2", "previous": True}
    assert tree(tmp_path) == ["mlchaos.json"]


def test_a_failed_write_of_a_new_file_leaves_nothing(tmp_path, report, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(report_files.os, "replace", boom)
    with pytest.raises(OSError):
        write_markdown(report, tmp_path / "summary.md")
    assert tree(tmp_path) == []


def test_write_json_turns_odd_values_added_by_plugins_into_strict_json(tmp_path, report):
    report["extensions"]["odd"] = {"nan": math.nan, "path": Path("a/b"), "tags": {"y", "x"}, "pair": (1, 2)}
    write_json(report, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["extensions"]["odd"] == {
        "nan": None, "path": "a/b", "tags": ["x", "y"], "pair": [1, 2]}


def test_write_markdown_overwrites_by_default(tmp_path, report):
    target = tmp_path / "summary.md"
    target.write_text("stale\n")
    write_markdown(report, target)
    assert target.read_text(encoding="utf-8") == render_markdown(report)


def test_write_markdown_appends_to_an_existing_step_summary_when_asked(tmp_path, report):
    target = tmp_path / "step_summary.md"
    target.write_text("## Unit tests\nall green")
    write_markdown(report, target, append=True)
    text = target.read_text(encoding="utf-8")
    assert text == "## Unit tests\nall green\n\n" + render_markdown(report)
    assert tree(tmp_path) == ["step_summary.md"]


def test_write_markdown_append_creates_a_missing_file(tmp_path, report):
    write_markdown(report, tmp_path / "new.md", append=True)
    assert (tmp_path / "new.md").read_text(encoding="utf-8") == render_markdown(report)


# -- start-up checks ---------------------------------------------------------------------------------


def test_a_new_path_in_missing_directories_is_accepted_without_creating_anything(tmp_path):
    check_writable(tmp_path / "a" / "b" / "report.json", "--mlchaos-report")
    assert tree(tmp_path) == []


def test_an_existing_file_is_accepted_and_left_untouched(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("keep")
    check_writable(target, "--mlchaos-report")
    assert target.read_text() == "keep"
    assert tree(tmp_path) == ["report.json"]


def test_a_directory_is_refused_with_the_option_and_path(tmp_path):
    with pytest.raises(ReportPathError, match="--mlchaos-report=.* is a directory") as info:
        check_writable(tmp_path, "--mlchaos-report")
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize("below", ["report.json", "sub/report.json"])
def test_a_path_below_a_file_is_refused(tmp_path, below):
    (tmp_path / "notes.txt").write_text("x")
    path = tmp_path / "notes.txt" / below
    with pytest.raises(ReportPathError, match="--mlchaos-markdown=.*notes.txt is a file, not a directory"):
        check_writable(path, "--mlchaos-markdown")
    assert tree(tmp_path) == ["notes.txt"]


def test_an_empty_path_is_refused(tmp_path):
    with pytest.raises(ReportPathError, match="--mlchaos-report: the path is empty"):
        check_writable("", "--mlchaos-report")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc, where no file can be created")
def test_a_directory_where_no_file_can_be_created_is_refused():
    with pytest.raises(ReportPathError, match=r"--mlchaos-report=/proc/mlchaos\.json: cannot create a file in /proc"):
        check_writable("/proc/mlchaos.json", "--mlchaos-report")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(ReportPathError, match="not writable"):
            check_writable(locked / "report.json", "--mlchaos-report")
    finally:
        locked.chmod(0o755)


def test_report_path_error_is_a_value_error():
    assert issubclass(ReportPathError, ValueError)


# -- MTTR budget -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "seconds"), [("30", 30.0), ("2.5", 2.5), ("0.25", 0.25), ("1e3", 1000.0)])
def test_mttr_budget_accepts_positive_seconds(raw, seconds):
    assert seconds_type(raw) == seconds


@pytest.mark.parametrize(("raw", "message"), [
    ("abc", "'abc' is not a number of seconds"),
    ("-1", "'-1' must be a positive, finite number of seconds"),
    ("0", "'0' must be a positive, finite number of seconds"),
    ("nan", "'nan' must be a positive, finite number of seconds"),
    ("inf", "'inf' must be a positive, finite number of seconds"),
])
def test_mttr_budget_names_the_bad_value_and_what_is_allowed(raw, message):
    """The converter behind --mlchaos-max-mttr and the mlchaos_max_mttr ini key."""
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        seconds_type(raw)


def test_the_mttr_budget_fails_a_slow_recovery_with_both_times():
    reason = mttr_over_budget(12.345, "retrain", 10.0)
    assert reason == "recovery too slow: it took 12.345s via retrain, over the MTTR budget of 10s (--mlchaos-max-mttr)"
    assert mttr_over_budget(10.0004, None, 10) == (
        "recovery too slow: it took 10.000400s, over the MTTR budget of 10s (--mlchaos-max-mttr)")


def test_the_mttr_budget_passes_a_recovery_within_it_or_without_a_time():
    assert mttr_over_budget(10.0, "backup", 10.0) is None
    assert mttr_over_budget(0.5, "backup", 10.0) is None
    assert mttr_over_budget(None, None, 10.0) is None
    assert mttr_over_budget(99.0, "backup", None) is None
