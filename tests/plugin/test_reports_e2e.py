"""End to end: the JSON report, Markdown summary, JUnit properties and gate policy, with and without xdist."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_mlchaos.report import SCHEMA, comparable

HERE = Path(__file__).parent
SCHEMA_FILE = HERE.parent.parent / "docs" / "mlchaos-report-2.schema.json"

SUITE = """
import pytest

@pytest.mark.incident("data_corruption", mode="noise", fraction=0.2)
def test_noise(ml_env):
    assert ml_env.detect()

@pytest.mark.incident("model_loss", mode="delete")
def test_model(ml_env):
    assert ml_env.detect()

@pytest.mark.incident("data_corruption", mode="duplicates", fraction=0.1)
@pytest.mark.incident("model_loss", mode="corrupt")
def test_compound(ml_env):
    assert len(ml_env.incidents) == 2

@pytest.mark.incident("model_loss", mode="delete", expect="unrecoverable")
def test_wrongly_expects_unrecoverable(ml_env):
    pass

def test_plain():
    pass
"""


def _ini(pytester: pytest.Pytester, attr: str = "project", extra: str = "") -> None:
    pytester.makeini(f"[pytest]\nmlchaos_project = toyml:{attr}\npythonpath = {HERE}\n{extra}")


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    _ini(pytester)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_the_json_report_follows_its_schema_and_records_each_incident(suite: pytest.Pytester) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    report_path = suite.path / "out" / "report.json"
    result = suite.runpytest("--mlchaos", "--mlchaos-seed=3", f"--mlchaos-report={report_path}")
    result.assert_outcomes(passed=4, failed=1)
    report = json.loads(report_path.read_text())
    jsonschema.validate(report, json.loads(SCHEMA_FILE.read_text()))
    assert report["schema"] == SCHEMA
    assert report["run"]["seed"] == 3
    records = {r["nodeid"].split("::")[-1]: r for r in report["incidents"]}
    assert set(records) == {"test_noise", "test_model", "test_compound", "test_wrongly_expects_unrecoverable"}
    assert records["test_noise"]["verdict"] == "restored"
    assert [i["kind"] for i in records["test_compound"]["incidents"]] == ["data_corruption", "model_loss"] or \
        sorted(i["kind"] for i in records["test_compound"]["incidents"]) == ["data_corruption", "model_loss"]
    assert records["test_wrongly_expects_unrecoverable"]["passed"] is False
    assert all(r["time_to_recover"] is not None for r in records.values())
    assert all(i["seed"] is not None for r in records.values() for i in r["incidents"])


def test_the_markdown_summary_has_a_headline_and_a_row_per_incident(suite: pytest.Pytester) -> None:
    md = suite.path / "summary.md"
    suite.runpytest("--mlchaos", f"--mlchaos-markdown={md}").assert_outcomes(passed=4, failed=1)
    text = md.read_text()
    rows = [line for line in text.splitlines() if line.startswith("|") and "test_suite.py::" in line]
    assert len(rows) == 4
    assert "test_wrongly_expects_unrecoverable" in rows[0]  # failures first


def test_junit_xml_carries_verdict_strategy_and_mttr(suite: pytest.Pytester) -> None:
    xml = suite.path / "junit.xml"
    suite.runpytest("--mlchaos", f"--junitxml={xml}").assert_outcomes(passed=4, failed=1)
    cases = {c.get("name"): c for c in ET.parse(xml).getroot().iter("testcase")}
    props = {p.get("name"): p.get("value") for p in cases["test_noise"].iter("property")}
    assert props["mlchaos_verdict"] == "restored"
    assert props["mlchaos_strategy"] == "backup"
    assert float(props["mlchaos_mttr"]) >= 0
    assert not list(cases["test_plain"].iter("property"))


def test_an_unwritable_report_path_fails_at_start_up(suite: pytest.Pytester) -> None:
    (suite.path / "afile").write_text("")
    result = suite.runpytest("--mlchaos", "--mlchaos-report=afile/report.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mlchaos-report*afile*"])
    result.stdout.no_fnmatch_line("*passed*")


def test_a_recovery_slower_than_the_mttr_budget_fails_with_both_times(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makepyfile(
        """
        import time, pytest

        @pytest.fixture(autouse=True)
        def slow_recovery(ml_env):
            original = ml_env.project.recover
            def recover(root, incidents):
                time.sleep(0.3)
                return original(root, incidents)
            ml_env.project = type("Slow", (), {})()
            for name in ("name", "detect", "evaluate", "check_model", "artifacts", "run_stage"):
                setattr(ml_env.project, name, getattr(original.__self__, name))
            ml_env.project.recover = recover

        @pytest.mark.incident("model_loss", mode="delete")
        def test_slow(ml_env):
            pass
        """
    )
    result = pytester.runpytest("--mlchaos", "--mlchaos-max-mttr=0.1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*mlchaos: *0.1*"])
    pytester.runpytest("--mlchaos", "--mlchaos-max-mttr=60").assert_outcomes(passed=1)


def test_strict_mode_fails_a_degraded_recovery(pytester: pytest.Pytester) -> None:
    _ini(pytester, "project")
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def mlchaos_project():
            import toyml

            class Lossy(toyml.ToyProject):
                '''Recovers, but every evaluation afterwards comes out 7% worse.'''

                def evaluate(self, root):
                    metrics = super().evaluate(root)
                    if (root / "recovered").exists():
                        metrics = {k: v * 0.93 for k, v in metrics.items()}
                    return metrics

                def recover(self, root, incidents):
                    (root / "recovered").write_text("")
                    return super().recover(root, incidents)

            return Lossy()
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.incident("model_loss", mode="delete")
        def test_lossy(ml_env):
            pass

        @pytest.mark.incident("model_loss", mode="delete", expect="degraded")
        def test_accepts_degraded(ml_env):
            pass
        """
    )
    # -W default: in-process runs inherit this suite's warnings-as-errors filter
    relaxed = pytester.runpytest("--mlchaos", "-W", "default")
    relaxed.assert_outcomes(passed=2, warnings=2)
    relaxed.stdout.fnmatch_lines(["*MLChaosDegradedWarning*degraded*"])
    strict = pytester.runpytest("--mlchaos", "--mlchaos-strict", "-W", "default")
    strict.assert_outcomes(passed=1, failed=1, warnings=1)
    strict.stdout.fnmatch_lines(["*degraded: metrics dropped beyond the warn threshold (--mlchaos-strict)*"])
    critical = pytester.runpytest("--mlchaos", "--mlchaos-fail-drop=0.06", "-W", "default")
    critical.assert_outcomes(failed=2)


def test_xdist_gives_the_same_verdicts_and_records_as_a_single_process(suite: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    single = suite.path / "single.json"
    multi = suite.path / "multi.json"
    r0 = suite.runpytest_subprocess("--mlchaos", "--mlchaos-seed=77", "-n", "0", f"--mlchaos-report={single}")
    r0.assert_outcomes(passed=4, failed=1)
    r2 = suite.runpytest_subprocess("--mlchaos", "--mlchaos-seed=77", "-n", "2", f"--mlchaos-report={multi}")
    r2.assert_outcomes(passed=4, failed=1)
    r2.stdout.fnmatch_lines(["*mlchaos: seed=77 (option)*", "*= mlchaos =*"])
    one, two = json.loads(single.read_text()), json.loads(multi.read_text())
    assert len(two["incidents"]) == 4
    assert comparable(one) == comparable(two)
