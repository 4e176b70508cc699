"""Shared material for the foreign-project tests: the fixture repo built once per session, clones per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_mlchaos import progress
from pytest_mlchaos.dvc_project import DVCProject

_BUILD_STAGES: list[str] = []  # what the session's build of the fixture repo announced
FOREIGN = Path(__file__).resolve().parents[2] / "fixtures" / "foreign-dvc"


@pytest.fixture(scope="session")
def foreign_project() -> DVCProject:
    return DVCProject(FOREIGN)


@pytest.fixture(scope="session")
def foreign_built(foreign_project: DVCProject, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture repo built once (git, dvc, repro, push) into a session temp dir; tests never write it."""
    root = tmp_path_factory.mktemp("foreign-template") / "repo"
    with progress.listening(lambda stage, seconds: _BUILD_STAGES.append(stage)):
        foreign_project.build(root)
    return root


@pytest.fixture(scope="session")
def foreign_build_stages(foreign_built: Path) -> list[str]:
    """The stages the session's build of the fixture repo announced (``pytest_mlchaos.progress``)."""
    return list(_BUILD_STAGES)


@pytest.fixture
def foreign_env(foreign_project: DVCProject, foreign_built: Path, tmp_path: Path) -> Path:
    """A private copy of the built repo, relocated like the plugin's clones."""
    root = tmp_path / "env"
    shutil.copytree(foreign_built, root, symlinks=True)
    foreign_project.relocate(root, foreign_built)
    return root
