"""Session template and per-test copies of the real environment described in ``mlchaos_testenv``."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest
from filelock import FileLock
from mlchaos_testenv import _build_template, dvc_env


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Built once per run: under pytest-xdist the workers share one, built by the first behind a file lock."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        base = tmp_path_factory.mktemp("incidents-template")
    else:
        base = tmp_path_factory.getbasetemp().parent / "incidents-template"
        base.mkdir(exist_ok=True)
    root = base / "env"
    with FileLock(str(base / "build.lock")):
        if not (base / "done").exists():
            with pytest.MonkeyPatch.context() as mp:
                dvc_env(mp, base)
                mp.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
                root.mkdir()
                _build_template(root)
            (base / "done").write_text("ok")
    yield root


@pytest.fixture
def env(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the template for one test (its own DVC site cache, nothing shared)."""
    root = tmp_path / "env"
    shutil.copytree(template, root, symlinks=True)
    dvc_env(monkeypatch, tmp_path)
    return root


@pytest.fixture
def make_env(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Fresh copies on demand, for comparing two injections."""
    dvc_env(monkeypatch, tmp_path)

    def make(name: str) -> Path:
        root = tmp_path / name
        shutil.copytree(template, root, symlinks=True)
        return root

    return make
