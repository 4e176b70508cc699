"""Progress of a baseline build: one line per stage through the terminal, none under ``-q``."""

from __future__ import annotations

import pytest

from pytest_mlchaos import progress

SUITE = """
import pytest

@pytest.mark.incident("model_loss", mode="delete")
def test_it(ml_env):
    pass
"""


def test_each_stage_is_announced_once_with_the_time_since_the_work_began() -> None:
    heard: list[tuple[str, float]] = []
    with progress.listening(lambda stage, seconds: heard.append((stage, seconds))):
        progress.stage("training")
        progress.stage("training")
        progress.stage("evaluating")
    progress.stage("nobody listens")  # outside a build: nothing, no error
    assert [stage for stage, _ in heard] == ["training", "evaluating"]
    assert 0 <= heard[0][1] <= heard[1][1]


def test_a_baseline_build_prints_its_stages_and_a_cached_one_does_not(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(test_it=SUITE)
    first = chaos.runpytest("--mlchaos")
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines([
        "mlchaos: building the baseline of toyml *",
        "mlchaos: baseline [[]*s]: building toyml",
        "mlchaos: baseline [[]*s]: evaluating the baseline's metrics",
        "mlchaos: baseline [[]*s]: taking the manifest (digests of artifacts, stores and registry)",
    ])
    assert sum(line.endswith("]: building toyml") for line in first.stdout.lines) == 1
    again = chaos.runpytest("--mlchaos")
    again.assert_outcomes(passed=1)
    assert "mlchaos: baseline [" not in again.stdout.str()


def test_quiet_under_q(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(test_it=SUITE)
    result = chaos.runpytest("--mlchaos", "-q")
    result.assert_outcomes(passed=1)
    assert "mlchaos: baseline [" not in result.stdout.str()
