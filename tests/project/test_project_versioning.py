"""Snapshots: snapshot -> train a different model -> rollback brings data, model, lock and alias back."""

from __future__ import annotations

from pathlib import Path

import pytest

from project_under_test import environment, tracking
from project_under_test.chaos import project
from project_under_test.dvcops import cache_object, locked_outs, remote_object
from project_under_test.layout import MODEL
from project_under_test.versioning import SnapshotError, VersionController

from project_helpers import assert_matches_lock, bitflip


@pytest.fixture
def retrained(env: Path) -> Path:
    """The environment after snapshot 'before' and a worse model forced into production."""
    VersionController(env).create_snapshot("before", "the baseline model")
    result = environment.train(env, {"n_estimators": 5, "max_depth": 2}, promote="always")
    assert result["promoted"] and result["model_version"] == 2
    return env


def test_rollback_restores_data_model_lock_alias_and_metrics(retrained: Path, baseline_lock: dict,
                                                               baseline_metrics: dict) -> None:
    env = retrained
    assert locked_outs(env)[MODEL].md5 != baseline_lock[MODEL]
    assert tracking.production_version(env).version == 2
    assert project.evaluate(env)["f1"] < baseline_metrics["f1"]
    report = VersionController(env).restore_snapshot("before")
    assert report.ok, report.not_restored
    assert_matches_lock(env, baseline_lock)
    assert tracking.production_version(env).version == 1
    assert project.evaluate(env) == baseline_metrics
    assert project.detect(env) == []


def test_rollback_takes_files_from_the_remote_when_the_cache_lost_them(retrained: Path, baseline_lock: dict) -> None:
    cache_object(retrained, baseline_lock[MODEL]).unlink()
    report = VersionController(retrained).restore_snapshot("before")
    assert report.ok
    assert_matches_lock(retrained, {**baseline_lock})


def test_rollback_says_what_it_could_not_restore(retrained: Path, baseline_lock: dict) -> None:
    md5 = baseline_lock[MODEL]
    for path in (cache_object(retrained, md5), remote_object(retrained, md5),
                 VersionController(retrained).snapshot_file("before", MODEL)):
        path.chmod(0o644)
        path.unlink()
    report = VersionController(retrained).restore_snapshot("before")
    assert not report.ok
    assert any(MODEL in line for line in report.not_restored)
    assert all(MODEL not in line for line in report.restored)


def test_a_train_that_is_worse_does_not_move_the_alias(env: Path) -> None:
    result = environment.train(env, {"n_estimators": 3, "max_depth": 1})
    assert not result["promoted"]
    assert tracking.production_version(env).version == 1


def test_existing_tags_and_bad_tags_are_refused(env: Path) -> None:
    vc = VersionController(env)
    with pytest.raises(SnapshotError, match="already exists"):
        vc.create_snapshot("baseline")
    with pytest.raises(SnapshotError, match="not allowed"):
        vc.create_snapshot("../evil")
    with pytest.raises(SnapshotError, match="unknown snapshot tag 'nope'"):
        vc.restore_snapshot("nope")
    assert [s.tag for s in vc.list_snapshots()] == ["baseline"]


def test_a_damaged_workspace_cannot_be_snapshotted(env: Path) -> None:
    bitflip(env / "data" / "raw" / "churn.csv")
    with pytest.raises(SnapshotError, match="churn.csv"):
        VersionController(env).create_snapshot("broken")
    assert not (env / "snapshots" / "broken").exists()


def test_git_variables_of_a_hook_do_not_redirect_our_git_calls(env: Path, tmp_path: Path, monkeypatch) -> None:
    from project_under_test import gitops

    decoy = tmp_path / "decoy"
    decoy.mkdir()
    gitops.init(decoy)
    monkeypatch.setenv("GIT_DIR", str(decoy / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(decoy))
    VersionController(env).create_snapshot("hooked")
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_WORK_TREE")
    assert gitops.tag_exists(env, "snapshot/hooked")
    assert gitops.git(decoy, "log", "--oneline", check=False).strip() == ""  # nothing committed there
