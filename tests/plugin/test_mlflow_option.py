"""``--mlchaos-mlflow``: the chaos run as one MLflow run in a real sqlite store; an unreachable server only warns."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_mlchaos.mlflow_run import tracking_uri

# MLflow runs only in subprocesses here: pytester drops the modules first imported during a test, and MLflow's
# (SQLAlchemy's compiled parts, importlib.metadata's internals) break when imported a second time in one process.
READ_RUNS = """
import json, sys
from mlflow.tracking import MlflowClient

uri, experiment, dest = sys.argv[1:]
client = MlflowClient(tracking_uri=uri)
found = client.get_experiment_by_name(experiment)
runs = client.search_runs([found.experiment_id], "tags.`mlchaos.ci.github_run_id` = '4242'") if found else []
print(json.dumps([{
    "params": r.data.params, "metrics": r.data.metrics, "tags": r.data.tags, "status": r.info.status,
    "artifacts": sorted(a.path for a in client.list_artifacts(r.info.run_id)),
    "json": open(client.download_artifacts(r.info.run_id, "mlchaos-report.json", dest)).read(),
} for r in runs]))
"""


def read_runs(uri: str, experiment: str, dest: Path) -> list[dict]:
    """The runs of ``experiment`` tagged with GITHUB_RUN_ID 4242, read by MLflow in a subprocess."""
    dest.mkdir()
    done = subprocess.run([sys.executable, "-c", READ_RUNS, uri, experiment, str(dest)], capture_output=True,
                          text=True, check=True, env={**os.environ, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    return json.loads(done.stdout)

SUITE = """
import pytest

@pytest.mark.incident("model_loss", mode="delete")
def test_model(ml_env):
    assert ml_env.detect()

@pytest.mark.incident("data_corruption", mode="noise", fraction=0.2)
def test_noise(ml_env):
    assert ml_env.detect()

@pytest.mark.incident("model_loss", mode="delete", expect="unrecoverable")
def test_wrongly_expects_unrecoverable(ml_env):
    pass
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nothing listens there


def test_the_run_is_logged_with_params_metrics_tags_and_all_three_reports(
    chaos: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GITHUB_SHA", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_SHA", "CI_COMMIT_REF_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("GITHUB_RUN_ID", "4242")
    monkeypatch.setenv("GITHUB_REF_NAME", "feature/x")
    ini = chaos.path / "tox.ini"
    ini.write_text(ini.read_text().rstrip("\n") + "\nmlchaos_mlflow_experiment = chaos-ci\n")
    chaos.makepyfile(test_suite=SUITE)
    uri = f"sqlite:///{chaos.path / 'store' / 'mlflow.db'}"
    (chaos.path / "store").mkdir()
    report = chaos.path / "mine.json"
    result = chaos.runpytest_subprocess(
        "--mlchaos", "--mlchaos-seed=8", f"--mlchaos-mlflow={uri}", f"--mlchaos-report={report}"
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([f"mlchaos mlflow: run * in experiment 'chaos-ci' at {uri}"])

    runs = read_runs(uri, "chaos-ci", chaos.path / "dl")
    assert len(runs) == 1
    run = runs[0]
    written = json.loads(report.read_text())
    assert run["params"]["seed"] == "8"
    assert run["params"]["warn_drop"] == "0.05" and run["params"]["fail_drop"] == "0.1"
    assert run["params"]["project"] == written["run"]["project"]["name"]
    assert run["params"]["version.pytest"] == pytest.__version__
    assert run["metrics"]["resilience_score"] == written["summary"]["score"]
    assert run["metrics"]["tests_failed"] == 1 and run["metrics"]["tests_total"] == 3
    assert run["metrics"]["verdict.restored"] == written["summary"]["verdicts"]["restored"]
    for strategy, stats in written["summary"]["mttr_by_strategy"].items():
        assert run["metrics"][f"mttr.{strategy}.median"] == pytest.approx(stats["median"])
    assert "worst_metric_drop" in run["metrics"]
    assert run["tags"]["mlchaos.ci"] == "true" and run["tags"]["mlchaos.branch"] == "feature/x"
    assert run["tags"]["mlchaos.gate"] == "failed"
    assert run["status"] == "FINISHED"
    assert run["artifacts"] == ["mlchaos-report.html", "mlchaos-report.json", "mlchaos-report.md"]
    assert json.loads(run["json"]) == written  # the user's report, not a second rendering
    assert (chaos.path / "store" / "mlruns").is_dir()  # artifacts beside the database, not in the current directory
    assert not (chaos.path / "mlruns").exists()


def test_an_unreachable_tracking_server_gives_one_warning_line_and_fails_nothing(chaos: pytest.Pytester) -> None:
    chaos.makepyfile(test_suite=SUITE.split("@pytest.mark.incident(\"model_loss\", mode=\"delete\", expect")[0])
    uri = f"http://127.0.0.1:{closed_port()}"
    started = time.perf_counter()
    result = chaos.runpytest_subprocess("--mlchaos", f"--mlchaos-mlflow={uri}")
    assert time.perf_counter() - started < 30  # MLflow's own retries would take minutes
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    lines = [line for line in result.stdout.lines if line.startswith("mlchaos mlflow:")]
    assert len(lines) == 1
    assert lines[0].startswith(f"mlchaos mlflow: WARNING: could not log the run to {uri}: ")
    assert "Traceback" not in result.stdout.str()


def test_without_a_uri_it_uses_the_environment_else_the_rootdirs_mlflow_db(tmp_path: Path) -> None:
    assert tracking_uri("default", tmp_path, {}) == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    assert tracking_uri("default", tmp_path, {"MLFLOW_TRACKING_URI": "http://mlflow:5000"}) == "http://mlflow:5000"
    assert tracking_uri("sqlite:///x.db", tmp_path, {"MLFLOW_TRACKING_URI": "http://mlflow:5000"}) == "sqlite:///x.db"


def test_the_ini_key_turns_it_on_with_the_default_uri(chaos: pytest.Pytester) -> None:
    ini = chaos.path / "tox.ini"
    ini.write_text(ini.read_text().rstrip("\n") + "\nmlchaos_mlflow = true\n")
    chaos.makepyfile(
        """
        from pytest_mlchaos.fixtures import chaos_session
        from pytest_mlchaos.settings import MLFLOW_DEFAULT

        def test_settings(pytestconfig):
            assert chaos_session(pytestconfig).settings.mlflow_uri == MLFLOW_DEFAULT
            assert chaos_session(pytestconfig).settings.mlflow_experiment == "mlchaos"
        """
    )
    chaos.runpytest().assert_outcomes(passed=1)  # (without --mlchaos nothing is logged)
    chaos.runpytest("--mlchaos-mlflow=sqlite:///a.db").assert_outcomes(failed=1)  # the option wins


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        (("--mlchaos-mlflow", "tests/"), "", "*argument --mlchaos-mlflow: 'tests/' is not a tracking URI; give one with a "
                                             "scheme, such as sqlite:///mlflow.db or http://localhost:5000, or use the "
                                             "option without a value (and after any test paths) for the default"),
        ((), "mlchaos_mlflow = mlflow.db", "*ini mlchaos_mlflow = 'mlflow.db': 'mlflow.db' is not a tracking URI;*"
                                           "(or true / false)"),
    ],
)
def test_a_value_that_is_not_a_tracking_uri_is_a_usage_error(chaos: pytest.Pytester, args: tuple[str, ...], ini: str,
                                                             expected: str) -> None:
    tox = chaos.path / "tox.ini"
    tox.write_text(tox.read_text().rstrip("\n") + f"\n{ini}\n")
    chaos.makepyfile("def test_x(): pass")
    result = chaos.runpytest("--mlchaos", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
