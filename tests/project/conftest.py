"""One real environment (git, DVC, MLflow, scikit-learn) per session; each test gets its own copy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from project_under_test.chaos import project as churn_project
from project_under_test.dvcops import locked_outs


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


@pytest.fixture(scope="session")
def churn_baseline(template: Path, baseline_metrics: dict[str, float]):
    """The template as the plugin sees a baseline: its manifest (artifacts, stores, registry) and metrics."""
    from pytest_mlchaos.env import Baseline
    from pytest_mlchaos.manifest import take_manifest

    artifacts = churn_project.artifacts(template)
    return Baseline(template, "tests", dict(baseline_metrics), take_manifest(template, artifacts), artifacts)
