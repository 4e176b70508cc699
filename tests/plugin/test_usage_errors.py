"""Bad markers, options and settings are usage errors naming the value and what is allowed."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ('"no_such_kind"', "*unknown incident kind 'no_such_kind'; known kinds: *data_corruption*"),
        ('"data_corruption", mode="scramble"', "*unknown mode 'scramble' for incident 'data_corruption'; allowed modes: noise*"),
        ('"data_corruption", mode="noise", fraction=1.5', "*fraction=1.5 is out of range (0.0, 1.0]*"),
        ('"data_corruption", mode="noise", fraction="lots"', "*fraction='lots' must be of type float*"),
        ('"data_corruption", mode="noise", frobnicate=1', "*unknown parameter(s) frobnicate; allowed: *fraction*"),
        ('"model_loss", expect="maybe"', "*expect='maybe' is not allowed; use one of 'recovered', 'degraded', 'unrecoverable'*"),
        ('"model_loss", max_drop=2', "*max_drop=2 is outside [[]0, 1]*"),
        ('', "*needs the incident kind as its first argument*"),
    ],
)
def test_a_bad_marker_is_a_usage_error_naming_the_value(chaos: pytest.Pytester, marker: str, expected: str) -> None:
    chaos.makepyfile(
        f"""
        import pytest

        @pytest.mark.incident({marker})
        def test_it(ml_env):
            pass
        """
    )
    for args in ((), ("--mlchaos",)):
        result = chaos.runpytest(*args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["ERROR: bad incident marker(s):", expected])
        assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_an_unknown_stage_is_an_error_of_that_test_naming_the_stages(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(
        """
        import pytest

        @pytest.mark.incident("pipeline_failure", stage="deploy")
        def test_it(ml_env):
            pass

        @pytest.mark.incident("pipeline_failure", stage="train")
        def test_good(ml_env):
            pass
        """
    )
    result = chaos.runpytest("--mlchaos")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["bad incident marker on *::test_it: *stage='deploy' is not one of the project's stages: 'prepare', 'train'"])
    assert "During handling" not in result.stdout.str()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--mlchaos-warn-drop=abc",), "*argument --mlchaos-warn-drop: 'abc' is not a number*"),
        (("--mlchaos-fail-drop=1.5",), "*argument --mlchaos-fail-drop: '1.5' is outside [[]0, 1]*"),
        (("--mlchaos-max-mttr=-3",), "*argument --mlchaos-max-mttr: '-3' must be a positive, finite number of seconds*"),
        (("--mlchaos-seed=abc",), "*argument --mlchaos-seed: 'abc' is not an integer seed or 'last'*"),
        (("--mlchaos-warn-drop=0.2", "--mlchaos-fail-drop=0.1"), "*warn_drop=0.2 is larger than fail_drop=0.1*"),
    ],
)
def test_bad_options_are_usage_errors(chaos: pytest.Pytester, args: tuple[str, ...], expected: str) -> None:
    chaos.makepyfile("def test_x(): pass")
    result = chaos.runpytest("--mlchaos", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("mlchaos_fail_drop = ten percent", "*ini mlchaos_fail_drop = 'ten percent'*not a number*"),
        ("mlchaos_max_mttr = soon", "*ini mlchaos_max_mttr = 'soon'*not a number of seconds*"),
    ],
)
def test_a_bad_ini_value_is_a_usage_error(chaos: pytest.Pytester, line: str, expected: str) -> None:
    chaos.makeini(f"[pytest]\nmlchaos_project = toyml:project\n{line}\n")
    chaos.makepyfile("def test_x(): pass")
    result = chaos.runpytest("--mlchaos")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("toyml", "*mlchaos_project = 'toyml' is not of the form package.module:attr*"),
        ("no_such_module_xyz:project", "*importing 'no_such_module_xyz' failed: ModuleNotFoundError*"),
        ("toyml:nothing_here", "*module 'toyml' has no attribute 'nothing_here'*"),
        ("toyml:COLUMNS", "*is not an MLProject; missing: name, fingerprint, build*"),
    ],
)
def test_a_bad_project_path_is_a_usage_error(chaos: pytest.Pytester, spec: str, expected: str) -> None:
    chaos.makeini(f"[pytest]\nmlchaos_project = {spec}\n")
    chaos.makepyfile("def test_x(): pass")
    result = chaos.runpytest("--mlchaos")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])

