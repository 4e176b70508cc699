"""The JSON report: schema, records, summary, round trip, comparability across worker counts."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import pytest

from pytest_mlchaos.versions import TOOLS

from pytest_mlchaos.gate import MetricChange, Verdict
from pytest_mlchaos.outcome import IncidentOutcome
from pytest_mlchaos.project import Attempt
from pytest_mlchaos.report import SCHEMA, comparable
from pytest_mlchaos.report.document import build_report, collect_versions, outcome_from_record
from pytest_mlchaos.report.files import dumps


def as_read_by_ci(report: dict) -> dict:
    return json.loads(dumps(report))


def test_a_report_of_every_verdict_validates_against_the_documented_schema(outcomes, run, validate, make):
    error = make("scenarios/test_x.py::test_error", Verdict.ERROR, reason="error: recover() raised OSError: gone",
                 error={"where": "recover", "type": "OSError", "message": "gone"})
    laundered = make("scenarios/test_x.py::test_laundered", Verdict.FALSE_RECOVERY, recovery_claimed=True,
                     replaced=("data/raw.csv (5,000 lines as before, content differs; a good copy survived in backups)",),
                     lossy=("data/other.csv: every copy was destroyed; recovered content: 90 of 100 lines (10 lost)",),
                     stores=(".dvc/cache/files/md5/ab/cdef: missing (dvc_cache)",),
                     evaluated=("the recovered model on the baseline's holdout (metrics files removed)",))
    report = as_read_by_ci(build_report(run(baseline={"cached": False, "rebuilt_because": "the template differs",
                                                      "build_seconds": 1.5, "verify_seconds": 0.0}),
                                        [*outcomes, error, laundered]))
    validate(report)
    assert report["schema"] == SCHEMA == "mlchaos-report/2"
    assert {r["verdict"] for r in report["incidents"]} == {v.value for v in Verdict}
    record = next(r for r in report["incidents"] if r["verdict"] == "error")
    assert record["error"] == {"where": "recover", "type": "OSError", "message": "gone"} and not record["passed"]


def test_an_empty_run_validates_and_has_no_score(run, validate):
    report = as_read_by_ci(build_report(run(workers=2), []))
    validate(report)
    assert report["incidents"] == []
    assert report["summary"]["score"] is None
    assert report["summary"]["slowest_recovery"] is None


def test_the_schema_rejects_a_report_with_an_unknown_verdict_or_a_missing_field(outcomes, run, validate):
    import jsonschema

    report = as_read_by_ci(build_report(run(), outcomes))
    bad = json.loads(json.dumps(report))
    bad["incidents"][0]["verdict"] = "fine"
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)
    bad = json.loads(json.dumps(report))
    del bad["incidents"][0]["time_to_recover"]
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)
    bad = json.loads(json.dumps(report))
    bad["summary"]["score"] = 100.5
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)


def test_fields_added_through_the_report_hook_still_validate(outcomes, run, validate):
    report = build_report(run(), outcomes)
    report["extensions"]["myplugin"] = {"owner": "ml-team", "budget": [1, 2]}
    report["incidents"][0]["myplugin_ticket"] = "OPS-1"
    validate(as_read_by_ci(report))


def test_the_json_is_strict_even_with_a_missing_metric(outcomes, run, long_nodeid):
    text = dumps(build_report(run(), outcomes))
    assert "Infinity" not in text and "NaN" not in text
    record = next(r for r in json.loads(text)["incidents"] if r["nodeid"] == long_nodeid)
    f1 = next(m for m in record["metrics"] if m["name"] == "f1")
    assert f1 == {"name": "f1", "baseline": 0.8, "after": None, "relative_drop": None, "relative_change": None,
                  "direction": "higher_is_better"}
    assert record["worst_drop"] is None


def test_records_are_sorted_by_node_id_whatever_order_they_arrive_in(outcomes, run):
    forward = build_report(run(), outcomes)
    backward = build_report(run(), list(reversed(outcomes)))
    ids = [r["nodeid"] for r in forward["incidents"]]
    assert ids == sorted(ids)
    assert forward == backward


def test_a_record_holds_incidents_strategies_times_metrics_and_replay_lines(run, make, incidents):
    outcome = make("t.py::test_x", Verdict.REPAIRED, incidents=(incidents["noise"], incidents["delete"]),
                   strategy="retrain", recovery_claimed=True,
                   attempts=(Attempt("restore_backup", False, 0.5, "no backup"), Attempt("retrain", True, 2.0)),
                   metrics=(MetricChange("accuracy", 0.8, 0.78, 0.025), MetricChange("rmse", 2.0, 2.1, 0.05)),
                   time_to_detect=0.125, time_to_recover=2.5, time_to_metrics=3.0)
    (record,) = build_report(run(), [outcome])["incidents"]
    assert record["incidents"] == [
        {"kind": "data_corruption", "mode": "noise", "params": {"fraction": 0.1, "scale": 3.0}, "target": None,
         "seed": 12},
        {"kind": "model_loss", "mode": "delete", "params": {}, "target": None, "seed": 13},
    ]
    assert [(a["strategy"], a["succeeded"], a["seconds"]) for a in record["attempts"]] == [
        ("restore_backup", False, 0.5), ("retrain", True, 2.0)]
    assert (record["time_to_detect"], record["time_to_recover"], record["time_to_metrics"]) == (0.125, 2.5, 3.0)
    accuracy, rmse = record["metrics"]
    assert accuracy["baseline"] == 0.8 and accuracy["after"] == 0.78
    assert accuracy["relative_change"] == pytest.approx(-0.025)
    assert rmse["relative_change"] == pytest.approx(0.05)  # signed: rmse went up
    assert record["worst_drop"] == pytest.approx(0.05)
    assert record["replay"] == [
        "@pytest.mark.incident('data_corruption', mode='noise', fraction=0.1, scale=3.0, seed=12)",
        "@pytest.mark.incident('model_loss', mode='delete', seed=13)",
    ]


def test_records_round_trip_through_incident_outcome_from_dict(outcomes, run):
    report = as_read_by_ci(build_report(run(), outcomes))
    by_id = {o.nodeid: o for o in outcomes}
    for record in report["incidents"]:
        original = by_id[record["nodeid"]]
        assert outcome_from_record(record) == original
        if all(math.isfinite(m.drop) for m in original.metrics):
            assert IncidentOutcome.from_dict(record) == original


def test_the_summary_counts_verdicts_and_passes(outcomes, run):
    summary = build_report(run(), outcomes)["summary"]
    assert summary["total"] == 8
    assert summary["verdicts"] == {"restored": 1, "repaired": 1, "degraded": 1, "critical": 2, "unrecovered": 2,
                                   "false_recovery": 1, "error": 0}
    assert (summary["passed"], summary["failed"]) == (4, 4)
    assert summary["expected_unrecoverable"] == 1


def test_the_slowest_recovery_names_the_test_and_its_time(outcomes, run):
    slow = build_report(run(), outcomes)["summary"]["slowest_recovery"]
    assert slow == {"nodeid": "scenarios/test_model.py::test_critical", "seconds": 3.0, "strategy": "retrain"}


def test_mttr_statistics_per_winning_strategy_and_per_attempt(outcomes, run):
    summary = build_report(run(), outcomes)["summary"]
    # winning strategies: recoveries the manager claimed (false recoveries included: it named a strategy)
    assert summary["mttr_by_strategy"] == {
        "noop": {"count": 1, "mean": 0.0, "median": 0.0, "max": 0.0},
        "restore_backup": {"count": 1, "mean": 0.25, "median": 0.25, "max": 0.25},
        "rerun_pipeline": {"count": 2, "mean": 1.4, "median": 1.4, "max": 1.55},
        "retrain": {"count": 2, "mean": 2.5, "median": 2.5, "max": 3.0},
    }
    assert summary["attempts_by_strategy"]["restore_backup"] == {
        "count": 3, "mean": pytest.approx(0.8 / 3, abs=1e-6), "median": 0.25, "max": 0.5, "succeeded": 1}
    assert summary["attempts_by_strategy"]["rerun_pipeline"]["succeeded"] == 2


def test_the_run_section_carries_seed_project_versions_thresholds_and_timing(run):
    section = build_report(run(workers=2), [])["run"]
    assert section["seed"] == 1234
    assert section["project"] == {"name": "toy", "source": "toyml:project"}
    assert section["thresholds"]["metrics"] == ["accuracy"]
    assert (section["started"], section["duration"], section["workers"]) == ("2026-11-27T19:00:00+00:00", 42.5, 2)


def _retimed(outcome: IncidentOutcome, factor: float) -> IncidentOutcome:
    def scale(value):
        return None if value is None else value * factor

    return dataclasses.replace(
        outcome, time_to_detect=scale(outcome.time_to_detect), time_to_recover=scale(outcome.time_to_recover),
        time_to_metrics=scale(outcome.time_to_metrics),
        attempts=tuple(dataclasses.replace(a, seconds=a.seconds * factor + 0.5) for a in outcome.attempts),
    )


def test_comparable_reports_are_equal_when_only_timings_and_workers_differ(outcomes, run):
    serial = build_report(run(workers=0), outcomes)
    parallel = build_report(
        run(workers=2, started="2026-11-27T20:00:07+00:00", duration=17.0),
        [_retimed(o, 0.3) for o in reversed(outcomes)],
    )
    assert serial != parallel
    assert comparable(serial) == comparable(parallel)
    assert comparable(serial)["summary"]["mttr_by_strategy"]["retrain"] == {"count": 2}


def test_comparable_reports_differ_when_a_verdict_differs(outcomes, run):
    changed = [dataclasses.replace(outcomes[0], verdict=Verdict.REPAIRED)] + outcomes[1:]
    assert comparable(build_report(run(), outcomes)) != comparable(build_report(run(), changed))


def test_comparable_does_not_change_the_report(outcomes, run):
    report = build_report(run(), outcomes)
    before = json.dumps(report, sort_keys=True)
    comparable(report)
    assert json.dumps(report, sort_keys=True) == before


def test_collect_versions_names_every_package_without_importing_dvc_mlflow_or_pytest():
    code = (
        "import sys, json\n"
        "from pytest_mlchaos.report.document import collect_versions\n"
        "v = collect_versions()\n"
        "heavy = ('dvc', 'mlflow', 'sklearn', 'pandas', 'pytest', '_pytest')\n"
        "print(json.dumps([v, sorted(m for m in heavy if m in sys.modules)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    versions, imported = json.loads(out)
    assert imported == []
    assert {"python", "pytest", "pytest-mlchaos", "dvc", "mlflow", "sklearn"} <= set(versions)  # the schema's
    assert set(versions) == {"python", *(("sklearn" if d == "scikit-learn" else d) for d in TOOLS)}
    assert versions["pytest"] == pytest.__version__
    assert versions == collect_versions()


def test_a_run_info_with_only_a_seed_makes_a_valid_report(validate, outcomes):
    from datetime import datetime, timezone

    from pytest_mlchaos.report.document import RunInfo

    report = as_read_by_ci(build_report(RunInfo(seed=3), outcomes))
    validate(report)
    run = report["run"]
    assert run["thresholds"] == {"warn_drop": 0.05, "fail_drop": 0.1, "metrics": [], "max_mttr": None,
                                 "strict": False, "directions": {}}
    assert run["baseline"] is None
    assert run["versions"]["pytest"] == pytest.__version__
    started = datetime.fromisoformat(run["started"])
    assert started.utcoffset() == timezone.utc.utcoffset(None)
    assert (run["project"], run["workers"]) == ({"name": None, "source": None}, 0)
