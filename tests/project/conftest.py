"""One real environment (git, DVC, MLflow, scikit-learn) per session; each test gets its own copy."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from project_under_test.chaos import project as churn_project
from project_under_test.dvcops import locked_outs, md5_file


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The environment built by the adapter (same as ``mlops init`` with defaults), never modified by tests."""
    root = tmp_path_factory.mktemp("template") / "env"
    churn_project.build(root)
    return root


@pytest.fixture(scope="session")
def baseline_metrics(template: Path) -> dict[str, float]:
    return churn_project.evaluate(template)


@pytest.fixture(scope="session")
def baseline_lock(template: Path) -> dict[str, str]:
    return {rel: out.md5 for rel, out in locked_outs(template).items()}


@pytest.fixture
def env(template: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the template, relocated (the MLflow database's absolute paths rewritten)."""
    root = tmp_path / "env"
    shutil.copytree(template, root, symlinks=True)
    churn_project.relocate(root, template)
    cwd = os.getcwd()
    yield root
    assert os.getcwd() == cwd, "an operation left the working directory changed"


def tree_digests(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` except git internals and DVC's scratch space."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith((".git/", ".dvc/tmp/")):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def bitflip(path: Path) -> None:
    """Flip one bit in the middle of a file, keeping its size and mtime (what ``dvc status`` cannot see)."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def assert_matches_lock(root: Path, lock: dict[str, str]) -> None:
    current = {rel: out.md5 for rel, out in locked_outs(root).items()}
    assert current == lock
    for rel, md5 in lock.items():
        assert md5_file(root / rel) == md5, rel
