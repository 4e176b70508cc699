"""NaN and infinity are refused as parameter values, with the value and what is allowed, on every path:
``inject()``, the ``incident`` marker (a usage error at collection) and ``mlops incident --param``
(tests/project/test_project_cli.py). One check, ``Param.check``, serves them all."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from mlchaos_testenv import ARTIFACTS, stage_runner, tree_digest

from pytest_mlchaos.incidents import Incident, IncidentError, Param, builtin_registry, inject

NON_FINITE = [
    ("data_corruption", "noise", {"fraction": math.nan}, r"parameter fraction=nan is not a number in \(0.0, 1.0\]$"),
    ("data_corruption", "missing_values", {"fraction": math.inf}, r"parameter fraction=inf is not a finite number in \(0.0, 1.0\]$"),
    ("data_corruption", "noise", {"scale": math.inf}, r"parameter scale=inf is not a finite number in \(0.0, inf\)$"),
    ("data_corruption", "noise", {"scale": -math.inf}, r"parameter scale=-inf is not a finite number in \(0.0, inf\)$"),
    ("pipeline_failure", "hang", {"seconds": math.nan}, r"parameter seconds=nan is not a number in \(0.0, 600.0\]$"),
    ("data_corruption", "bitflip", {"flips": math.inf}, r"parameter flips=inf is not an integer in \[1, 1000000\]$"),
    ("model_loss", "corrupt", {"nbytes": math.nan}, r"parameter nbytes=nan is not an integer in \[1, 1073741824\]$"),
    ("storage_loss", "dvc_cache_corruption", {"objects": math.inf}, r"parameter objects=inf is not an integer in \[1, inf\)$"),
]


@pytest.mark.parametrize(("kind", "mode", "params", "message"), NON_FINITE,
                         ids=[f"{k}/{m}{p}" for k, m, p, _ in NON_FINITE])
def test_inject_refuses_nan_and_infinity_naming_the_parameter_and_the_range(env: Path, kind: str, mode: str,
                                                                            params: dict[str, Any], message: str) -> None:
    before = tree_digest(env)
    with pytest.raises(IncidentError, match=rf"^incident {kind}/{mode}: {message}"):
        inject(env, Incident(kind, mode, params, seed=1), artifacts=ARTIFACTS, run_stage=stage_runner(env))
    assert tree_digest(env) == before


@pytest.mark.parametrize(("kind", "mode", "params", "message"), NON_FINITE[:2])
def test_the_registry_check_refuses_them_without_an_environment(kind: str, mode: str, params: dict[str, Any],
                                                                message: str) -> None:
    with pytest.raises(IncidentError, match=message):
        builtin_registry().validate(Incident(kind, mode, params))


def test_finite_values_at_the_bounds_still_pass() -> None:
    registry = builtin_registry()
    assert registry.validate(Incident("data_corruption", "noise", {"fraction": 1.0, "scale": 1e300})).param("scale") == 1e300
    assert registry.validate(Incident("data_corruption", "bitflip", {"flips": 1_000_000})).param("flips") == 1_000_000


@pytest.mark.parametrize(("param", "text", "value"), [
    (Param("fraction", float, low=0.0, high=1.0), "0.25", 0.25),
    (Param("flips", int, low=1), "3", 3),
    (Param("label", str), "0", "0"),  # a str parameter keeps numeric-looking text
    (Param("persistent", bool), "yes", True),
    (Param("persistent", bool), "false", False),
])
def test_command_line_text_becomes_the_parameters_type(param: Param, text: str, value: Any) -> None:
    assert param.from_text(text) == value and type(param.from_text(text)) is type(value)


@pytest.mark.parametrize(("param", "text", "message"), [
    (Param("fraction", float, low=0.0, high=1.0), "nan", r"fraction=nan is not a number in \[0.0, 1.0\]"),
    (Param("flips", int, low=1, high=10), "inf", r"flips=inf is not an integer in \[1, 10\]"),
    (Param("flips", int, low=1, high=10), "-Infinity", r"flips=-inf is not an integer in \[1, 10\]"),
    (Param("flips", int, low=1, high=10), "many", r"flips='many' must be of type int, \[1, 10\]"),
])
def test_command_line_text_that_is_not_allowed_is_refused_by_the_same_check(param: Param, text: str, message: str) -> None:
    with pytest.raises(IncidentError, match=message):
        param.check(param.from_text(text), "incident x/y")


@pytest.mark.parametrize(("marker", "expected"), [
    ('"data_corruption", mode="noise", fraction=float("nan")', "*parameter fraction=nan is not a number in (0.0, 1.0]*"),
    ('"pipeline_failure", mode="hang", seconds=float("nan")', "*parameter seconds=nan is not a number in (0.0, 600.0]*"),
    ('"data_corruption", mode="bitflip", flips=float("inf")', "*parameter flips=inf is not an integer in [[]1, 1000000]*"),
])
def test_a_marker_with_nan_or_infinity_is_a_usage_error_not_a_traceback(pytester: pytest.Pytester, marker: str,
                                                                        expected: str) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.incident({marker})
        def test_it(ml_env):
            pass
        """
    )
    for args in ((), ("--mlchaos",)):
        result = pytester.runpytest(*args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["ERROR: bad incident marker(s):", expected])
        assert "Traceback" not in result.stderr.str() + result.stdout.str()
