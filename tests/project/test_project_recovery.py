"""The recovery manager: the walk over every tracked artifact, each strategy of each chain, honest failure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from project_under_test import tracking
from project_under_test.chaos import project
from project_under_test.dvcops import cache_object, remote_object
from project_under_test.layout import MODEL, RAW, TEST, TRACKED
from project_under_test.recovery import RecoveryManager
from pytest_mlchaos import failpoints
from pytest_mlchaos.incidents.spec import Incident

from project_helpers import assert_matches_lock, bitflip


def winners(result) -> list[str]:
    return [a.strategy for a in result.attempts if a.succeeded]


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.chmod(0o644)
        path.unlink()


def test_corrupting_each_tracked_artifact_in_place_is_detected_and_recovered_bit_exact(
        env: Path, baseline_lock: dict, baseline_metrics: dict) -> None:
    for rel in TRACKED:
        bitflip(env / rel)
        problems = project.detect(env)
        assert any(p.startswith(rel) and "differs from dvc.lock" for p in problems), (rel, problems)
        result = project.recover(env, [])
        assert result.recovered, result.message
        assert_matches_lock(env, baseline_lock)
        assert project.detect(env) == []
    assert tracking.production_version(env).version == 1
    assert project.evaluate(env) == baseline_metrics


def _lose_sources(env: Path, rel: str, md5: str, upto: str) -> None:
    order = ["backup", "dvc_cache", "dvc_remote", "snapshot"]
    paths = {"backup": env / "backups" / rel, "dvc_cache": cache_object(env, md5),
             "dvc_remote": remote_object(env, md5), "snapshot": env / "snapshots" / "baseline" / "files" / rel}
    for name in order[: order.index(upto)]:
        remove(paths[name])


@pytest.mark.parametrize("winner", ["backup", "dvc_cache", "dvc_remote", "snapshot"])
def test_each_data_source_wins_when_the_earlier_ones_are_gone(env: Path, baseline_lock: dict, winner: str) -> None:
    _lose_sources(env, TEST, baseline_lock[TEST], winner)
    bitflip(env / TEST)
    result = RecoveryManager(env).recover([Incident("data_corruption", "noise")])
    assert result.recovered, result.message
    assert winners(result)[0] == winner
    assert result.strategy.split("+")[0] == winner
    assert_matches_lock(env, baseline_lock)
    assert project.detect(env) == []  # the lost copies were put back too


def test_repair_is_the_last_resort_for_raw_data_and_keeps_the_model_good(env: Path, baseline_lock: dict,
                                                                        baseline_metrics: dict) -> None:
    _lose_sources(env, RAW, baseline_lock[RAW], "snapshot")
    remove(env / "snapshots" / "baseline" / "files" / RAW)
    lines = (env / RAW).read_text().splitlines(keepends=True)
    (env / RAW).write_text("".join(lines + lines[1:201]))  # 200 duplicated rows
    assert any("200 duplicate rows" in p for p in project.detect(env))
    result = RecoveryManager(env).recover()
    assert result.recovered, result.message
    assert [a.strategy for a in result.attempts][:5] == ["backup", "dvc_cache", "dvc_remote", "snapshot", "repair"]
    assert winners(result)[0] == "repair"
    assert (env / RAW).read_text() == "".join(lines)  # the duplicates dropped, nothing else
    assert project.detect(env) == []
    assert project.evaluate(env)["f1"] == pytest.approx(baseline_metrics["f1"])


@pytest.mark.parametrize("winner", ["backup", "dvc_cache", "dvc_remote", "mlflow_registry"])
def test_each_model_source_wins_when_the_earlier_ones_are_gone(env: Path, baseline_lock: dict, winner: str) -> None:
    _lose_sources(env, MODEL, baseline_lock[MODEL], "snapshot" if winner == "mlflow_registry" else winner)
    (env / MODEL).write_bytes(b"not a model")
    assert project.check_model(env) is not None
    result = RecoveryManager(env).recover([Incident("model_loss", "corrupt")])
    assert result.recovered, result.message
    assert winners(result)[0] == winner
    assert_matches_lock(env, baseline_lock)
    assert project.check_model(env) is None


def test_data_recovery_fails_honestly_when_every_source_is_gone(env: Path, baseline_lock: dict) -> None:
    _lose_sources(env, RAW, baseline_lock[RAW], "snapshot")
    remove(env / "snapshots" / "baseline" / "files" / RAW)
    (env / RAW).write_text("age,churn\n")  # nothing left to repair from
    result = RecoveryManager(env).recover()
    assert not result.recovered
    assert result.strategy is None
    assert RAW in result.message
    assert {a.strategy for a in result.attempts} >= {"backup", "dvc_cache", "dvc_remote", "snapshot", "repair"}
    assert not any(a.succeeded for a in result.attempts if a.strategy in ("backup", "dvc_cache", "dvc_remote", "repair"))
    assert project.detect(env)


def test_model_recovery_fails_honestly_when_every_source_is_gone(env: Path, baseline_lock: dict) -> None:
    _lose_sources(env, MODEL, baseline_lock[MODEL], "snapshot")
    remove(env / "mlartifacts")
    (env / MODEL).unlink()
    result = RecoveryManager(env).recover()
    assert not result.recovered
    assert "models/model.pkl" in result.message
    assert [a.strategy for a in result.attempts][:4] == ["backup", "dvc_cache", "dvc_remote", "mlflow_registry"]
    assert not (env / MODEL).exists() or project.check_model(env) is not None


@pytest.mark.parametrize("stage", ["process", "train"])
def test_a_failed_stage_is_reset_to_the_locked_outputs(env: Path, baseline_lock: dict, stage: str) -> None:
    failpoints.arm(env, stage, "raise", point="write")
    with pytest.raises(RuntimeError, match=stage):
        project.run_stage(env, stage)
    assert any(stage in p for p in project.detect(env))
    result = project.recover(env, [Incident("pipeline_failure", params={"stage": stage})])
    assert result.recovered, result.message
    assert [a.strategy for a in result.attempts][:2] == ["clear_locks", "reset_outputs"]
    assert winners(result) == ["reset_outputs"]
    assert_matches_lock(env, baseline_lock)
    assert project.detect(env) == []


def test_a_stale_marker_and_dvc_lock_are_cleared(env: Path) -> None:
    marker = env / ".pipeline" / "failed" / "evaluate.json"
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"stage": "evaluate", "error": "killed"}))
    (env / ".dvc" / "tmp" / "rwlock").write_text(json.dumps({"write": {"dvc.yaml": {"pid": 999999, "cmd": "dvc repro"}}}))
    problems = project.detect(env)
    assert any("evaluate" in p for p in problems) and any("rwlock" in p for p in problems)
    result = project.recover(env, [])
    assert result.recovered and result.strategy == "clear_locks"
    assert project.detect(env) == []


def test_the_pipeline_is_rerun_from_the_failed_stage_when_no_copy_is_left(env: Path, baseline_lock: dict) -> None:
    failpoints.arm(env, "train", "raise")
    with pytest.raises(RuntimeError):
        project.run_stage(env, "train")
    _lose_sources(env, MODEL, baseline_lock[MODEL], "snapshot")
    result = project.recover(env, [])
    assert result.recovered, result.message
    assert winners(result)[0] == "rerun_pipeline"
    assert_matches_lock(env, baseline_lock)  # deterministic training: the same bytes
    assert project.detect(env) == []


def test_a_persistent_failpoint_makes_the_rerun_fail_honestly_and_is_left_alone(env: Path, baseline_lock: dict) -> None:
    failpoints.arm(env, "train", "raise", persistent=True)
    with pytest.raises(RuntimeError):
        project.run_stage(env, "train")
    _lose_sources(env, MODEL, baseline_lock[MODEL], "snapshot")
    remove(env / "mlartifacts")
    result = project.recover(env, [])
    assert not result.recovered
    assert "rerun_pipeline" in [a.strategy for a in result.attempts]
    assert failpoints.armed(env)["train"]["persistent"] is True  # .mlchaos/ untouched


@pytest.mark.parametrize("damage, strategy", [
    ("cache", "refetch_cache"), ("remote", "repush_remote"), ("backups", "rebuild_backups"),
    ("alias", "restore_alias"), ("registry_version", "restore_alias"), ("mlflow_db", "restore_mlflow_db"),
    ("lock", "restore_lock"), ("half_lock", "restore_lock"), ("rwlock_pid_reused", "clear_locks"),
    ("repo_lock_pid_reused", "clear_locks"), ("mlflow_pages", "restore_mlflow_db"),
    ("cached_metrics", "refetch_cache"),
])
def test_broken_stores_are_repaired(env: Path, baseline_lock: dict, damage: str, strategy: str) -> None:
    import sqlite3

    if damage == "cache":
        remove(env / ".dvc" / "cache")
    elif damage == "remote":
        remove(env / "storage" / "dvc-remote")
    elif damage == "backups":
        remove(env / "backups")
    elif damage in ("alias", "registry_version"):
        conn = sqlite3.connect(env / "mlflow.db")
        table = "registered_model_aliases" if damage == "alias" else "model_versions"
        conn.execute(f"DELETE FROM {table}")
        conn.commit()
        conn.close()
    elif damage == "mlflow_db":
        (env / "mlflow.db").write_bytes(b"garbage" * 100)
    elif damage == "lock":
        (env / "dvc.lock").write_text("stages: [unbalanced\n")
    elif damage == "half_lock":  # still valid YAML, but the last stages are gone
        text = (env / "dvc.lock").read_text()
        (env / "dvc.lock").write_text(text[: text.index("  train:")])
    elif damage == "rwlock_pid_reused":  # PID 1 is alive but is not the DVC run that took the lock
        (env / ".dvc" / "tmp" / "rwlock").write_text(json.dumps({"read": {}, "write": {str(env / MODEL): {"pid": 1, "cmd": "dvc repro"}}}))
    elif damage == "repo_lock_pid_reused":
        (env / ".dvc" / "tmp" / "lock").write_text(" 1\n")
    elif damage == "mlflow_pages":  # pages in the middle: the header still opens, the b-tree does not hold
        with open(env / "mlflow.db", "r+b") as fh:
            fh.seek(4096 * 8)
            fh.write(b"\xff" * 4096 * 4)
    elif damage == "cached_metrics":  # DVC keeps a copy of metrics.json in its cache too
        obj = cache_object(env, baseline_lock["metrics.json"])
        obj.chmod(0o644)
        obj.write_text("{}")
    assert project.detect(env)
    result = project.recover(env, [])
    assert result.recovered, result.message
    assert strategy in result.strategy.split("+")
    assert project.detect(env) == []
    assert_matches_lock(env, baseline_lock)
    served = tracking.production_version(env)
    assert tracking.load_served(served) is not None
    if damage != "registry_version":
        assert served.version == 1


def test_a_lost_mlflow_store_without_backup_is_rebuilt_around_the_verified_model(env: Path, baseline_lock: dict) -> None:
    (env / "mlflow.db").write_bytes(b"\0" * 4096)
    remove(env / "backups")
    result = project.recover(env, [Incident("storage_loss", "mlflow_store_corruption")])
    assert result.recovered, result.message
    assert "rebuild_mlflow_db" in result.strategy.split("+")
    served = tracking.production_version(env)
    assert tracking.load_served(served) is not None
    assert project.detect(env) == []
    assert_matches_lock(env, baseline_lock)
    assert list((env / ".pipeline").glob("mlflow.db.broken-*"))  # the broken store is kept aside, not deleted
