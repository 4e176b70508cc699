"""``mlops init`` (via the adapter's build) yields a healthy, learnable, reproducible environment."""

from __future__ import annotations

import configparser
import filecmp
from pathlib import Path

from project_under_test import data, gitops, tracking
from project_under_test.chaos import project
from project_under_test.dvcops import cache_object, locked_outs, md5_file, remote_object
from project_under_test.layout import MODEL, RAW, TRACKED
from project_under_test.stages import run_stage
from project_under_test.versioning import VersionController

from project_helpers import assert_matches_lock


def test_a_new_environment_is_healthy_and_the_model_is_good(template: Path, baseline_metrics: dict) -> None:
    assert project.detect(template) == []
    assert project.check_model(template) is None
    assert baseline_metrics["f1"] >= 0.6
    assert baseline_metrics["roc_auc"] >= 0.85
    assert {"accuracy", "precision", "recall", "net_value", "roi", "cost_false_negatives"} <= set(baseline_metrics)


def test_git_tracks_the_dvc_files_and_not_the_data(template: Path) -> None:
    tracked = gitops.tracked(template)
    assert {"dvc.yaml", "dvc.lock", "params.yaml", "metrics.json", ".dvc/config"} <= tracked
    assert not {RAW, MODEL, "mlflow.db"} & tracked
    ignored = gitops.git(template, "check-ignore", "--no-index", "dvc.lock", "dvc.yaml", "x.dvc", check=False)
    assert ignored.strip() == ""


def test_dvc_is_configured_with_copies_and_a_relative_remote(template: Path) -> None:
    conf = configparser.ConfigParser()
    conf.read(template / ".dvc" / "config")
    assert conf["cache"]["type"] == "copy"
    url = conf['\'remote "local"\'']["url"]
    assert not Path(url).is_absolute()
    assert (template / ".dvc" / url).resolve() == (template / "storage" / "dvc-remote").resolve()


def test_every_locked_output_is_in_the_cache_the_remote_and_the_backups(template: Path) -> None:
    outs = locked_outs(template)
    assert set(outs) == set(TRACKED)
    for rel, out in outs.items():
        assert md5_file(template / rel) == out.md5
        assert md5_file(template / "backups" / rel) == out.md5
        if rel != "metrics.json":
            assert md5_file(cache_object(template, out.md5)) == out.md5
            assert md5_file(remote_object(template, out.md5)) == out.md5


def test_the_production_alias_serves_the_locked_model(template: Path) -> None:
    served = tracking.production_version(template)
    assert served.version == 1
    assert md5_file(served.joblib_file) == locked_outs(template)[MODEL].md5
    snap = VersionController(template).get("baseline")
    assert snap.model_version == 1 and snap.lock == {rel: out.md5 for rel, out in locked_outs(template).items()}


def test_the_same_seed_gives_byte_identical_data(template: Path, tmp_path: Path) -> None:
    data.write_csv(data.generate(5000, 42), tmp_path / "a.csv")
    data.write_csv(data.generate(5000, 42), tmp_path / "b.csv")
    data.write_csv(data.generate(5000, 43), tmp_path / "c.csv")
    assert filecmp.cmp(tmp_path / "a.csv", tmp_path / "b.csv", shallow=False)
    assert filecmp.cmp(tmp_path / "a.csv", template / RAW, shallow=False)
    assert not filecmp.cmp(tmp_path / "a.csv", tmp_path / "c.csv", shallow=False)


def test_rerunning_the_pipeline_in_process_reproduces_every_output_byte_for_byte(env: Path, baseline_lock: dict) -> None:
    """The template was built in a fresh child process; this one has unpickled a model first."""
    import joblib

    joblib.load(env / MODEL)
    for stage in ("generate", "process", "train", "evaluate"):
        run_stage(env, stage)
    assert_matches_lock(env, baseline_lock)
    assert project.detect(env) == []


def test_dvc_repro_from_a_shell_agrees_with_the_in_process_pipeline(env: Path, baseline_lock: dict) -> None:
    import os
    import shutil
    import subprocess
    import sys

    bin_dir = str(Path(sys.executable).parent)
    dvc = shutil.which("dvc", path=bin_dir) or "dvc"
    shell_env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
                 "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(env / ".dvc" / "tmp" / "site_cache")}
    proc = subprocess.run([dvc, "repro", "--force", "--single-item", "evaluate"], cwd=env, env=shell_env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Running stage 'evaluate'" in proc.stdout
    assert_matches_lock(env, baseline_lock)
    assert gitops.git(env, "status", "--porcelain").strip() == ""


def test_a_relocated_copy_keeps_no_path_of_the_template(template: Path, env: Path) -> None:
    import sqlite3

    for db in (env / "mlflow.db", env / "backups" / "mlflow.db"):
        conn = sqlite3.connect(db)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                assert not any(isinstance(v, str) and str(template) in v for v in row), (table, row)
        conn.close()
    served = tracking.production_version(env)
    assert str(env) in str(served.storage) and tracking.load_served(served) is not None


def test_operations_leave_no_global_state_behind(env: Path) -> None:
    import os

    import mlflow

    from project_under_test import environment

    before_cwd, before_env = os.getcwd(), dict(os.environ)
    environment.train(env, {"n_estimators": 7})
    assert os.getcwd() == before_cwd
    assert dict(os.environ) == before_env
    assert mlflow.active_run() is None
    assert str(env) not in mlflow.get_tracking_uri()


def test_evaluate_is_deterministic_and_names_a_broken_file(env: Path, baseline_metrics: dict) -> None:
    import pytest

    from project_under_test.chaos import ChurnProject
    from project_under_test.data import DataError
    from project_under_test.models import ModelError

    assert ChurnProject().evaluate(env) == baseline_metrics  # recomputed by a fresh adapter, same numbers
    (env / MODEL).write_bytes(b"\x80\x04garbage")
    with pytest.raises(ModelError, match="models/model.pkl: not a loadable model"):
        ChurnProject().evaluate(env)
    (env / MODEL).unlink()
    with pytest.raises(ModelError, match="model.pkl: model file is missing"):
        project.evaluate(env)
    assert project.check_model(env) == "models/model.pkl: missing"


def test_the_pipeline_child_reproduces_the_locked_outputs(env: Path, baseline_lock: dict) -> None:
    from project_under_test.stages import PipelineRun

    assert PipelineRun(env, "process").finish() == ("process", "train", "evaluate")
    assert_matches_lock(env, baseline_lock)
    assert project.detect(env) == []


def test_a_stage_failing_in_the_pipeline_child_is_named_and_leaves_its_marker(env: Path) -> None:
    import pytest

    from pytest_mlchaos import failpoints
    from project_under_test.stages import PipelineRun, StageError, marker_path

    lock_before = (env / "dvc.lock").read_text()
    failpoints.arm(env, "train", "raise", message="out of memory")
    with pytest.raises(StageError, match=r"stage 'train' failed: .*out of memory"):
        PipelineRun(env, "process").finish()
    assert marker_path(env, "train").is_file()
    assert not (env / MODEL).exists()
    assert (env / "dvc.lock").read_text() == lock_before


def test_init_starts_no_thread(tmp_path: Path, monkeypatch) -> None:
    """A thread beside pytest's would race on the process-wide warning filters (a real CI failure)."""
    import threading

    from project_under_test import environment

    def refuse(self: threading.Thread) -> None:
        raise AssertionError(f"init started a thread: {self.name}")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    result = environment.init(tmp_path / "small", rows=400)
    assert result["model_version"] == 1
    assert project.detect(tmp_path / "small") == []
