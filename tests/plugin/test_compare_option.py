"""``--mlchaos-compare``: a run worse than the previous report fails, with the table of what changed."""

from __future__ import annotations

import json

import pytest

BEFORE = """
import pytest

@pytest.mark.incident("model_loss", mode="delete")
def test_model(ml_env):
    assert ml_env.detect()

@pytest.mark.incident("model_loss", mode="delete")
def test_turns_bad(ml_env):
    pass

@pytest.mark.incident("data_corruption", mode="noise", fraction=0.2)
def test_removed(ml_env):
    pass
"""

# test_turns_bad now fails its gate (restored, but it expects unrecoverable); xfail keeps pytest's exit status 0,
# so only the ratchet can make this run fail.
AFTER = """
import pytest

@pytest.mark.incident("model_loss", mode="delete")
def test_model(ml_env):
    assert ml_env.detect()

@pytest.mark.xfail(reason="known")
@pytest.mark.incident("model_loss", mode="delete", expect="unrecoverable")
def test_turns_bad(ml_env):
    pass

@pytest.mark.incident("model_loss", mode="corrupt")
def test_added(ml_env):
    pass
"""


@pytest.fixture
def previous(chaos: pytest.Pytester) -> pytest.Pytester:
    chaos.makepyfile(test_suite=BEFORE)
    chaos.runpytest("--mlchaos", "--mlchaos-seed=4", "--mlchaos-report=prev.json").assert_outcomes(passed=3)
    chaos.makepyfile(test_suite=AFTER)
    return chaos


def test_a_test_that_passed_before_and_fails_now_fails_the_run(previous: pytest.Pytester) -> None:
    plain = previous.runpytest("--mlchaos", "--mlchaos-seed=4")
    plain.assert_outcomes(passed=2, xfailed=1)
    assert plain.ret == pytest.ExitCode.OK
    result = previous.runpytest("--mlchaos", "--mlchaos-seed=4", "--mlchaos-compare=prev.json",
                                "--mlchaos-report=now.json", "--mlchaos-markdown=now.md")
    result.assert_outcomes(passed=2, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    text = " ".join(line.strip() for line in result.stdout.lines)  # the verdict is wrapped to the terminal
    assert ("mlchaos ratchet: FAILED: worse than the previous report: resilience score 83.33 is below the previous "
            "100; 1 incident test that passed before fails now (score 100 -> 83.33; 1 regressed, 0 fixed, 1 new, "
            "1 removed)") in text
    assert all(len(line) <= 80 for line in result.stdout.lines if line.startswith(("mlchaos ratchet", "    ")))
    result.stdout.fnmatch_lines([
        "  regressed test_suite.py::test_turns_bad  restored (passed) -> restored (failed)",
        "  new       test_suite.py::test_added  - -> * (passed)",
        "  removed   test_suite.py::test_removed  restored (passed) -> -",
    ])
    report = json.loads((previous.path / "now.json").read_text())
    assert report["comparison"]["failed"] is True and report["comparison"]["previous"] == "prev.json"
    assert "| regressed | `test_suite.py::test_turns_bad` |" in (previous.path / "now.md").read_text()


def test_a_run_as_good_as_the_previous_one_passes(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(test_suite=BEFORE)
    chaos.runpytest("--mlchaos", "--mlchaos-seed=4", "--mlchaos-report=prev.json").assert_outcomes(passed=3)
    result = chaos.runpytest("--mlchaos", "--mlchaos-seed=4", "--mlchaos-compare=prev.json")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["mlchaos ratchet: ok: not worse than the previous report (score 100 -> 100; 0*"])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{oops", "*--mlchaos-compare: prev.json: not valid JSON (Expecting property name*line 1, column 2)"),
        ('{"schema": "something-else/1"}', "*--mlchaos-compare: prev.json: not an mlchaos report (its schema is "
                                           "'something-else/1'; expected 'mlchaos-report/2')"),
    ],
)
def test_a_malformed_or_foreign_previous_report_is_a_usage_error(chaos: pytest.Pytester, content: str,
                                                                  expected: str) -> None:
    chaos.makepyfile(test_suite=BEFORE)
    (chaos.path / "prev.json").write_text(content)
    result = chaos.runpytest("--mlchaos", "--mlchaos-compare=prev.json", "--mlchaos-report=out.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert not (chaos.path / "out.json").exists()


def test_the_mttr_tolerance_comes_from_the_ini_file(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(test_suite=BEFORE)
    chaos.runpytest("--mlchaos", "--mlchaos-seed=4", "--mlchaos-report=prev.json").assert_outcomes(passed=3)
    ini = chaos.path / "tox.ini"
    base = ini.read_text().rstrip("\n")
    ini.write_text(base + "\nmlchaos_mttr_tolerance = 0.25, 2\n")
    chaos.runpytest("--mlchaos", "--mlchaos-seed=4", "--mlchaos-compare=prev.json", "--mlchaos-report=now.json")
    comparison = json.loads((chaos.path / "now.json").read_text())["comparison"]
    assert comparison["mttr_tolerance"] == {"relative": 0.25, "seconds": 2.0}
    ini.write_text(base + "\nmlchaos_mttr_tolerance = lots\n")
    result = chaos.runpytest("--mlchaos", "--mlchaos-compare=prev.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini mlchaos_mttr_tolerance = 'lots': 'lots' is not RELATIVE,SECONDS; use two "
                                 "non-negative numbers such as 0.5,0.5 (+50% and +0.5 s)"])
