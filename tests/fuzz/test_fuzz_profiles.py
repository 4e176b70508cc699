"""The mlchaos-dev and mlchaos-ci settings profiles: registered on import, never loaded."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, settings

import pytest_mlchaos.strategies  # noqa: F401  (registers the profiles)
from pytest_mlchaos.profiles import CI, DEV


def test_the_profiles_are_registered_with_no_deadline_and_no_explain_phase() -> None:
    dev, ci = settings.get_profile(DEV), settings.get_profile(CI)
    assert (dev.max_examples, ci.max_examples) == (20, 50)
    assert dev.deadline is None and ci.deadline is None
    assert ci.derandomize and not dev.derandomize
    assert not ci.report_multiple_bugs  # a derandomised run must not depend on wall-clock time
    assert Phase.explain not in ci.phases and Phase.shrink in ci.phases
    assert list(ci.suppress_health_check) == [HealthCheck.too_slow]  # function_scoped_fixture stays on


def test_importing_the_strategies_does_not_load_a_profile(pytestconfig: pytest.Config) -> None:
    chosen = pytestconfig.getoption("--hypothesis-profile", None)
    # Hypothesis itself loads its "ci" profile when it sees a CI environment
    assert settings.get_current_profile_name() in ((chosen,) if chosen else ("default", "ci"))


def test_a_suite_picks_the_ci_profile_on_the_command_line(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("import pytest_mlchaos.profiles")
    pytester.makepyfile(
        """
        from hypothesis import given, settings, strategies as st

        def test_profile():
            assert settings.get_current_profile_name() == "mlchaos-ci"
            assert settings.default.derandomize and settings.default.max_examples == 50
        """
    )
    # A subprocess: loading a profile changes Hypothesis's global settings.
    result = pytester.runpytest_subprocess("-p", "no:mlchaos", "-p", "no:cacheprovider", "--hypothesis-profile=mlchaos-ci")
    result.assert_outcomes(passed=1)
