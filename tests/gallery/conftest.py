"""Real DVC repositories in temp dirs: clean clones of the gallery, built once per session where shared."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest
from gallery_helpers import clone, hostile_environ

from pytest_mlchaos.dvc_project import DVCProject


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[DVCProject, Path]]:
    """``built(name)``: the gallery repository ``name`` cloned and built once per session (tests copy it)."""
    cache: dict[str, tuple[DVCProject, Path]] = {}

    def get(name: str) -> tuple[DVCProject, Path]:
        if name not in cache:
            base = tmp_path_factory.mktemp(f"gallery-{name}")
            project = DVCProject(clone(name, base / "src"))
            with pytest.MonkeyPatch.context() as mp:  # a shell that points DVC, MLflow and git elsewhere
                for key, value in hostile_environ(base / "elsewhere").items():
                    mp.setenv(key, value)
                project.build(base / "env")
            cache[name] = (project, base / "env")
        return cache[name]

    return get


@pytest.fixture
def env_of(built: Callable[[str], tuple[DVCProject, Path]], tmp_path: Path) -> Callable[[str], tuple[DVCProject, Path]]:
    """``env_of(name)``: a private, relocated copy of the built repository (as the plugin's clones are)."""

    def get(name: str) -> tuple[DVCProject, Path]:
        project, template = built(name)
        root = tmp_path / name
        shutil.copytree(template, root, symlinks=True)
        project.relocate(root, template)
        return project, root

    return get
