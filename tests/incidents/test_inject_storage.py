"""Storage loss: the stores recovery reads from are damaged the way they really get damaged."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from pathlib import Path

import pytest
from mlchaos_testenv import ARTIFACTS, DATA, MODEL

from pytest_mlchaos.incidents import Incident, IncidentError, inject
from pytest_mlchaos.incidents.storage import cache_objects, object_for


def run(root: Path, mode: str, seed: int = 1, target: str | None = None, **params):
    return inject(root, Incident("storage_loss", mode, params, target=target, seed=seed), artifacts=ARTIFACTS)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_cache_corruption_keeps_size_mode_and_mtime_and_only_the_md5_tells(env: Path) -> None:
    from dvc.repo import Repo

    obj = object_for(env / ".dvc/cache", env / DATA)
    st = obj.stat()
    assert md5(obj) == obj.parent.name + obj.name
    injection = run(env, "dvc_cache_corruption", target=DATA, flips=2)
    after = obj.stat()
    assert injection.touched == (obj.relative_to(env).as_posix(),)
    assert (after.st_size, after.st_mtime_ns, after.st_mode) == (st.st_size, st.st_mtime_ns, st.st_mode)
    assert md5(obj) != obj.parent.name + obj.name, "the object no longer matches the hash its name promises"
    (env / DATA).unlink()
    with contextlib.chdir(env), Repo(str(env)) as repo:
        assert repo.status() != {}  # the workspace file is missing: DVC notices that
        repo.checkout([DATA], force=True)
    assert (env / DATA).exists()
    assert md5(env / DATA) != obj.parent.name + obj.name, "DVC checked the corrupted object out without noticing"


def test_cache_corruption_without_a_target_picks_objects_by_seed(make_env) -> None:
    a, b = make_env("a"), make_env("b")
    first = run(a, "dvc_cache_corruption", objects=2, seed=3)
    again = run(b, "dvc_cache_corruption", objects=2, seed=3)
    assert first.touched == again.touched and len(first.touched) == 2
    assert [md5(a / t) for t in first.touched] == [md5(b / t) for t in again.touched]


def test_cache_loss_deletes_the_share_of_objects(env: Path) -> None:
    total = len(cache_objects(env / ".dvc/cache"))
    injection = run(env, "dvc_cache_loss", fraction=0.5)
    assert len(injection.touched) == round(0.5 * total)
    assert len(cache_objects(env / ".dvc/cache")) == total - round(0.5 * total)
    run(env, "dvc_cache_loss")
    assert cache_objects(env / ".dvc/cache") == []


def test_cache_loss_of_one_file_makes_dvc_checkout_fail_for_it(env: Path) -> None:
    from dvc.exceptions import CheckoutError
    from dvc.repo import Repo

    run(env, "dvc_cache_loss", target=MODEL)
    (env / MODEL).unlink()
    with contextlib.chdir(env), Repo(str(env)) as repo:
        with pytest.raises(CheckoutError):
            repo.checkout([MODEL], force=True)


@pytest.mark.parametrize("how", ["emptied", "unreachable"])
def test_remote_loss_makes_dvc_pull_fail(env: Path, how: str) -> None:
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    injection = run(env, "dvc_remote_loss", how=how)
    remote = env / "storage/remote"
    if how == "emptied":
        assert remote.is_dir() and list(remote.iterdir()) == []
    else:
        assert not remote.exists() and (env / "storage/remote.unreachable").is_dir()
    assert injection.touched == ("storage/remote",)
    run(env, "dvc_cache_loss")
    (env / DATA).unlink()
    with contextlib.chdir(env), Repo(str(env)) as repo:
        with pytest.raises(DvcException):
            repo.pull([DATA])


def test_backup_loss_deletes_backups(env: Path) -> None:
    injection = run(env, "backup_loss", fraction=0.5)
    assert len(injection.touched) == 1
    assert sum(1 for p in (env / "backups").rglob("*") if p.is_file()) == 1


@pytest.mark.parametrize(("where", "message"), [("header", "file is not a database"), ("pages", "malformed")])
def test_mlflow_store_corruption_makes_the_database_unreadable(env: Path, where: str, message: str) -> None:
    size = (env / "mlflow.db").stat().st_size
    run(env, "mlflow_store_corruption", where=where, pages=1)
    assert (env / "mlflow.db").stat().st_size == size
    con = sqlite3.connect(env / "mlflow.db")
    try:
        with pytest.raises(sqlite3.DatabaseError, match=message):
            con.execute("PRAGMA integrity_check").fetchall()
            for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                con.execute(f"SELECT * FROM {table}").fetchall()
            raise sqlite3.DatabaseError("malformed: " + str(con.execute("PRAGMA integrity_check").fetchall()))
    finally:
        con.close()


def test_store_modes_on_an_environment_without_the_store_say_which_artifact_is_missing(tmp_path: Path) -> None:
    from pytest_mlchaos.artifacts import Artifacts

    for mode, attr in [("dvc_cache_loss", "dvc_cache"), ("dvc_remote_loss", "dvc_remote"), ("backup_loss", "backups"),
                       ("mlflow_store_corruption", "mlflow_db")]:
        with pytest.raises(IncidentError, match=f"artifacts.{attr} is not set"):
            inject(tmp_path, Incident("storage_loss", mode), artifacts=Artifacts())
