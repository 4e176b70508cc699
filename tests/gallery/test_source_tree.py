"""What of a user's working directory is copied into the sandbox, and what the fingerprint covers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gallery_helpers import clone

from pytest_mlchaos.dvc_project import DVCProject
from pytest_mlchaos.dvc_project.source import SourceTree
from pytest_mlchaos.project import ProjectError


@pytest.fixture
def cluttered(tmp_path: Path) -> Path:
    """The get-started clone as a user's working directory looks after a while."""
    repo = clone("get-started", tmp_path / "repo")
    for rel in (".pytest_cache/v/mlchaos/seed", ".pytest_cache/d/mlchaos/get-started-abc/env/model.pkl",
                ".venv/lib/site.py", "build-venv/lib/x.py", "src/__pycache__/prepare.cpython-311.pyc",
                ".dvc/cache/files/md5/00/11", ".dvc/tmp/rwlock", ".dvc/config.local", "model.pkl", "eval/metrics.json",
                "data/prepared/train.tsv", "notes/ignored.log", "custom-cache/d/x"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text("clutter")
    (repo / ".venv/pyvenv.cfg").write_text("home = /usr\n")
    (repo / "build-venv/pyvenv.cfg").write_text("home = /usr\n")
    (repo / "notes/.gitignore").write_text("*.log\n")
    (repo / ".dvcignore").write_text("scratch/\n")
    (repo / "scratch").mkdir()
    (repo / "scratch/big.bin").write_text("dvcignored")
    (repo / "notes/todo.txt").write_text("a file the user keeps, not ignored")
    return repo


def test_it_copies_the_repository_and_none_of_the_clutter(cluttered: Path) -> None:
    files = SourceTree.scan(cluttered, exclude=[cluttered / "custom-cache"]).files
    assert {"dvc.yaml", "params.yaml", "src/prepare.py", "data/data.xml.dvc", ".dvc/config", "notes/todo.txt",
            "tests/chaos/test_recovery.py"} <= set(files)
    for rel in files:
        assert not rel.startswith((".pytest_cache", ".venv", "build-venv", ".dvc/cache", ".dvc/tmp", "scratch",
                                   "custom-cache", ".git/")), rel
    assert ".dvc/config.local" not in files and "notes/ignored.log" not in files
    assert "model.pkl" not in files and "eval/metrics.json" not in files  # outs, git-ignored as DVC wrote them
    assert "data/data.xml" not in files  # dvc add-ed: ignored by git, taken separately (below)


def test_dvc_added_data_comes_from_the_workspace_or_else_the_users_cache(cluttered: Path, tmp_path: Path) -> None:
    tree = SourceTree.scan(cluttered)
    (out,) = tree.added_data()
    assert (out.path, out.origin) == ("data/data.xml", "data/data.xml.dvc")
    assert tree.materialise(out, tmp_path / "a") == "workspace"
    cache_obj = cluttered / ".dvc/cache/files/md5" / out.md5[:2] / out.md5[2:]
    cache_obj.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(cluttered / "data/data.xml", cache_obj)  # as after `dvc gc -w`... no: as a checkout never made
    assert tree.materialise(out, tmp_path / "b") == "cache"
    assert (tmp_path / "b/data/data.xml").read_bytes() == cache_obj.read_bytes()
    cache_obj.unlink()
    with pytest.raises(ProjectError, match=r"data/data.xml \(tracked by data/data.xml.dvc\) is neither in the "
                                           r"workspace .* nor in its DVC cache .*run `dvc pull data/data.xml`"):
        tree.materialise(out, tmp_path / "c")


def test_the_fingerprint_ignores_runs_tests_and_caches_but_follows_code_params_and_data(cluttered: Path) -> None:
    before = DVCProject(cluttered).fingerprint()
    (cluttered / ".pytest_cache/v/mlchaos/seed").write_text("12345")  # every run writes a new seed
    (cluttered / "tests/chaos/test_recovery.py").write_text("# a new test\n")
    (cluttered / "dvc.lock").write_text((cluttered / "dvc.lock").read_text() + "\n")  # a local repro rewrote it
    (cluttered / "README.md").write_text("docs\n")
    assert DVCProject(cluttered).fingerprint() == before
    params = cluttered / "params.yaml"
    params.write_text(params.read_text().replace("n_est: 40", "n_est: 41"))
    changed = DVCProject(cluttered).fingerprint()
    assert changed != before
    data = cluttered / "data/data.xml"
    data.write_text(data.read_text().replace("python", "pyth0n", 1))
    assert DVCProject(cluttered).fingerprint() != changed


def test_the_build_copies_no_clutter_and_leaves_the_source_byte_identical(cluttered: Path, tmp_path: Path) -> None:
    from gallery_helpers import snapshot

    before = snapshot(cluttered)
    project = DVCProject(cluttered)
    root = tmp_path / "env"
    project.build(root)
    assert snapshot(cluttered) == before
    assert not (root / ".pytest_cache").exists() and not (root / ".venv").exists()
    assert not (root / "notes/ignored.log").exists() and not (root / "scratch").exists()
    assert not (root / ".dvc/config.local").exists()
    assert (root / "notes/todo.txt").is_file()
    assert sum(1 for _ in root.rglob("*")) < 400  # no copy of a copy of a copy
