"""Fixtures judge by the run's settings, skip without --mlchaos; projects load from a class; markers keep their order."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent



def test_a_class_given_as_the_project_is_instantiated(pytester: pytest.Pytester, use_project) -> None:
    use_project("toyml:ToyProject")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.incident("model_loss", mode="delete")
        def test_it(ml_env, mlchaos_project):
            assert type(mlchaos_project).__name__ == "ToyProject"
        """)
    pytester.runpytest("--mlchaos").assert_outcomes(passed=1)


@pytest.mark.parametrize(("spec", "module", "expected"), [
    ("pytest_mlchaos.dvc_project:DVCProject", None,
     "*the class 'DVCProject' cannot be called without arguments*point the ini key at an instance*"),
    ("exploding:project", "raise RuntimeError('no credentials in this shell')",
     "*importing 'exploding' failed: RuntimeError: no credentials in this shell*"),
    ("needy:make", "def make(path):\n    pass",
     "*the callable 'make' cannot be called without arguments*"),
], ids=["class-with-arguments", "module-raises", "factory-with-arguments"])
def test_a_project_that_cannot_be_made_is_a_usage_error(pytester: pytest.Pytester, spec: str, module: str | None,
                                                        expected: str) -> None:
    if module:
        pytester.makepyfile(**{spec.split(":")[0]: module})
    pytester.makeini(f"[pytest]\nmlchaos_project = {spec}\npythonpath = .\n")
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("--mlchaos")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_the_session_fixtures_skip_without_mlchaos(pytester: pytest.Pytester, use_project) -> None:
    use_project("toyml:project")
    pytester.makepyfile("""
        def test_factory(ml_env_factory):
            pass

        def test_baseline(ml_baseline):
            pass
        """)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*needs --mlchaos*"])


@pytest.mark.parametrize(("budget", "judged"), [
    ("60", 'outcome.passed and [m.name for m in outcome.metrics] == ["f1"]'),  # recovered within the budget
    ("1e-9", 'not outcome.passed and outcome.reason.startswith("recovery cut: it had not returned after 1e-09s")'),
])
def test_the_factory_judges_by_the_runs_thresholds_metrics_strictness_and_mttr_budget(
    pytester: pytest.Pytester, use_project, budget: str, judged: str
) -> None:
    use_project("toyml:project")
    pytester.makepyfile(f"""
        from pytest_mlchaos.incidents import Incident

        def test_it(ml_env_factory):
            with ml_env_factory([Incident("model_loss", "delete")]) as env:
                policy = env.policy
                outcome = env.verify()
            assert (policy.thresholds.warn_drop, policy.thresholds.fail_drop) == (0.01, 0.02)
            assert policy.strict and policy.max_mttr == {float(budget)!r}
            assert {judged}, outcome.reason
        """)
    result = pytester.runpytest("--mlchaos", "--mlchaos-warn-drop=0.01", "--mlchaos-fail-drop=0.02",
                                "--mlchaos-metrics=f1", "--mlchaos-strict", f"--mlchaos-max-mttr={budget}")
    result.assert_outcomes(passed=1)


def test_stacked_markers_are_injected_top_first_and_replayed_in_that_order(pytester: pytest.Pytester, use_project) -> None:
    use_project("toyml:noop_project")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.incident("model_loss", mode="corrupt")
        @pytest.mark.incident("data_corruption", mode="bitflip")
        @pytest.mark.parametrize("x", [pytest.param(1, marks=pytest.mark.incident("model_loss", mode="truncate"))])
        def test_order(ml_env, x):
            assert [(i.kind, i.mode) for i in ml_env.incidents] == [
                ("model_loss", "corrupt"), ("data_corruption", "bitflip"), ("model_loss", "truncate")]
        """)
    result = pytester.runpytest("--mlchaos", "--mlchaos-seed=3")
    result.assert_outcomes(failed=1)  # the noop manager: a false recovery, after the body passed
    result.stdout.fnmatch_lines(["*replay with:", "*@pytest.mark.incident('model_loss', mode='corrupt', *seed=*)",
                                 "*@pytest.mark.incident('data_corruption', mode='bitflip', *)",
                                 "*@pytest.mark.incident('model_loss', mode='truncate', *)"])


def test_an_unrecovered_failure_lists_what_is_still_damaged(run_one_incident) -> None:
    result = run_one_incident("toyml:honest_fail_project")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unrecovered: the recovery manager reported that it could not recover "
                                 "(no backup strategy configured)",
                                 "*still damaged (as the incident left it): models/model.pkl (missing)"])


def test_the_replay_line_keeps_the_expectation(run_one_incident) -> None:
    result = run_one_incident("toyml:project", '"model_loss", mode="delete", expect="unrecoverable"')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.incident('model_loss', mode='delete', seed=*, expect='unrecoverable')"])
