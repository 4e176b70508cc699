"""The ini key and the marker that turn services on: bad names are usage errors naming what is allowed."""

from __future__ import annotations

import pytest


def test_an_unknown_service_in_the_ini_key_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlchaos_services = s3, ftp\n")
    pytester.makepyfile("def test_plain(): pass\n")
    result = pytester.runpytest()
    result.stderr.fnmatch_lines(["*ini mlchaos_services: unknown service 'ftp'; allowed: s3*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_mlflow_is_accepted_and_an_unknown_name_lists_both(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlchaos_services = s3, mlflow\n")
    pytester.makepyfile("def test_plain(): pass\n")
    assert pytester.runpytest().ret == 0
    pytester.makeini("[pytest]\nmlchaos_services = mlflow, tracking\n")
    result = pytester.runpytest()
    result.stderr.fnmatch_lines(["*ini mlchaos_services: unknown service 'tracking'; allowed: s3, mlflow*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


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


def test_a_project_without_attach_services_is_refused_before_anything_starts(tmp_path) -> None:
    from types import SimpleNamespace

    from pytest_mlchaos.services.lifecycle import ServiceError
    from pytest_mlchaos.services.session import SessionServices

    services = SessionServices(tmp_path)
    project = SimpleNamespace(name="plain")  # no attach_services
    with pytest.raises(ServiceError, match="project 'plain' cannot use services: it has no attach_services"):
        services.attach_env(tmp_path, project, "storage", {})
    assert services.s3 is None  # nothing was started
