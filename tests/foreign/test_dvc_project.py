"""``DVCProject`` on a real, built copy of ``fixtures/foreign-dvc``: real git, real DVC, real scikit-learn."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pytest_mlchaos import failpoints
from pytest_mlchaos.dvc_project import (CACHE_DIR, REMOTE_DIR, DVCProject, dvc_environment, md5_file, object_path,
                                        open_repo)
from pytest_mlchaos.project import MLProject, ProjectError

FOREIGN = Path(__file__).resolve().parents[2] / "fixtures" / "foreign-dvc"

OUTS = ("data/raw.csv", "data/train.csv", "data/test.csv", "model.pkl", "metrics.json")


def locked_md5s(root: Path) -> dict[str, str]:
    """What dvc.lock and data/raw.csv.dvc record, read straight from the YAML."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    found = {o["path"]: o["md5"] for stage in lock["stages"].values() for o in stage.get("outs", [])}
    raw = yaml.safe_load((root / "data/raw.csv.dvc").read_text())["outs"][0]
    found["data/" + raw["path"]] = raw["md5"]
    return found


def workspace_md5s(root: Path) -> dict[str, str]:
    return {rel: md5_file(root / rel) for rel in OUTS if (root / rel).is_file()}


def flip_same_size(path: Path, offset: int = 100) -> None:
    """One bit changed, size and mtime put back: what DVC's status cannot see."""
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_it_is_an_mlproject_named_after_its_directory(foreign_project: DVCProject) -> None:
    assert isinstance(foreign_project, MLProject)
    assert foreign_project.name == "foreign-dvc"
    assert DVCProject(FOREIGN, name="churn").name == "churn"


def test_a_source_without_dvc_yaml_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match=r"is not a directory with a dvc.yaml"):
        DVCProject(tmp_path / "nowhere")
    with pytest.raises(ProjectError, match=r"model_files='model.pkl': expected a list of paths"):
        DVCProject(FOREIGN, model_files="model.pkl")  # type: ignore[arg-type]


def test_the_fingerprint_follows_the_source_tree(tmp_path: Path) -> None:
    copy = tmp_path / "src"
    shutil.copytree(FOREIGN, copy)
    before = DVCProject(copy).fingerprint()
    assert DVCProject(copy).fingerprint() == before
    (copy / "params.yaml").write_text((copy / "params.yaml").read_text().replace("max_depth: 5", "max_depth: 6"))
    assert DVCProject(copy).fingerprint() != before


def test_build_makes_a_committed_repo_whose_outs_match_the_lock_and_the_remote(foreign_built: Path) -> None:
    root = foreign_built
    status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True)
    assert status.stdout == ""
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    assert {"dvc.yaml", "dvc.lock", "data/raw.csv.dvc", ".dvc/config", "metrics.json"} <= set(tracked)
    assert "model.pkl" not in tracked and "data/raw.csv" not in tracked
    locked = locked_md5s(root)
    assert workspace_md5s(root) == locked
    for rel in ("data/raw.csv", "data/train.csv", "data/test.csv", "model.pkl"):
        assert md5_file(object_path(root / CACHE_DIR, locked[rel])) == locked[rel]
        assert md5_file(object_path(root / REMOTE_DIR, locked[rel])) == locked[rel]
    assert "url = ../.dvc-remote" in (root / ".dvc/config").read_text()
    assert "type = copy" in (root / ".dvc/config").read_text()


def test_the_source_tree_is_never_written(foreign_built: Path) -> None:
    assert not (FOREIGN / ".dvc").exists() and not (FOREIGN / ".git").exists()
    assert not (FOREIGN / "dvc.lock").exists() and not (FOREIGN / "model.pkl").exists()


def test_artifacts_come_from_dvc_yaml_and_the_lock(foreign_project: DVCProject, foreign_built: Path) -> None:
    art = foreign_project.artifacts(foreign_built)
    assert art.stages == ("prepare", "train", "evaluate")
    assert art.data == ("data/raw.csv", "data/train.csv", "data/test.csv")
    assert art.models == ("model.pkl",)
    assert dict(art.stage_outputs) == {"prepare": ("data/train.csv", "data/test.csv"), "train": ("model.pkl",),
                                       "evaluate": ("metrics.json",)}
    assert set(OUTS) <= set(art.tracked_files())
    assert set(art.source_files()) == {"data/raw.csv", "data/raw.csv.dvc", "dvc.yaml", "params.yaml", "src/prepare.py",
                                       "src/train.py", "src/evaluate.py"}
    assert art.holdout == ("data/test.csv",) and art.metrics_files == ("metrics.json",)
    assert (art.lock_file, art.dvc_cache, art.dvc_remote, art.metrics_file) == (
        "dvc.lock", ".dvc/cache", ".dvc-remote", "metrics.json")


def test_evaluate_recomputes_the_metrics_without_touching_the_env(foreign_project: DVCProject, foreign_env: Path) -> None:
    before = {p.relative_to(foreign_env).as_posix(): md5_file(p) for p in foreign_env.rglob("*")
              if p.is_file() and ".git" not in p.parts}
    written = json.loads((foreign_env / "metrics.json").read_text())
    assert DVCProject(FOREIGN, reuse_metrics=False).evaluate(foreign_env) == pytest.approx(written)
    after = {p.relative_to(foreign_env).as_posix(): md5_file(p) for p in foreign_env.rglob("*")
             if p.is_file() and ".git" not in p.parts}
    assert after == before
    (foreign_env / "model.pkl").unlink()
    with pytest.raises(FileNotFoundError, match="model.pkl"):
        foreign_project.evaluate(foreign_env)


def test_a_same_size_bitflip_is_missed_by_dvc_status_but_detected(foreign_project: DVCProject, foreign_env: Path) -> None:
    with open_repo(foreign_env) as repo:
        assert repo.status() == {}  # DVC has now seen (inode, mtime, size) of every out
    flip_same_size(foreign_env / "data/train.csv")
    with open_repo(foreign_env) as repo:
        assert repo.status() == {}  # the trap: DVC trusts its state database
    assert foreign_project.detect(foreign_env) == ["data/train.csv: md5 differs from dvc.lock"]

    result = foreign_project.recover(foreign_env, [])
    assert result.recovered and result.strategy == "dvc_checkout"
    assert [(a.strategy, a.succeeded) for a in result.attempts] == [("dvc_checkout", True)]
    assert workspace_md5s(foreign_env) == locked_md5s(foreign_env)
    assert foreign_project.detect(foreign_env) == []


def test_a_lost_model_with_a_corrupt_cache_object_is_fetched_from_the_remote(
        foreign_project: DVCProject, foreign_env: Path) -> None:
    md5 = locked_md5s(foreign_env)["model.pkl"]
    (foreign_env / "model.pkl").unlink()
    cached = object_path(foreign_env / CACHE_DIR, md5)
    cached.chmod(0o644)
    cached.write_bytes(b"not a model")
    cached.chmod(0o444)  # read-only: DVC will not rehash it
    problems = foreign_project.detect(foreign_env)
    assert "model.pkl: missing" in problems
    assert f".dvc/cache object {md5} (content does not match its md5)" in problems
    assert foreign_project.check_model(foreign_env) is not None

    result = foreign_project.recover(foreign_env, [])
    assert result.recovered and result.strategy == "purge_corrupt_cache+dvc_fetch"
    assert md5_file(foreign_env / "model.pkl") == md5 == md5_file(cached)
    assert foreign_project.detect(foreign_env) == [] and foreign_project.check_model(foreign_env) is None


def test_without_cache_and_remote_a_stage_output_is_rebuilt_by_repro_bit_exact(
        foreign_project: DVCProject, foreign_env: Path) -> None:
    locked = locked_md5s(foreign_env)
    shutil.rmtree(foreign_env / CACHE_DIR)
    shutil.rmtree(foreign_env / REMOTE_DIR)
    (foreign_env / "data/test.csv").write_text("tenure_months\n1\n")

    result = foreign_project.recover(foreign_env, [])
    assert result.recovered, result.message
    assert result.strategy == "dvc_repro+dvc_commit+dvc_push"
    assert [(a.strategy, a.succeeded) for a in result.attempts][0] == ("dvc_fetch", False)
    assert workspace_md5s(foreign_env) == locked == locked_md5s(foreign_env)
    assert md5_file(object_path(foreign_env / REMOTE_DIR, locked["model.pkl"])) == locked["model.pkl"]
    assert foreign_project.detect(foreign_env) == []


def test_it_says_it_cannot_recover_raw_data_when_cache_and_remote_are_gone(
        foreign_project: DVCProject, foreign_env: Path) -> None:
    shutil.rmtree(foreign_env / CACHE_DIR)
    shutil.rmtree(foreign_env / REMOTE_DIR)
    flip_same_size(foreign_env / "data/raw.csv")
    damaged = md5_file(foreign_env / "data/raw.csv")

    result = foreign_project.recover(foreign_env, [])
    assert not result.recovered
    assert result.attempts and not any(a.succeeded for a in result.attempts)
    assert "data/raw.csv: md5 differs from dvc.lock" in result.message
    assert md5_file(foreign_env / "data/raw.csv") == damaged  # the evidence is left as it was


def test_a_failpoint_makes_run_stage_fail_and_recovery_reruns_the_stage(
        foreign_project: DVCProject, foreign_env: Path) -> None:
    locked = locked_md5s(foreign_env)
    failpoints.arm(foreign_env, "train", "raise", point="write")
    with pytest.raises(failpoints.StageFailure):
        foreign_project.run_stage(foreign_env, "train")
    assert foreign_project.detect(foreign_env) == ["model.pkl: md5 differs from dvc.lock"]  # written halfway
    result = foreign_project.recover(foreign_env, [])
    assert result.recovered and result.strategy == "dvc_checkout"
    assert workspace_md5s(foreign_env) == locked
    foreign_project.run_stage(foreign_env, "train")  # disarmed: a real repro of the single stage
    assert workspace_md5s(foreign_env) == locked


def test_relocate_refuses_a_copy_that_holds_the_old_absolute_path(
        foreign_project: DVCProject, foreign_env: Path, foreign_built: Path) -> None:
    assert not (foreign_env / ".dvc/tmp/mlchaos-site").exists()
    config = foreign_env / ".dvc/config"
    config.write_text(config.read_text() + f"\n[cache]\n    dir = {foreign_built}/.dvc/cache\n")
    with pytest.raises(ProjectError, match="absolute path"):
        foreign_project.relocate(foreign_env, foreign_built)


def test_evaluate_reruns_the_stage_when_a_dep_changes(foreign_project: DVCProject, foreign_env: Path) -> None:
    baseline = json.loads((foreign_env / "metrics.json").read_text())
    test_csv = foreign_env / "data/test.csv"
    header, *rows = test_csv.read_text().splitlines()
    flipped = [row[:-1] + ("1" if row.endswith("0") else "0") if i < 40 else row for i, row in enumerate(rows)]
    test_csv.write_text("\n".join([header, *flipped]) + "\n")
    damaged = foreign_project.evaluate(foreign_env)  # a new md5 of data/test.csv: the stage runs again
    assert damaged["accuracy"] < baseline["accuracy"] - 0.1


def test_a_half_written_dvc_lock_is_detected_and_restored_from_git(foreign_project: DVCProject, foreign_env: Path) -> None:
    lock = foreign_env / "dvc.lock"
    good = lock.read_bytes()
    lock.write_bytes(good[: len(good) // 2])
    assert foreign_project.detect(foreign_env) == ["dvc.lock: differs from git HEAD"]
    result = foreign_project.recover(foreign_env, [])
    assert result.recovered and result.strategy == "git_restore"
    assert lock.read_bytes() == good


def test_a_stale_rwlock_is_cleared_before_the_lost_model_is_checked_out(
        foreign_project: DVCProject, foreign_env: Path) -> None:
    rwlock = foreign_env / ".dvc/tmp/rwlock"
    rwlock.write_text(json.dumps({"read": {}, "write": {str(foreign_env / "model.pkl"): {"pid": 1, "cmd": "dvc repro"}}}))
    (foreign_env / "model.pkl").unlink()
    problems = foreign_project.detect(foreign_env)
    assert ".dvc/tmp/rwlock: stale DVC rwlock held by PID 1 for 1 path(s)" in problems
    assert "model.pkl: missing" in problems
    result = foreign_project.recover(foreign_env, [])
    assert [a.strategy for a in result.attempts if a.succeeded] == ["clear_stale_locks", "dvc_checkout"]
    assert result.recovered and foreign_project.detect(foreign_env) == []


TINY_DVC_YAML = """
stages:
  shards:
    wdir: work
    cmd: python ../shards.py
    deps:
      - ../shards.py
    outs:
      - shards
  score:
    foreach: [a, b]
    do:
      cmd: python score.py ${item}
      deps:
        - score.py
        - work/shards
      outs:
        - ${item}.json
"""
SHARDS_PY = "import os\nos.makedirs('shards', exist_ok=True)\nfor i in range(3):\n    open(f'shards/{i}.txt', 'w').write(str(i) * 50)\n"
SCORE_PY = "import json, sys\njson.dump({'n': len(open('work/shards/1.txt').read()), sys.argv[1]: 1}, open(sys.argv[1] + '.json', 'w'))\n"


def test_a_directory_out_in_a_wdir_and_foreach_stages_are_handled(tmp_path: Path) -> None:
    source = tmp_path / "tiny"
    (source / "work").mkdir(parents=True)
    (source / "dvc.yaml").write_text(TINY_DVC_YAML)
    (source / "shards.py").write_text(SHARDS_PY)
    (source / "score.py").write_text(SCORE_PY)
    project = DVCProject(source, metrics_file="b.json")
    root = tmp_path / "env"
    project.build(root)
    art = project.artifacts(root)
    assert art.stages == ("shards", "score@a", "score@b")
    assert dict(art.stage_outputs)["shards"] == ("work/shards/0.txt", "work/shards/1.txt", "work/shards/2.txt")
    assert project.detect(root) == []
    assert project.evaluate(root) == {"n": 50.0, "b": 1.0}

    flip_same_size(root / "work/shards/2.txt", offset=10)
    assert project.detect(root) == ["work/shards/2.txt: md5 differs from dvc.lock"]
    result = project.recover(root, [])
    assert result.recovered and result.strategy == "dvc_checkout"
    assert (root / "work/shards/2.txt").read_text() == "2" * 50


def test_a_persistent_stage_failure_makes_recovery_say_it_failed(foreign_project: DVCProject, foreign_env: Path) -> None:
    shutil.rmtree(foreign_env / CACHE_DIR)
    shutil.rmtree(foreign_env / REMOTE_DIR)
    failpoints.arm(foreign_env, "prepare", "raise", persistent=True, message="prepare keeps crashing")
    (foreign_env / "data/test.csv").unlink()
    result = foreign_project.recover(foreign_env, [])
    assert not result.recovered
    repro = [a for a in result.attempts if a.strategy == "dvc_repro"]
    assert repro and not repro[0].succeeded and "prepare keeps crashing" in (repro[0].error or "")
    assert "data/test.csv: missing" in result.message


def test_the_dvc_environment_is_restored_after_use_even_on_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", "/somewhere/else/.git")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.invalid")
    monkeypatch.delenv("DVC_SITE_CACHE_DIR", raising=False)
    cwd, before = os.getcwd(), dict(os.environ)
    with pytest.raises(RuntimeError, match="boom"):
        with dvc_environment(tmp_path):
            assert Path.cwd() == tmp_path.resolve()
            assert os.environ["DVC_SITE_CACHE_DIR"] == str(tmp_path.resolve() / ".dvc/tmp/mlchaos-site")
            assert os.environ["DVC_NO_ANALYTICS"] == "1" and "GIT_DIR" not in os.environ
            assert os.environ["MLFLOW_TRACKING_URI"] == f"sqlite:///{tmp_path.resolve()}/.mlchaos-mlflow/mlflow.db"
            raise RuntimeError("boom")
    assert os.getcwd() == cwd and dict(os.environ) == before
