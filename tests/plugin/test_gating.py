"""Incident tests are skipped without --mlchaos, run with it, and the plugin can be disabled."""

from __future__ import annotations

import pytest

SIMPLE = """
import pytest

@pytest.mark.incident("data_corruption", mode="missing_values", fraction=0.2)
def test_missing_values(ml_env):
    assert ml_env.detect()

def test_plain():
    assert True
"""


def test_incident_tests_are_skipped_without_the_option(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(SIMPLE)
    result = chaos.runpytest("-rs", "--strict-markers")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*run with --mlchaos*"])


def test_incident_tests_run_and_pass_with_the_option(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(SIMPLE)
    result = chaos.runpytest("--mlchaos", "--mlchaos-seed=5")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["mlchaos: seed=5 (option), project=toyml:project*", "*mlchaos*"])


def test_the_marker_is_documented(chaos: pytest.Pytester) -> None:
    result = chaos.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.incident(kind, *, mode=None, target=None, seed=None, max_drop=None*"])


def test_plugin_can_be_disabled_with_p_no_mlchaos(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(SIMPLE)
    # a subprocess: in-process runs share pytest's cache of registered marker names
    result = chaos.runpytest_subprocess("-p", "no:mlchaos", "--strict-markers")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*'incident' not found in `markers` configuration option*"])
    help_result = chaos.runpytest("-p", "no:mlchaos", "--help")
    assert "--mlchaos-seed" not in help_result.stdout.str()


def test_a_marked_test_without_ml_env_is_a_usage_error(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(
        """
        import pytest

        @pytest.mark.incident("model_loss", mode="delete")
        def test_forgot_fixture():
            pass
        """
    )
    result = chaos.runpytest("--mlchaos")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_forgot_fixture: has an incident marker but does not use the ml_env fixture*"])
