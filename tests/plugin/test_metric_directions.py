"""Metric direction reaches the gate (declared by the project, by the ini file, or by convention), and
gated metric names are checked against the baseline before any test runs."""

from __future__ import annotations

import json
import pytest

from pytest_mlchaos.gate import Directions, ThresholdError, conventionally_lower, resolve_metric_names

TEST = """
import pytest

@pytest.mark.incident("model_loss", mode="delete")
def test_model_lost(ml_env):
    assert ml_env.detect()
"""


@pytest.fixture
def regression(pytester: pytest.Pytester, use_project):
    """``regression(project, metrics, *ini_lines)``: run the toy regression project's one incident test."""

    def run(project: str, metrics: str, *ini: str, args: tuple[str, ...] = ()) -> tuple[pytest.RunResult, dict]:
        use_project(f"toyreg:{project}", f"mlchaos_metrics = {metrics}", *ini)
        pytester.makepyfile(TEST)
        report = pytester.path / "report.json"
        result = pytester.runpytest("--mlchaos", "--mlchaos-seed=1", f"--mlchaos-report={report}", *args)
        return result, json.loads(report.read_text()) if report.exists() else {}

    return run


def test_an_rmse_that_rises_is_critical_by_its_conventional_name(regression) -> None:
    result, report = regression("worse", "rmse")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["mlchaos: gating on rmse ↓", "*critical: metrics dropped beyond the fail threshold*",
                                 "*metric rmse (lower is better): 2.5806 -> 4.4408 (drop 72.1%)"])
    assert report["run"]["thresholds"]["directions"] == {"rmse": "lower_is_better"}
    assert report["incidents"][0]["metrics"][0]["direction"] == "lower_is_better"


def test_an_rmse_that_falls_is_an_improvement_not_a_drop(regression) -> None:
    result, report = regression("better", "rmse")
    result.assert_outcomes(passed=1)
    record = report["incidents"][0]
    assert record["verdict"] == "repaired"
    assert record["metrics"][0]["relative_drop"] == 0.0 and record["metrics"][0]["relative_change"] < -0.5


def test_an_unconventional_name_needs_a_declaration_to_count_as_lower_is_better(regression) -> None:
    result, report = regression("worse", "abs_dev")
    result.assert_outcomes(passed=1)  # a rising abs_dev looks like an improvement to a higher-is-better metric
    assert report["incidents"][0]["metrics"][0]["direction"] == "higher_is_better"


@pytest.mark.parametrize(("project", "ini"), [("worse_declared", ()), ("worse", ("mlchaos_lower_is_better = abs_dev",))],
                         ids=["declared-by-the-project", "declared-in-the-ini-file"])
def test_a_declared_lower_is_better_metric_that_rises_is_critical(regression, project: str, ini: tuple[str, ...]) -> None:
    result, report = regression(project, "abs_dev", *ini)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["mlchaos: gating on abs_dev ↓"])
    assert report["incidents"][0]["verdict"] == "critical"


def test_the_project_overrides_a_convention(regression) -> None:
    """``explained_error`` looks lower-is-better by name; the project says it is not, and a fall is critical."""
    result, _ = regression("worse", "explained_error")
    result.assert_outcomes(passed=1)
    result, report = regression("worse_says_higher", "explained_error")
    result.assert_outcomes(failed=1)
    assert report["run"]["thresholds"]["directions"] == {"explained_error": "higher_is_better"}


def test_a_gated_metric_that_matches_nothing_is_a_usage_error_listing_the_names(regression) -> None:
    result, report = regression("good", "f1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *metric 'f1' matches no metric of the baseline; "
                                 "available: abs_dev, explained_error, r2, rmse"])
    assert "Traceback" not in result.stderr.str() and not report


def test_a_gated_metric_that_matches_nothing_stops_an_xdist_run_before_any_test(regression) -> None:
    result, _ = regression("good", "nosuch", args=("-n", "2"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *metric 'nosuch' matches no metric of the baseline*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_a_prefix_selects_every_nested_metric_under_it(regression) -> None:
    result, report = regression("nested_worse", "rmse")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["mlchaos: gating on rmse.test ↓, rmse.train ↓"])
    assert [m["name"] for m in report["incidents"][0]["metrics"]] == ["rmse.test", "rmse.train"]


@pytest.mark.parametrize("name", ["rmse", "loss", "val_loss", "eval.test.rmse", "rmse.test", "mean_squared_error",
                                  "log_loss", "train/mae", "error_rate", "MAPE"])
def test_conventional_lower_is_better_names(name: str) -> None:
    assert conventionally_lower(name)


@pytest.mark.parametrize("name", ["accuracy", "f1", "roc_auc", "r2", "neg_mean_squared_error", "precision",
                                  "loss_weight_decay_enabled", "net_value", "roc_auc.test", "train.f1"])
def test_higher_is_better_names(name: str) -> None:
    assert not conventionally_lower(name)


def test_declarations_match_the_last_component_of_a_nested_key() -> None:
    directions = Directions(lower=frozenset({"latency_ms"}), higher=frozenset({"rmse"}))
    assert directions.lower_is_better("serving.latency_ms")
    assert not directions.lower_is_better("eval.rmse")
    assert directions.arrow("accuracy") == "↑" and directions.arrow("eval.loss") == "↓"


def test_resolving_metric_names_keeps_the_order_and_refuses_unknown_ones() -> None:
    available = ["f1", "roc_auc.test", "roc_auc.train", "accuracy"]
    assert resolve_metric_names(["roc_auc", "f1"], available) == ["roc_auc.test", "roc_auc.train", "f1"]
    with pytest.raises(ThresholdError, match=r"metric 'roc' matches no metric of the baseline; available: accuracy, "
                                             r"f1, roc_auc.test, roc_auc.train"):
        resolve_metric_names(["roc"], available)
