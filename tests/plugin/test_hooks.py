"""The pluggy extension API: plugins add incidents, provide the project, observe, and extend the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

HERE = Path(__file__).parent

EXTRA_PLUGIN = '''
from pytest_mlchaos.incidents import Param

EVENTS = []


def zero_bytes(ctx, incident, targets):
    """Overwrite the head of a file with zero bytes, as a failing disk controller does."""
    count = incident.param("count")
    for path in targets:
        data = bytearray(path.read_bytes())
        data[:count] = bytes(min(count, len(data)))
        path.write_bytes(bytes(data))
    return f"zeroed {count} bytes of {len(targets)} file(s)"


def pytest_mlchaos_register_incidents(registry):
    registry.register_function(
        "disk_fault", "zero_head", zero_bytes, targets="data",
        params=[Param("count", int, 16, doc="bytes to zero", low=1, high=4096, severity=True)],
    )


def pytest_mlchaos_incident_injected(env, incident):
    EVENTS.append(("injected", incident.kind, incident.mode))


def pytest_mlchaos_recovery_finished(env, incident, result):
    EVENTS.append(("recovered", incident.kind, result.strategy, result.recovered))


def pytest_mlchaos_report(report):
    report["extensions"]["disk_fault_plugin"] = {"events": [list(e) for e in EVENTS]}
'''

TESTS = """
import pytest

@pytest.mark.incident("disk_fault", mode="zero_head", count=64)
def test_zeroed_head(ml_env):
    assert ml_env.injections[0].touched == ("data/data.csv",)
    assert ml_env.detect()
"""


def _ini(pytester: pytest.Pytester, extra: str = "") -> None:
    pytester.makeini(f"[pytest]\nmlchaos_project = toyml:project\npythonpath = {HERE}\n{extra}")


@pytest.mark.parametrize("style", ["conftest", "installed plugin (-p)"])
def test_a_third_party_incident_runs_end_to_end_and_is_observed(pytester: pytest.Pytester, style: str) -> None:
    _ini(pytester)
    if style == "conftest":
        pytester.makeconftest(EXTRA_PLUGIN)
        args: tuple[str, ...] = ()
    else:
        pytester.makepyfile(mlchaos_diskfault=EXTRA_PLUGIN)
        pytester.syspathinsert()
        args = ("-p", "mlchaos_diskfault")
    pytester.makepyfile(test_disk=TESTS)
    report = pytester.path / "report.json"
    result = pytester.runpytest("--mlchaos", f"--mlchaos-report={report}", *args)
    result.assert_outcomes(passed=1)
    data = json.loads(report.read_text())
    assert data["incidents"][0]["verdict"] == "restored"
    events = data["extensions"]["disk_fault_plugin"]["events"]
    assert events == [["injected", "disk_fault", "zero_head"], ["recovered", "disk_fault", "backup", True]]


def test_a_third_party_incident_gets_the_same_validation(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makeconftest(EXTRA_PLUGIN)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.incident("disk_fault", mode="zero_head", count=0)
        def test_it(ml_env):
            pass
        """
    )
    result = pytester.runpytest("--mlchaos")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*incident disk_fault/zero_head: parameter count=0 is out of range [[]1, 4096]*"])


def test_a_third_party_incident_cannot_escape_the_environment(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makeconftest(EXTRA_PLUGIN)
    outside = pytester.path / "outside.csv"
    outside.write_text("precious\n")
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.incident("disk_fault", mode="zero_head", target="../../../outside.csv")
        def test_escape(ml_env):
            pass

        @pytest.mark.incident("disk_fault", mode="zero_head", target={str(outside)!r})
        def test_absolute(ml_env):
            pass
        """
    )
    result = pytester.runpytest("--mlchaos")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*refusing to touch*outside the environment root*"])
    assert outside.read_text() == "precious\n"


def test_the_catalogue_lists_built_in_and_third_party_incidents(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makeconftest(EXTRA_PLUGIN)
    result = pytester.runpytest("--mlchaos-incidents")
    assert result.ret == 0
    out = result.stdout.str()
    for kind in ("data_corruption", "model_loss", "pipeline_failure", "storage_loss", "disk_fault"):
        assert kind in out
    result.stdout.fnmatch_lines(["*zero_head*Overwrite the head of a file with zero bytes*", "*count*int*16*"])
    assert "collected" not in out


def test_a_plugin_can_provide_the_project_through_the_hook(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"[pytest]\npythonpath = {HERE}\n")
    pytester.makeconftest(
        """
        import toyml

        def pytest_mlchaos_make_project(config):
            return toyml.ToyProject()
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.incident("model_loss", mode="delete")
        def test_it(ml_env, mlchaos_project):
            assert mlchaos_project.name == "toyml"
        """
    )
    pytester.runpytest("--mlchaos").assert_outcomes(passed=1)


def test_no_project_is_a_clear_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.incident("model_loss", mode="delete")
        def test_it(ml_env):
            pass
        """
    )
    result = pytester.runpytest("--mlchaos")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*pytest-mlchaos has no project to test: run it inside a DVC repository (zero configuration), set the ini key mlchaos_project*"])


def test_the_second_session_reuses_the_cached_baseline(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makepyfile(
        """
        def test_baseline(ml_baseline, request):
            with open(request.config.rootpath / "cached.txt", "a") as fh:
                fh.write(f"{ml_baseline.cached}\\n")
        """
    )
    for _ in range(2):
        pytester.runpytest("--mlchaos").assert_outcomes(passed=1)
    assert (pytester.path / "cached.txt").read_text().split() == ["False", "True"]
