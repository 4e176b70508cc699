"""The ``error`` verdict in every report, containment of the body and the recovery, and a damaged cached baseline."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_mlchaos.report import comparable




BROKEN_SUITE = """
import pytest
from toybroken import DETECT_BOOM

@pytest.mark.incident("model_loss", mode="corrupt")
def test_body_raises(ml_env):
    raise ValueError("the test itself is broken")

@pytest.mark.incident("model_loss", mode="corrupt")
def test_detect_raises(ml_env):
    (ml_env.root / DETECT_BOOM).write_text("")
    ml_env.detect()

@pytest.mark.incident("model_loss", mode="truncate")
def test_recover_raises(ml_env):
    pass

@pytest.mark.incident("model_loss", mode="delete")
def test_evaluate_raises(ml_env):
    pass

@pytest.mark.incident("data_corruption", mode="bitflip", target="no/such.csv")
def test_setup_fails(ml_env):
    pass

@pytest.mark.incident("model_loss", mode="corrupt")
def test_fine(ml_env):
    assert ml_env.detect()
"""

EXPECTED_ERRORS = {
    "test_body_raises": ("body", "ValueError", "the test itself is broken"),
    "test_detect_raises": ("detect", "OSError", "the health endpoint is down"),
    "test_recover_raises": ("recover", "RuntimeError", "the backup volume is gone"),
    "test_evaluate_raises": ("evaluate", "ValueError", "the evaluation data cannot be read"),
    "test_setup_fails": ("setup", "Failed", "bad incident marker"),
}


@pytest.fixture
def broken(pytester: pytest.Pytester, use_project) -> pytest.Pytester:
    use_project("toybroken:fragile")
    pytester.makepyfile(test_broken=BROKEN_SUITE)
    return pytester


def run_broken(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict, str, ET.Element]:
    out = pytester.path / "out"
    result = pytester.runpytest("--mlchaos", "--mlchaos-seed=5", f"--mlchaos-report={out}/r.json",
                                f"--mlchaos-markdown={out}/r.md", f"--junitxml={out}/j.xml", *args)
    return (result, json.loads((out / "r.json").read_text()), (out / "r.md").read_text(),
            ET.parse(out / "j.xml").getroot())


def test_every_way_a_test_can_break_is_an_error_in_every_report(broken: pytest.Pytester) -> None:
    result, report, markdown, junit = run_broken(broken)
    result.assert_outcomes(passed=1, failed=4, errors=1)
    records = {r["nodeid"].split("::")[-1]: r for r in report["incidents"]}
    assert set(records) == {*EXPECTED_ERRORS, "test_fine"}
    for name, (where, kind, message) in EXPECTED_ERRORS.items():
        record = records[name]
        assert record["verdict"] == "error" and not record["passed"], name
        assert (record["error"]["where"], record["error"]["type"]) == (where, kind), name
        assert message in record["error"]["message"] and record["reason"].startswith("error: "), name
    assert records["test_fine"]["verdict"] == "restored"
    assert report["summary"]["verdicts"]["error"] == 5 and report["summary"]["total"] == 6
    assert report["summary"]["score"] == pytest.approx(100 / 6, abs=0.01)
    assert markdown.count("| error |") == 5 and "5 failed" in markdown
    verdicts = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
                for case in junit.iter("testcase")}
    assert {name for name, props in verdicts.items() if props.get("mlchaos_verdict") == "error"} == set(EXPECTED_ERRORS)
    result.stdout.fnmatch_lines(["*5 error*", "*✗ error *test_body_raises*"])
    result.stdout.fnmatch_lines(["*mlchaos: error: recover() raised RuntimeError: the backup volume is gone*"])


def test_errors_reach_the_report_the_same_way_under_xdist(broken: pytest.Pytester) -> None:
    _, single, _, _ = run_broken(broken, "-p", "no:xdist")
    _, parallel, _, _ = run_broken(broken, "-n", "2")
    assert comparable(single)["incidents"] == comparable(parallel)["incidents"]


def test_a_symlink_out_of_the_environment_stops_recovery_before_it_writes_through_it(
        pytester: pytest.Pytester, use_project) -> None:
    outside = pytester.path / "precious.txt"
    outside.write_text("not the sandbox's to touch\n")
    use_project("toyml:project")
    pytester.makepyfile(f"""
        import os, pytest

        @pytest.mark.incident("data_corruption", mode="bitflip")
        def test_plants_a_link(ml_env):
            data = ml_env.root / "data" / "data.csv"
            data.unlink()
            os.symlink({str(outside)!r}, data)  # a good recovery would copy the backup through it
        """)
    report = pytester.path / "r.json"
    result = pytester.runpytest("--mlchaos", f"--mlchaos-report={report}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*before recovery, the environment holds symbolic links that lead outside it: "
                                 f"data/data.csv -> {outside}*recovery could write through them, so it did not run*"])
    assert outside.read_text() == "not the sandbox's to touch\n"
    record = json.loads(report.read_text())["incidents"][0]
    assert record["verdict"] == "error" and record["error"]["where"] == "containment"
    assert record["attempts"] == [] and record["strategy"] is None


def test_a_recovery_that_leaves_a_link_out_of_the_environment_fails(pytester: pytest.Pytester, run_one_incident,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLCHAOS_TEST_OUTSIDE", str(pytester.path / "elsewhere.csv"))
    result = run_one_incident("toybroken:escaping")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*error: after recovery, the environment holds symbolic links that lead outside it: "
                                 "data/shortcut.csv -> *elsewhere.csv*escaped the sandbox*"])


def test_metrics_the_recovery_wrote_are_never_read(run_one_incident) -> None:
    """A project whose evaluate() reads metrics.json: in the plugin's judging copy that file is gone."""
    result = run_one_incident("toybroken:lazy_metrics")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*error: evaluate() raised FileNotFoundError*metrics.json*"])


SIMPLE = """
import pytest

@pytest.mark.incident("model_loss", mode="delete")
def test_it(ml_env):
    assert ml_env.detect()
"""


def cached_template(pytester: pytest.Pytester) -> Path:
    (store,) = [p for p in (pytester.path / ".pytest_cache" / "d" / "mlchaos").iterdir() if p.is_dir()]
    return store


def flip_a_bit(path: Path) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize(("damage", "why"), [
    (lambda store: flip_a_bit(store / "env" / "data" / "data.csv"),
     "the template differs from its manifest: data/data.csv: content differs (file)"),
    (lambda store: flip_a_bit(store / "env" / "backups" / "models" / "model.pkl"),
     "the template differs from its manifest: backups/models/model.pkl: content differs (store file)"),
    (lambda store: (store / "mlchaos-baseline.json").write_text(
        (store / "mlchaos-baseline.json").read_text().replace('"data/data.csv": "', '"data/data.csv": "0', 1)),
     "its manifest does not match the digest recorded beside it"),
], ids=["data-file", "backup", "manifest-record"])
def test_a_damaged_cached_baseline_is_rebuilt_with_the_reason(pytester: pytest.Pytester, use_project, damage, why: str) -> None:
    use_project("toyml:project")
    pytester.makepyfile(SIMPLE)
    first = pytester.runpytest("--mlchaos")
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["mlchaos: baseline built in *"])
    second = pytester.runpytest("--mlchaos")
    second.stdout.fnmatch_lines(["mlchaos: baseline cached, verified against its manifest in *"])
    damage(cached_template(pytester))
    report = pytester.path / "r.json"
    third = pytester.runpytest("--mlchaos", f"--mlchaos-report={report}")
    third.assert_outcomes(passed=1)
    third.stdout.fnmatch_lines([f"mlchaos: baseline rebuilt in *: the cached one was not trusted: {why}*"])
    assert why in json.loads(report.read_text())["run"]["baseline"]["rebuilt_because"]
    fourth = pytester.runpytest("--mlchaos")
    fourth.stdout.fnmatch_lines(["mlchaos: baseline cached, verified against its manifest in *"])
