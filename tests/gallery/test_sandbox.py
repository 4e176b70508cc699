"""The sandbox is a real repository: git with a first commit before the first repro, a local remote standing in
for the user's, MLflow inside the environment, nothing of the user's shell leaking in, and failures that say why."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable

import pytest
from gallery_helpers import clone, git

from pytest_mlchaos.dvc_project import CACHE_DIR, MLFLOW_DB, DVCProject
from pytest_mlchaos.project import ProjectError

Built = Callable[[str], tuple[DVCProject, Path]]


def test_the_first_commit_comes_before_the_first_repro_so_dvclive_runs(built: Built) -> None:
    project, root = built("get-started")
    assert git(root, "rev-list", "--count", "HEAD").strip() == "2"
    first = git(root, "ls-tree", "-r", "--name-only", "HEAD~1").split()
    assert {"dvc.yaml", "params.yaml", ".dvc/config", "data/data.xml.dvc"} <= set(first) and "dvc.lock" in first
    assert git(root, "status", "--porcelain") == ""
    assert (root / "eval/metrics.json").is_file()  # dvclive's Live() needed a HEAD
    assert project.detect(root) == []


def test_the_users_remote_stays_in_the_config_but_a_local_one_is_the_default(built: Built) -> None:
    _, root = built("get-started")
    config = (root / ".dvc/config").read_text()
    assert "remote = mlchaos" in config and "url = ../.dvc-remote" in config and "type = copy" in config
    assert "https://dvc-storage.invalid/get-started" in config  # kept, never contacted


def test_a_stage_logging_to_mlflow_gets_a_store_inside_the_environment(built: Built, tmp_path: Path) -> None:
    project, root = built("mlflow-registry")  # built with MLFLOW_TRACKING_URI pointing at a closed port
    art = project.artifacts(root)
    assert (art.mlflow_db, art.registry_model, art.registry_alias) == (MLFLOW_DB, "wine-quality", "champion")
    with sqlite3.connect(root / MLFLOW_DB) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM experiments")]
        locations = [r[0] for r in conn.execute("SELECT artifact_location FROM experiments")]
    assert "wine-quality" in names and "someone-elses-experiment" not in names
    assert all(str(root) in loc or loc.startswith("mlflow-artifacts") for loc in locations if loc), locations
    assert not (root / "mlruns").exists() and not (root / "mlflow.db").exists()


def test_nothing_of_the_users_shell_reached_dvc(built: Built) -> None:
    _, root = built("regression")
    elsewhere = root.parent / "elsewhere"
    assert not (elsewhere / "shared-cache").exists() and not (elsewhere / "shared-remote").exists()
    assert not (elsewhere / "dvc-site").exists() and not (elsewhere / "not-a-repo.git").exists()


def test_a_clone_of_the_environment_has_its_mlflow_paths_rewritten(env_of: Callable[[str], tuple[DVCProject, Path]],
                                                                  built: Built) -> None:
    project, root = env_of("mlflow-registry")
    _, template = built("mlflow-registry")
    with sqlite3.connect(root / MLFLOW_DB) as conn:
        cells = [str(v) for table in ("experiments", "runs", "model_versions")
                 for row in conn.execute(f"SELECT * FROM {table}") for v in row]
    assert not any(str(template) in cell for cell in cells)
    assert any(str(root) in cell for cell in cells)
    assert project.detect(root) == []


def test_the_users_remote_is_never_contacted_by_build_or_recovery(tmp_path: Path) -> None:
    repo = clone("regression", tmp_path / "repo")
    users_remote = tmp_path / "users-remote"
    users_remote.mkdir()
    (repo / ".dvc/config").write_text(f"[core]\n    remote = s3store\n['remote \"s3store\"']\n    url = {users_remote}\n")
    git(repo, "commit", "-qam", "a remote on a local path")
    project = DVCProject(repo)
    root = tmp_path / "env"
    project.build(root)
    import shutil

    shutil.rmtree(root / CACHE_DIR)
    (root / "model.joblib").unlink()
    result = project.recover(root, [])
    assert result.recovered and result.strategy == "dvc_fetch"
    assert list(users_remote.iterdir()) == []  # neither pushed to nor fetched from (fetch of nothing leaves no trace:
    assert any((root / ".dvc-remote").rglob("*"))  # the objects came from the environment's own remote)


def test_a_failing_stage_is_named_with_the_end_of_what_it_printed(tmp_path: Path) -> None:
    repo = clone("regression", tmp_path / "repo")
    train = repo / "src/train.py"
    train.write_text(train.read_text() + "\nraise ValueError('the alpha grid is empty (deliberately broken)')\n")
    with pytest.raises(ProjectError) as info:
        DVCProject(repo).build(tmp_path / "env")
    text = str(info.value)
    assert "stage 'train' failed: failed to run: python src/train.py, exited with 1" in text
    assert "ValueError: the alpha grid is empty (deliberately broken)" in text
    assert "ReproductionError" not in text
