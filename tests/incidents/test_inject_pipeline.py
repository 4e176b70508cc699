"""Pipeline failures: stages fail for real through failpoints; killed runs leave what they leave."""

from __future__ import annotations

import contextlib
import errno
import json
from pathlib import Path

import pytest
from mlchaos_testenv import ARTIFACTS, DATA, PREPARED, stage_runner

from pytest_mlchaos import failpoints
from pytest_mlchaos.incidents import Incident, IncidentError, inject


def run(root: Path, mode: str | None, seed: int = 1, runner: bool = True, **params):
    return inject(root, Incident("pipeline_failure", mode, params, seed=seed), artifacts=ARTIFACTS,
                  run_stage=stage_runner(root) if runner else None)


def test_crash_is_the_default_mode_and_the_stage_really_raises(env: Path) -> None:
    (env / PREPARED).unlink()
    injection = run(env, None, stage="prepare")
    assert injection.incident.mode == "crash"
    assert "stage 'prepare' crashed: StageFailure" in injection.description
    assert not (env / PREPARED).exists(), "the crashed stage wrote nothing"
    assert failpoints.armed(env) == {}, "a one-off crash disarms itself"
    stage_runner(env)("prepare")  # a rerun succeeds
    assert (env / PREPARED).read_bytes() == (env / DATA).read_bytes()


def test_a_persistent_crash_keeps_failing_on_rerun(env: Path) -> None:
    injection = run(env, "crash", stage="train", persistent=True)
    assert "persistent" in injection.description
    with pytest.raises(failpoints.StageFailure, match="'train'"):
        stage_runner(env)("train")
    with pytest.raises(failpoints.StageFailure):
        stage_runner(env)("train")


def test_the_stage_is_chosen_by_the_seed_and_recorded_for_replay(env: Path) -> None:
    first = run(env, "crash", seed=5)
    stage = first.incident.param("stage")
    assert stage in ARTIFACTS.stages
    assert f"stage {stage!r}" in first.description
    assert run(env, "crash", seed=5).incident.param("stage") == stage


def test_hang_stops_the_stage_with_a_timeout(env: Path) -> None:
    injection = run(env, "hang", stage="prepare", seconds=0.05)
    assert "hung and was stopped by its timeout: StageTimeout" in injection.description


def test_disk_full_fails_the_write_with_enospc(env: Path) -> None:
    calls = []

    def runner(stage: str) -> None:
        try:
            stage_runner(env)(stage)
        except OSError as exc:
            calls.append(exc.errno)
            raise

    (env / PREPARED).unlink()
    injection = inject(env, Incident("pipeline_failure", "disk_full", {"stage": "prepare"}, seed=1), artifacts=ARTIFACTS,
                       run_stage=runner)
    assert calls == [errno.ENOSPC]
    assert "ENOSPC" in injection.description
    assert not (env / PREPARED).exists()


@pytest.mark.parametrize("mode", ["crash", "hang", "disk_full"])
def test_a_project_without_run_stage_is_told_so_and_nothing_is_armed(env: Path, mode: str) -> None:
    with pytest.raises(IncidentError, match="does not support running stages"):
        run(env, mode, stage="train", runner=False)
    assert not (env / failpoints.FAILPOINTS_FILE).exists()


def test_a_stage_runner_that_never_hits_the_failpoint_is_reported(env: Path) -> None:
    with pytest.raises(IncidentError, match="must call pytest_mlchaos.failpoints.hit"):
        inject(env, Incident("pipeline_failure", "crash", {"stage": "train"}), artifacts=ARTIFACTS, run_stage=lambda s: None)
    assert failpoints.armed(env) == {}


def test_partial_write_cuts_the_stage_output_mid_row(env: Path) -> None:
    import pandas as pd

    whole = (env / PREPARED).read_bytes()
    injection = run(env, "partial_write", stage="prepare", fraction=0.3)
    part = (env / PREPARED).read_bytes()
    assert whole.startswith(part) and not part.endswith(b"\n")
    assert injection.touched == (PREPARED,)
    frame = pd.read_csv(env / PREPARED)
    assert frame.iloc[-1].isna().any(), "the last row is incomplete"


def test_stale_rwlock_makes_dvc_refuse_to_touch_the_locked_outputs(env: Path) -> None:
    from dvc.exceptions import ReproductionError
    from dvc.lock import LockError
    from dvc.repo import Repo

    injection = run(env, "stale_lock", stage="prepare")
    state = json.loads((env / ".dvc/tmp/rwlock").read_text())
    assert list(state["write"]) == [str((env / PREPARED).resolve())]
    assert state["write"][str((env / PREPARED).resolve())]["pid"] == 1
    assert injection.touched == (".dvc/tmp/rwlock",)
    with contextlib.chdir(env), Repo(str(env)) as repo:
        with pytest.raises(ReproductionError) as info:
            repo.reproduce("prepare", force=True)
    assert isinstance(info.value.__cause__, LockError) and "is busy" in str(info.value.__cause__)


def test_a_stale_rwlock_of_a_dead_pid_is_cleared_by_dvc(env: Path) -> None:
    from dvc.repo import Repo

    run(env, "stale_lock", stage="prepare", blocking=False)
    pid = next(iter(json.loads((env / ".dvc/tmp/rwlock").read_text())["write"].values()))["pid"]
    assert pid > 1
    with contextlib.chdir(env), Repo(str(env)) as repo:
        repo.reproduce("prepare", force=True)
    assert str(pid) not in (env / ".dvc/tmp/rwlock").read_text(), "DVC removed the dead run's entry"
    assert (env / PREPARED).read_bytes() == (env / DATA).read_bytes()


def test_a_half_written_dvc_lock_breaks_dvc(env: Path) -> None:
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    whole = (env / "dvc.lock").read_bytes()
    run(env, "stale_lock", lock="dvc_lock")
    assert whole.startswith((env / "dvc.lock").read_bytes()) and (env / "dvc.lock").read_bytes() != whole
    with contextlib.chdir(env), Repo(str(env)) as repo:
        with pytest.raises(DvcException):
            repo.status()


def test_stale_lock_outside_a_dvc_repository_says_what_is_allowed(tmp_path: Path) -> None:
    from pytest_mlchaos.artifacts import Artifacts

    with pytest.raises(IncidentError, match="not a DVC repository.*allowed lock: dvc_lock"):
        inject(tmp_path, Incident("pipeline_failure", "stale_lock"), artifacts=Artifacts())
    assert list(tmp_path.iterdir()) == []
