"""find_breaking_severity on the toy project: where a clean-and-retrain repair stops holding the metrics."""

from __future__ import annotations

import pytest

from pytest_mlchaos.gate import Thresholds, Verdict
from pytest_mlchaos.incidents import Incident, IncidentError
from pytest_mlchaos.severity import find_breaking_severity

from . import toyproject

MISSING = Incident("toy_data", "missing_values", seed=3)
THRESHOLDS = Thresholds(warn_drop=0.02, fail_drop=0.05)


def test_it_finds_the_smallest_fraction_of_damaged_rows_the_repair_cannot_absorb(make_factory) -> None:
    factory = make_factory(toyproject.clean_and_retrain_recovery)

    result = find_breaking_severity(factory, MISSING, thresholds=THRESHOLDS, tolerance=0.01)

    seen = dict(result.verdicts)
    assert result.param == "fraction" and (result.low, result.high) == (0.01, 1.0)
    assert result.breaking is not None and result.holding is not None
    assert result.breaking == pytest.approx(result.holding + 0.01)
    assert not seen[result.breaking].passed and seen[result.holding].passed
    # Every probe below the holding value passed, every probe from the breaking value up failed.
    assert all(v.passed for s, v in result.verdicts if s <= result.holding)
    assert not any(v.passed for s, v in result.verdicts if s >= result.breaking)
    assert seen[0.01] is Verdict.REPAIRED
    assert str(result).startswith(f"toy_data/missing_values breaks at fraction={result.breaking} (")
    # The breaking incident replays: a fresh environment at that severity fails the same way.
    with factory([result.breaking_incident]) as env:
        assert env.verify(THRESHOLDS).verdict is seen[result.breaking]


def test_a_recovery_that_restores_from_backup_never_breaks(make_factory) -> None:
    result = find_breaking_severity(make_factory(toyproject.backup_recovery), MISSING, thresholds=THRESHOLDS)

    assert result.breaking is None and result.verdicts == ((1.0, Verdict.RESTORED),)
    assert str(result) == "toy_data/missing_values: recovery held up to fraction=1.0 (1 probes)"


def test_integer_severities_are_searched_in_whole_steps(make_factory) -> None:
    result = find_breaking_severity(make_factory(toyproject.size_blind_recovery), Incident("toy_model", "corrupt", seed=1))

    assert result.breaking == 1 and result.holding is None  # one flipped byte already defeats it
    assert result.verdicts == ((256, Verdict.FALSE_RECOVERY), (1, Verdict.FALSE_RECOVERY))


@pytest.mark.parametrize(
    ("incident", "kwargs", "message"),
    [
        (Incident("toy_model", "delete"), {}, r"incident toy_model/delete: pass param= .*; severity parameters: none"),
        (MISSING, {"param": "rows"}, r"param='rows' is not one of its parameters: fraction"),
        (MISSING, {"low": 0.5, "high": 0.2}, r"low=0.5 must be below high=0.2"),
        (MISSING, {"tolerance": 0}, r"tolerance=0 must be a positive number"),
        (Incident("toy_pipeline", "partial_write"), {"param": "stage"}, r"parameter stage is str, not a numeric range"),
        (Incident("toy_nope"), {}, r"unknown incident kind 'toy_nope'"),
    ],
)
def test_bad_arguments_are_refused_before_any_probe(make_factory, incident: Incident, kwargs: dict, message: str) -> None:
    factory = make_factory(toyproject.backup_recovery)
    with pytest.raises(IncidentError, match=message):
        find_breaking_severity(factory, incident, **kwargs)
    assert list(factory.base.iterdir()) == []  # no environment left behind
