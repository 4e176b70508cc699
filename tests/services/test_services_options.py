"""The ini key and the marker that turn services on: bad names are usage errors naming what is allowed."""

from __future__ import annotations

import pytest


def test_an_unknown_service_in_the_ini_key_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlchaos_services = s3, ftp\n")
    pytester.makepyfile("def test_plain(): pass\n")
    result = pytester.runpytest()
    result.stderr.fnmatch_lines(["*ini mlchaos_services: unknown service 'ftp'; allowed: s3*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_mlflow_is_refused_with_the_reason(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlchaos_services = mlflow\n")
    pytester.makepyfile("def test_plain(): pass\n")
    result = pytester.runpytest()
    result.stderr.fnmatch_lines(["*service 'mlflow': outages of the MLflow tracking server are not wired*"])


def test_a_bad_marker_is_a_usage_error_at_collection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.mlchaos_services("s4")
        @pytest.mark.incident("service_outage", mode="remote_down")
        def test_outage(ml_env):
            pass
        """
    )
    result = pytester.runpytest()
    result.stderr.fnmatch_lines(["*test_outage: @pytest.mark.mlchaos_services: unknown service 's4'; allowed: s3*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_the_marker_is_registered_and_services_stay_off_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain(): pass\n")
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["*@pytest.mark.mlchaos_services(*names): run this incident test against real*"])
    assert pytester.runpytest("-p", "no:randomly").ret == 0
