"""Benchmark 9: rendering the HTML report of 500 synthetic incident records, against ``json.dumps`` of the same report.

The records are made by hand (``IncidentOutcome``), not by a chaos run: every verdict, six strategies with
spread-out recovery times, two gated metrics, compound incidents, failures with evidence and replay lines.
The report document is built once (``build_report``); the figure is ``render_html(report)`` alone, the ratio is
against ``json.dumps(report, indent=2)`` timed in the same loop (the cost of writing the JSON report).
"""

from __future__ import annotations

import json
import random
import time

from _common import Figure

GROUP = "9. HTML report (500 incident records)"
RECORDS = 500
TARGET_SECONDS = 0.2


def synthetic_report(records: int = RECORDS, seed: int = 7) -> dict:
    """A ``mlchaos-report/2`` document with ``records`` incident tests of every verdict."""
    from pytest_mlchaos.gate import MetricChange, Verdict, expectation_met
    from pytest_mlchaos.incidents.spec import Incident
    from pytest_mlchaos.outcome import IncidentOutcome
    from pytest_mlchaos.project import Attempt
    from pytest_mlchaos.report.document import RunInfo, build_report

    rng = random.Random(seed)
    kinds = [("data_corruption", "noise"), ("data_corruption", "missing_values"), ("model_loss", "delete"),
             ("model_loss", "corrupt"), ("storage_loss", "dvc_cache"), ("pipeline_failure", None)]
    strategies = {"backup": 0.05, "dvc_cache": 0.2, "dvc_remote": 0.4, "mlflow_registry": 0.5, "snapshot": 2.0,
                  "rerun_pipeline": 6.0}
    verdicts = list(Verdict)
    outcomes = []
    for i in range(records):
        verdict = rng.choices(verdicts, weights=[50, 20, 8, 6, 6, 4, 6])[0]
        kind, mode = rng.choice(kinds)
        incidents = (Incident(kind, mode, {"fraction": 0.1} if kind == "data_corruption" else {}, seed=i),)
        if i % 7 == 0:
            incidents += (Incident("model_loss", "delete", seed=i + 1),)
        strategy = rng.choice(list(strategies))
        seconds = strategies[strategy] * rng.lognormvariate(0, 0.4)
        drop = {Verdict.DEGRADED: 0.07, Verdict.CRITICAL: 0.3}.get(verdict, 0.0) * rng.uniform(0.8, 1.2)
        outcomes.append(IncidentOutcome(
            nodeid=f"scenarios/test_{kind}.py::test_case_{i:03d}[{mode}-<{i}>]",
            incidents=incidents, verdict=verdict, passed=expectation_met(verdict, "recovered")[0],
            reason="" if verdict in (Verdict.RESTORED, Verdict.REPAIRED) else f"{verdict.value}: synthetic & <escaped>",
            strategy=strategy, attempts=(Attempt("backup", False, 0.01, "no backup"), Attempt(strategy, True, seconds)),
            recovery_claimed=verdict is not Verdict.UNRECOVERED,
            metrics=(MetricChange("accuracy", 0.9, 0.9 * (1 - drop), drop), MetricChange("rmse", 2.0, 2.0, 0.0, True)),
            still_damaged=("data/raw.csv",) if verdict is Verdict.FALSE_RECOVERY else (),
            time_to_detect=0.01, time_to_recover=seconds, time_to_metrics=seconds + 0.1,
        ))
    run = RunInfo(seed=seed, project={"name": "synthetic", "source": "bench"},
                  thresholds={"warn_drop": 0.05, "fail_drop": 0.1, "metrics": ["accuracy", "rmse"]})
    return build_report(run, outcomes)


def run(n: int, warmup: int = 1) -> list[Figure]:
    from pytest_mlchaos.report.html import render_html

    report = synthetic_report()
    render, dump, ratios = [], [], []
    size = 0
    for k in range(warmup + max(n, 3)):
        t = time.perf_counter()
        page = render_html(report)
        html_s = time.perf_counter() - t
        t = time.perf_counter()
        json.dumps(report, indent=2)
        json_s = time.perf_counter() - t
        if k >= warmup:
            render.append(html_s)
            dump.append(json_s)
            ratios.append(html_s / json_s)
            size = len(page.encode())
    return [
        Figure(GROUP, "render_html, 500 records", render, target=TARGET_SECONDS,
               note=f"page {size / 1e3:.0f} kB; failures, matrix, MTTR box/strip plot, a bar per metric and test"),
        Figure(GROUP, "  json.dumps of the same report (baseline)", dump),
        Figure(GROUP, "render_html / json.dumps", ratios, unit="x"),
    ]
