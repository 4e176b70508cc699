"""``DVCProject.attach_services``: the sandbox's S3 remote, its credentials alone, recovery through it, and the
plugin's own reading of the bucket (a real moto server over HTTP, real dvc-s3)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from gallery_helpers import snapshot

from pytest_mlchaos.dvc_project import CACHE_DIR, REMOTE_DIR, DVCProject, open_repo
from pytest_mlchaos.dvc_project.s3remote import S3_REMOTE_NAME, attached, s3_environ
from pytest_mlchaos.project import ProjectError
from pytest_mlchaos.services.proxy import Faults
from pytest_mlchaos.services.session import SessionServices

DVC_YAML = """
stages:
  train:
    cmd: python train.py
    deps: [train.py, data.csv]
    outs: [model.json]
    metrics:
      - metrics.json:
          cache: false
"""
TRAIN = """import json
rows = [float(x) for x in open('data.csv').read().split()]
json.dump({'mean': sum(rows) / len(rows)}, open('model.json', 'w'))
json.dump({'error': abs(sum(rows) / len(rows) - 5.0)}, open('metrics.json', 'w'))
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[DVCProject, Path]:
    base = tmp_path_factory.mktemp("tiny")
    repo = base / "repo"
    repo.mkdir()
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "train.py").write_text(TRAIN)
    (repo / "data.csv").write_text("\n".join(str(i) for i in range(11)) + "\n")
    project = DVCProject(repo)
    project.build(base / "env")
    return project, base / "env"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionServices]:
    running = SessionServices(tmp_path_factory.mktemp("services"), seed=3)
    yield running
    running.stop()


def clone_env(template: tuple[DVCProject, Path], dest: Path) -> Path:
    project, source = template
    shutil.copytree(source, dest, symlinks=True)
    project.relocate(dest, source)
    return dest


def remote_digests(root: Path) -> dict[str, str]:
    remote = root / REMOTE_DIR
    return {f"{REMOTE_DIR}/{p.relative_to(remote).as_posix()}": hashlib.blake2b(p.read_bytes(), digest_size=32)
            .hexdigest() for p in remote.rglob("*") if p.is_file()}


def lose_every_local_copy(root: Path) -> None:
    (root / "model.json").unlink()
    shutil.rmtree(root / CACHE_DIR)
    shutil.rmtree(root / REMOTE_DIR)
    (root / REMOTE_DIR).mkdir()


def test_the_bucket_becomes_the_sandboxs_default_remote_and_the_source_is_untouched(
        template: tuple[DVCProject, Path], services: SessionServices, tmp_path: Path) -> None:
    project, _ = template
    before = snapshot(project.source)
    root = clone_env(template, tmp_path / "env")
    assert not attached(root)
    [env] = services.attach_env(root, project, REMOTE_DIR, remote_digests(root))
    config = (root / ".dvc" / "config.local").read_text()
    assert f"remote = {S3_REMOTE_NAME}" in config and f"url = {env.remote_url}" in config
    assert f"endpointurl = {env.proxy.url}" in config and "access_key_id = mlchaos" in config
    assert attached(root) and snapshot(project.source) == before
    assert project.detect(root) == []  # config.local is git-ignored: no damage
    with open_repo(root) as repo:  # DVC reads it back as written
        assert repo.config["core"]["remote"] == S3_REMOTE_NAME
        assert repo.config["remote"][S3_REMOTE_NAME]["endpointurl"] == env.proxy.url


def test_a_value_configobj_would_misread_is_written_by_dvc(template: tuple[DVCProject, Path], tmp_path: Path) -> None:
    project, _ = template
    root = clone_env(template, tmp_path / "env")
    endpoint = {"url": "s3://b/p", "endpoint_url": "http://127.0.0.1:1", "access_key_id": "k",
                "secret_access_key": "a,b#c 'd'"}
    project.attach_services(root, {"s3": endpoint})
    with open_repo(root) as repo:
        assert repo.config["remote"][S3_REMOTE_NAME]["secret_access_key"] == "a,b#c 'd'"


def test_a_bad_endpoint_or_service_is_one_clear_error(template: tuple[DVCProject, Path], tmp_path: Path) -> None:
    project, _ = template
    root = clone_env(template, tmp_path / "env")
    with pytest.raises(ProjectError, match="lacks endpoint_url, secret_access_key"):
        project.attach_services(root, {"s3": {"url": "s3://b/p", "access_key_id": "k"}})
    with pytest.raises(ProjectError, match="'https://b' is not an s3:// URL"):
        project.attach_services(root, {"s3": {"url": "https://b", "endpoint_url": "http://127.0.0.1:1",
                                              "access_key_id": "k", "secret_access_key": "s"}})
    with pytest.raises(ProjectError, match="no support for mlflow; supported: s3"):
        project.attach_services(root, {"mlflow": {}})
    assert not attached(root)


def test_the_users_aws_settings_are_never_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA-someone-elses")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    env = s3_environ(tmp_path)
    assert "AWS_PROFILE" not in env and "AWS_ACCESS_KEY_ID" not in env
    assert env["AWS_MAX_ATTEMPTS"] == "1" and "127.0.0.1" in env["NO_PROXY"]
    assert not Path(env["AWS_CONFIG_FILE"]).exists() and not Path(env["AWS_SHARED_CREDENTIALS_FILE"]).exists()


def test_every_local_copy_lost_comes_back_from_s3_through_an_outage_and_a_hostile_shell(
        template: tuple[DVCProject, Path], services: SessionServices, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    project, _ = template
    root = clone_env(template, tmp_path / "env")
    [env] = services.attach_env(root, project, REMOTE_DIR, remote_digests(root))
    for key, value in {"AWS_PROFILE": "production", "AWS_ACCESS_KEY_ID": "someone-elses",
                       "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(key, value)  # any of these used would fail the fetch
    lose_every_local_copy(root)
    env.outage(Faults(refuse=True), seed=1, duration=4.0, label="remote_down")  # longer than the local steps
    result = project.recover(root, [])
    assert result.recovered, result.message
    assert result.strategy == "dvc_fetch_s3+dvc_push"
    assert "waited" in result.message and "dvc_fetch_s3: succeeded on try" in result.message
    assert [a.strategy for a in result.attempts][:2] == ["dvc_fetch", "dvc_fetch_s3"]  # the local remote first
    assert project.detect(root) == [] and env.problems() == []


def test_the_plugin_reads_the_bucket_itself(
        template: tuple[DVCProject, Path], services: SessionServices, tmp_path: Path) -> None:
    from pytest_mlchaos.services.s3 import client, objects

    project, _ = template
    root = clone_env(template, tmp_path / "env")
    [env] = services.attach_env(root, project, REMOTE_DIR, remote_digests(root))
    assert env.problems() == []
    s3 = client(env.direct_url)
    for key in list(objects(s3, env.bucket, env.prefix)):
        s3.delete_object(Bucket=env.bucket, Key=key)
    problems = env.problems()
    assert problems and all(p.startswith(f"S3 remote {env.remote_url}/files/md5/") and p.endswith(": missing")
                            for p in problems)
    assert project.detect(root) == []  # the project's own checks do not read the bucket: the plugin's do


def test_a_remote_that_cuts_every_transfer_is_given_up_for_a_rebuild(
        template: tuple[DVCProject, Path], services: SessionServices, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_mlchaos.retry import RetryPolicy

    project, _ = template
    monkeypatch.setattr(project, "retry", RetryPolicy(attempts=3, first_wait=0.1))  # this test's patience only
    root = clone_env(template, tmp_path / "env")
    [env] = services.attach_env(root, project, REMOTE_DIR, remote_digests(root))
    lose_every_local_copy(root)
    env.outage(Faults(cut_after=4), seed=1, duration=0.0, label="remote_partial_transfer")
    try:
        result = project.recover(root, [])
    finally:
        env.lift()
    assert result.recovered, result.message
    assert "dvc_fetch_s3" not in (result.strategy or "") and "dvc_repro" in (result.strategy or ""), result.message
    assert "dvc_fetch_s3: gave up after 3 tries" in result.message
    assert project.detect(root) == [] and env.problems() == []
