"""The resilience score: its formula on hand-computed examples, and its bounds for any outcomes."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_mlchaos.gate import EXPECTATIONS, Verdict
from pytest_mlchaos.incidents.spec import Incident
from pytest_mlchaos.outcome import IncidentOutcome
from pytest_mlchaos.report import resilience_score
from pytest_mlchaos.report.document import RunInfo, build_report

INCIDENT = Incident("data_corruption", "noise", {"fraction": 0.5}, seed=1)


def outcome(verdict: Verdict, *, passed: bool | None = None, expect: str = "recovered") -> IncidentOutcome:
    return IncidentOutcome(nodeid=f"t.py::test_{verdict.value}", incidents=(INCIDENT,), verdict=verdict,
                           expect=expect, passed=verdict.passed if passed is None else passed)


R, P, D, C, U, F = (Verdict.RESTORED, Verdict.REPAIRED, Verdict.DEGRADED, Verdict.CRITICAL, Verdict.UNRECOVERED,
                    Verdict.FALSE_RECOVERY)


@pytest.mark.parametrize(("outcomes", "expected"), [
    pytest.param([outcome(R)], 100.0, id="restored"),
    pytest.param([outcome(R)] * 3, 100.0, id="all-restored"),
    pytest.param([outcome(P)], 90.0, id="repaired"),
    pytest.param([outcome(D)], 60.0, id="degraded"),
    pytest.param([outcome(C)], 0.0, id="critical"),
    pytest.param([outcome(U)], 0.0, id="unrecovered"),
    pytest.param([outcome(U, passed=True, expect="unrecoverable")], 100.0, id="honestly-unrecoverable"),
    pytest.param([outcome(R), outcome(P), outcome(D), outcome(C)], 62.5, id="(1+0.9+0.6+0)/4"),
    pytest.param([outcome(F)], 0.0, id="false-recovery-penalty-stops-at-zero"),
    pytest.param([outcome(F)] * 5, 0.0, id="many-false-recoveries-stop-at-zero"),
    pytest.param([outcome(R), outcome(F)], 25.0, id="(1-0.5)/2"),
    pytest.param([outcome(R), outcome(R), outcome(P), outcome(F)], 60.0, id="(1+1+0.9-0.5)/4"),
    pytest.param([outcome(R, passed=False)], 50.0, id="restored-but-over-mttr-budget-counts-half"),
    pytest.param([outcome(D, passed=False)], 50.0, id="degraded-failing-under-strict-counts-half"),
    pytest.param([outcome(R, passed=False, expect="unrecoverable")], 50.0, id="expected-unrecoverable-but-restored"),
    pytest.param([outcome(R), outcome(P), outcome(P)], 93.33, id="rounded-to-2-decimals"),
    pytest.param([outcome(R), outcome(P), outcome(D), outcome(C), outcome(F)], 40.0, id="worked-example-in-the-docs"),
])
def test_the_score_follows_the_documented_formula(outcomes, expected):
    assert resilience_score(outcomes) == expected


def test_the_fixture_run_of_every_verdict_scores_as_computed_by_hand(outcomes):
    # weights 1 + 0.9 + 0.6 + 0 + 0 + 1 (honest) + 0 + 0 = 3.5, one false recovery: (3.5 - 0.5) / 8
    assert resilience_score(outcomes) == 37.5


def test_an_empty_run_has_no_score():
    assert resilience_score([]) is None


# every combination the score depends on (verdict x expect x passed), built once; hypothesis picks lists of them
KINDS = [
    IncidentOutcome(nodeid=f"t.py::test_{v.value}_{e}_{p}", incidents=(INCIDENT,), verdict=v, expect=e, passed=p)
    for v in Verdict for e in EXPECTATIONS for p in (True, False)
]
outcomes_strategy = st.sampled_from(KINDS)


@settings(max_examples=200, deadline=None)
@given(st.lists(outcomes_strategy, min_size=1, max_size=40))
def test_any_outcomes_score_between_0_and_100(outcomes):
    score = resilience_score(outcomes)
    assert score is not None and 0.0 <= score <= 100.0
    assert build_report_score(outcomes) == score  # the report sorts outcomes: the order must not change it
    assert resilience_score(list(reversed(outcomes))) == score


RUN = RunInfo(seed=0)


def build_report_score(outcomes):
    return build_report(RUN, outcomes)["summary"]["score"]


@settings(max_examples=100, deadline=None)
@given(st.lists(outcomes_strategy, min_size=1, max_size=20), st.data())
def test_turning_an_outcome_into_a_passing_restore_never_lowers_the_score(outcomes, data):
    index = data.draw(st.integers(0, len(outcomes) - 1))
    better = list(outcomes)
    better[index] = dataclasses.replace(outcomes[index], verdict=Verdict.RESTORED, passed=True)
    assert resilience_score(better) >= resilience_score(outcomes)


@settings(max_examples=100, deadline=None)
@given(st.lists(outcomes_strategy, min_size=1, max_size=20), st.data())
def test_turning_an_outcome_into_a_false_recovery_never_raises_the_score(outcomes, data):
    index = data.draw(st.integers(0, len(outcomes) - 1))
    worse = list(outcomes)
    worse[index] = dataclasses.replace(outcomes[index], verdict=Verdict.FALSE_RECOVERY, passed=False)
    assert resilience_score(worse) <= resilience_score(outcomes)
