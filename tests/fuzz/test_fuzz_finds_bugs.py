"""Proof that fuzzing finds real recovery bugs in the toy project, and shrinks them to the minimal incident."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from pytest_mlchaos.env import EnvFactory
from pytest_mlchaos.gate import Thresholds, Verdict
from pytest_mlchaos.incidents import Incident
from pytest_mlchaos.profiles import PHASES
from pytest_mlchaos.strategies import incident_sequences

from . import toyproject
from .toyincidents import toy_registry

REG = toy_registry()
TWO_KINDS = ("toy_data", "toy_model")


@dataclass
class FuzzRun:
    error: BaseException | None
    examples: list[list[Incident]]
    verdicts: list[Verdict]
    seconds: float

    @property
    def last(self) -> list[Incident]:
        """Hypothesis replays the minimal failing example last: this is the shrunk one."""
        return self.examples[-1]

    @property
    def notes(self) -> str:
        return "\n".join(getattr(self.error, "__notes__", ()))


def fuzz(factory: EnvFactory, strategy: Any, *, max_examples: int = 50) -> FuzzRun:
    """``@given(strategy)``: each example a fresh environment from ``factory``, recovered and verified."""
    run = FuzzRun(None, [], [], 0.0)

    @settings(max_examples=max_examples, deadline=None, derandomize=True, phases=PHASES, report_multiple_bugs=False,
              suppress_health_check=[HealthCheck.too_slow])
    @given(strategy)
    def recovery_holds(incidents: list[Incident]) -> None:
        run.examples.append(incidents)
        with factory(incidents) as env:
            outcome = env.verify(Thresholds())
        run.verdicts.append(outcome.verdict)
        # A pass, or an honest "cannot recover"; never a false recovery or a critical drop.
        assert outcome.verdict.passed or outcome.verdict is Verdict.UNRECOVERED, f"{outcome.verdict.value}: {outcome.reason}"

    start = time.perf_counter()
    try:
        recovery_holds()
    except Exception as exc:  # the falsifying example's own failure, re-raised by Hypothesis
        run.error = exc
    run.seconds = time.perf_counter() - start
    return run


def test_fuzzing_finds_a_recovery_that_misses_a_same_size_bitflip_and_shrinks_it_to_one_byte(make_factory) -> None:
    run = fuzz(make_factory(toyproject.size_blind_recovery), incident_sequences(registry=REG, kinds=TWO_KINDS))

    assert run.error is not None, "fuzzing did not find the size-blind recovery manager"
    assert run.last == [Incident("toy_data", "bitflip", {"n_bytes": 1}, seed=0)]
    assert str(run.error).startswith("false_recovery: false recovery: the recovery manager reported success")
    assert "@pytest.mark.incident('toy_data', mode='bitflip', n_bytes=1, seed=0)" in run.notes


def test_fuzzing_finds_a_recovery_that_fails_only_when_two_incidents_combine(make_factory) -> None:
    factory = make_factory(toyproject.first_only_recovery)
    run = fuzz(factory, incident_sequences(registry=REG, kinds=TWO_KINDS))

    assert run.error is not None, "fuzzing did not find the recovery manager that stops after one repair"
    shrunk = sorted(run.last, key=lambda i: i.kind)
    # The minimal example: exactly two incidents, one of each kind, the simplest modes, the lowest severity.
    assert shrunk == [Incident("toy_data", "truncate", {"fraction": 0.0001}, seed=0),
                      Incident("toy_model", "delete", seed=0)]
    assert "false_recovery" in str(run.error)
    for line in (i.marker_line() for i in shrunk):
        assert line in run.notes
    # Each of the two alone is recovered: the bug is in the combination.
    for incident in shrunk:
        with factory([incident]) as env:
            assert env.verify().verdict is Verdict.RESTORED


def test_the_same_fuzzing_run_passes_against_the_correct_recovery_manager(make_factory, toy_baseline,
                                                                           record_property) -> None:
    strategy = incident_sequences(registry=REG, available=toy_baseline.artifacts.available())
    run = fuzz(make_factory(toyproject.backup_recovery), strategy, max_examples=50)

    assert run.error is None, run.notes
    assert len(run.examples) == 50
    assert set(run.verdicts) == {Verdict.RESTORED}
    assert {i.kind for seq in run.examples for i in seq} == {"toy_data", "toy_model", "toy_pipeline"}
    assert max(len(seq) for seq in run.examples) == 3
    record_property("mlchaos_50_examples_seconds", round(run.seconds, 3))
    print(f"\n50 fuzzing examples against the toy project: {run.seconds:.2f} s")


def test_a_failing_fuzz_test_prints_the_marker_lines_that_replay_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from hypothesis import given, settings
        from pytest_mlchaos.incidents import IncidentRegistry, Param
        from pytest_mlchaos.profiles import PHASES
        from pytest_mlchaos.strategies import incident_sequences

        REG = IncidentRegistry()
        REG.register_function("disk", "fill", lambda ctx, inc, t: "", params=[Param("percent", int, 50, low=1, high=100, severity=True)])
        REG.register_function("net", "drop", lambda ctx, inc, t: "")

        @settings(derandomize=True, report_multiple_bugs=False, deadline=None, max_examples=100, phases=PHASES)
        @given(incident_sequences(registry=REG, max_size=4))
        def test_survives(incidents):
            assert len({i.kind for i in incidents}) < 2, "disk and net together"
        """
    )
    result = pytester.runpytest("-p", "no:mlchaos", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: disk and net together", "*mlchaos replay (run with pytest --mlchaos):"])
    for line in ("@pytest.mark.incident('disk', mode='fill', percent=1, seed=0)",
                 "@pytest.mark.incident('net', mode='drop', seed=0)", "def test_replay(ml_env):"):
        result.stdout.fnmatch_lines([f"*mlchaos replay*", f"*{line}"])
