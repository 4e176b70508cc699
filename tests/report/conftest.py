"""Outcomes built by hand, one of every kind the report has to show."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import pytest

from pytest_mlchaos.gate import MetricChange, Verdict, expectation_met
from pytest_mlchaos.incidents.spec import Incident
from pytest_mlchaos.outcome import IncidentOutcome
from pytest_mlchaos.project import Attempt
from pytest_mlchaos.report.document import RunInfo

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "mlchaos-report-2.schema.json"
LONG_NODEID = ("scenarios/test_compound_incidents.py::TestCompound::test_" + "data_and_model_" * 12
               + "[seed-3|fraction=0.2]")

MISSING = Incident("data_corruption", "missing_values", {"fraction": 0.2}, seed=11)
NOISE = Incident("data_corruption", "noise", {"fraction": 0.1, "scale": 3.0}, seed=12)
DELETE = Incident("model_loss", "delete", seed=13)
STAGE = Incident("pipeline_failure", None, {"stage": "train"}, target="dvc.yaml", seed=14)


def make_outcome(nodeid: str, verdict: Verdict, **fields: Any) -> IncidentOutcome:
    """An outcome with defaults for ``verdict`` (``passed`` as the gate would decide it, unless given)."""
    fields.setdefault("incidents", (MISSING,))
    fields.setdefault("passed", expectation_met(verdict, fields.get("expect", "recovered"))[0])
    return IncidentOutcome(nodeid=nodeid, verdict=verdict, **fields)


def every_verdict() -> list[IncidentOutcome]:
    """One outcome per verdict, an expected-unrecoverable one, a missing metric and a long node id."""
    return [
        make_outcome("scenarios/test_data.py::test_restored", Verdict.RESTORED, strategy="restore_backup",
                     attempts=(Attempt("restore_backup", True, 0.25),), recovery_claimed=True,
                     metrics=(MetricChange("accuracy", 0.9, 0.9, 0.0),),
                     time_to_detect=0.01, time_to_recover=0.25, time_to_metrics=0.5),
        make_outcome("scenarios/test_data.py::test_repaired", Verdict.REPAIRED, incidents=(NOISE,),
                     strategy="rerun_pipeline", attempts=(Attempt("restore_backup", False, 0.05, "no backup"),
                                                          Attempt("rerun_pipeline", True, 1.5)),
                     recovery_claimed=True, mismatched=("data/train.csv",),
                     metrics=(MetricChange("accuracy", 0.9, 0.88, 0.022222), MetricChange("rmse", 2.0, 1.9, 0.0)),
                     time_to_detect=0.02, time_to_recover=1.55, time_to_metrics=2.0),
        make_outcome("scenarios/test_data.py::test_degraded", Verdict.DEGRADED, strategy="rerun_pipeline",
                     attempts=(Attempt("rerun_pipeline", True, 1.25),), recovery_claimed=True,
                     metrics=(MetricChange("accuracy", 0.9, 0.837, 0.07),), time_to_recover=1.25, time_to_metrics=1.5),
        make_outcome("scenarios/test_model.py::test_critical", Verdict.CRITICAL, incidents=(DELETE,),
                     reason="critical: metrics dropped beyond the fail threshold", strategy="retrain",
                     attempts=(Attempt("retrain", True, 3.0),), recovery_claimed=True,
                     metrics=(MetricChange("accuracy", 0.9, 0.72, 0.2),), time_to_recover=3.0),
        make_outcome("scenarios/test_model.py::test_unrecovered", Verdict.UNRECOVERED, incidents=(DELETE, MISSING),
                     reason="unrecovered: the recovery manager reported that it could not recover",
                     attempts=(Attempt("restore_backup", False, 0.5, "backup gone"),), time_to_recover=0.5),
        make_outcome("scenarios/test_model.py::test_expected_unrecoverable", Verdict.UNRECOVERED,
                     expect="unrecoverable", incidents=(DELETE,), time_to_recover=0.1),
        make_outcome("scenarios/test_pipeline.py::test_false_recovery", Verdict.FALSE_RECOVERY, incidents=(STAGE,),
                     reason="false recovery: the recovery manager reported success, but the damage is still there",
                     strategy="noop", recovery_claimed=True, still_damaged=("data/train.csv",), time_to_recover=0.0),
        make_outcome(LONG_NODEID, Verdict.CRITICAL, incidents=(MISSING, DELETE),
                     reason="critical: metrics dropped beyond the fail threshold | missing metric", strategy="retrain",
                     recovery_claimed=True,
                     metrics=(MetricChange("accuracy", 0.9, 0.9, 0.0), MetricChange("f1", 0.8, None, math.inf)),
                     time_to_recover=2.0),
    ]


def run_info(**changes: Any) -> RunInfo:
    values: dict[str, Any] = dict(
        seed=1234,
        project={"name": "toy", "source": "toyml:project"},
        versions={"python": "3.11.7", "pytest": "9.0", "pytest-mlchaos": "0.1.0", "dvc": None, "mlflow": None,
                  "sklearn": None},
        thresholds={"warn_drop": 0.05, "fail_drop": 0.10, "metrics": ("accuracy",), "max_mttr": None, "strict": False},
        started="2026-11-27T19:00:00+00:00",
        duration=42.5,
        workers=0,
    )
    values.update(changes)
    return RunInfo(**values)


@pytest.fixture
def outcomes() -> list[IncidentOutcome]:
    """One outcome of every kind (see ``every_verdict``)."""
    return every_verdict()


@pytest.fixture
def make() -> Callable[..., IncidentOutcome]:
    """``make(nodeid, verdict, **fields)``: an outcome with defaults."""
    return make_outcome


@pytest.fixture
def run() -> Callable[..., RunInfo]:
    """``run(**changes)``: a ``RunInfo`` with fixed values."""
    return run_info


@pytest.fixture
def long_nodeid() -> str:
    return LONG_NODEID


@pytest.fixture
def incidents() -> dict[str, Incident]:
    return {"missing": MISSING, "noise": NOISE, "delete": DELETE, "stage": STAGE}


@pytest.fixture(scope="session")
def validate() -> Callable[[Any], None]:
    """Validate a report (after a JSON round trip, as a CI job would read it) against the documented schema."""
    import jsonschema  # a test dependency: the schema check must not skip silently

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)

    def check(report: Any) -> None:
        validator.validate(report)

    return check
