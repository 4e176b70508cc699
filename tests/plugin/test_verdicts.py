"""The plugin verifies recovery on its own: digests, model, metrics; it is not fooled by the manager's word."""

from __future__ import annotations

import json

import pytest


def _ini(pytester: pytest.Pytester, attr: str) -> None:
    pytester.makeini(f"[pytest]\nmlchaos_project = toyml:{attr}\n")


DATA_AND_MODEL = """
import pytest

@pytest.mark.incident("data_corruption", mode="noise", fraction=0.3)
@pytest.mark.incident("model_loss", mode="corrupt")
def test_data_and_model(ml_env):
    assert len(ml_env.incidents) == 2
"""


def test_a_manager_that_does_nothing_but_claims_success_is_a_false_recovery(chaos: pytest.Pytester) -> None:
    _ini(chaos, "noop_project")
    chaos.makepyfile(
        """
        import pytest

        @pytest.mark.incident("data_corruption", mode="missing_values", fraction=0.2)
        def test_missing(ml_env):
            assert ml_env.detect()
        """
    )
    result = chaos.runpytest("--mlchaos", "--mlchaos-seed=11")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*mlchaos: false recovery: the recovery manager reported success, but the damage is still there",
        "*incident: data_corruption/missing_values (fraction=0.2*) seed=*",
        "*recovery manager said: recovered via noop",
        "*still damaged (as the incident left it): data/data.csv",
        "*replay with:",
        "*@pytest.mark.incident('data_corruption', mode='missing_values', fraction=0.2*, seed=*)",
    ])


def test_restoring_the_data_but_not_the_model_fails(chaos: pytest.Pytester) -> None:
    _ini(chaos, "data_only_project")
    chaos.makepyfile(DATA_AND_MODEL)
    result = chaos.runpytest("--mlchaos")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*false recovery*", "*still damaged*models/model.pkl*"])


def test_a_real_recovery_of_data_and_model_is_restored(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(DATA_AND_MODEL)
    report = chaos.path / "report.json"
    result = chaos.runpytest("--mlchaos", f"--mlchaos-report={report}")
    result.assert_outcomes(passed=1)
    record = json.loads(report.read_text())["incidents"][0]
    assert record["verdict"] == "restored"
    assert [i["kind"] for i in record["incidents"]] == ["data_corruption", "model_loss"] or \
        sorted(i["kind"] for i in record["incidents"]) == ["data_corruption", "model_loss"]


def test_an_honest_unrecoverable_passes_only_when_expected(chaos: pytest.Pytester) -> None:
    _ini(chaos, "honest_fail_project")
    chaos.makepyfile(
        """
        import pytest

        @pytest.mark.incident("model_loss", mode="delete", expect="unrecoverable")
        def test_expected(ml_env):
            pass

        @pytest.mark.incident("model_loss", mode="delete")
        def test_unexpected(ml_env):
            pass
        """
    )
    result = chaos.runpytest("--mlchaos")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*unrecovered: the recovery manager reported that it could not recover (no backup strategy configured)*"])


def test_expecting_unrecoverable_fails_when_the_system_recovers(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(
        """
        import pytest

        @pytest.mark.incident("model_loss", mode="delete", expect="unrecoverable")
        def test_it(ml_env):
            pass
        """
    )
    result = chaos.runpytest("--mlchaos")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*expected the system to report the incident as unrecoverable, but the verdict is restored*"])


def test_the_body_may_recover_itself_and_see_the_result(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(
        """
        import pytest

        @pytest.mark.incident("model_loss", mode="delete")
        def test_it(ml_env):
            assert any("model.pkl" in p for p in ml_env.detect())
            result = ml_env.recover()
            assert result.recovered and result.strategy == "backup"
            assert ml_env.detect() == []
        """
    )
    chaos.runpytest("--mlchaos").assert_outcomes(passed=1)


def test_the_same_seed_gives_the_same_damage(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(
        """
        import hashlib, json, pytest

        @pytest.mark.incident("data_corruption", mode="noise", fraction=0.3)
        @pytest.mark.incident("data_corruption", mode="duplicates", fraction=0.1)
        def test_record(ml_env, request):
            digest = hashlib.sha256(ml_env.path("data/data.csv").read_bytes()).hexdigest()
            out = request.config.rootpath / f"damage-{request.config.getoption('mlchaos_seed')}.txt"
            with open(out, "a") as fh:
                fh.write(digest + "\\n")
        """
    )
    for seed in ("1", "1", "2"):
        chaos.runpytest("--mlchaos", f"--mlchaos-seed={seed}").assert_outcomes(passed=1)
    first, second = (chaos.path / "damage-1.txt").read_text().split()
    (third,) = (chaos.path / "damage-2.txt").read_text().split()
    assert first == second
    assert third != first


def test_seed_last_reuses_the_previous_seed(chaos: pytest.Pytester) -> None:
    chaos.makepyfile("def test_x(): pass")
    chaos.runpytest("--mlchaos", "--mlchaos-seed=4242").assert_outcomes(passed=1)
    result = chaos.runpytest("--mlchaos", "--mlchaos-seed=last")
    result.stdout.fnmatch_lines(["mlchaos: seed=4242 (last)*"])


def test_a_crashed_stage_is_detected_and_recovered(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(
        """
        import pytest

        @pytest.mark.incident("pipeline_failure", stage="train")
        def test_transient(ml_env):
            assert ml_env.detect()
        """
    )
    result = chaos.runpytest("--mlchaos")
    result.assert_outcomes(passed=1)
