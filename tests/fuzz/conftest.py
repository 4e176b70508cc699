"""Session fixtures of the fuzzing tests: one toy baseline, and environment factories per recovery manager."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

import pytest_mlchaos.profiles  # noqa: F401  (so that --hypothesis-profile=mlchaos-ci works for this folder)
from pytest_mlchaos.env import Baseline, EnvFactory, build_baseline
from pytest_mlchaos.incidents import IncidentRegistry

from .toyincidents import toy_registry
from .toyproject import Recovery, ToyProject, backup_recovery

MakeFactory = Callable[..., EnvFactory]


@pytest.fixture(scope="session", autouse=True)
def hypothesis_home_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis caches constants (and examples) under ./.hypothesis of the checkout by default: not here."""
    from hypothesis import configuration

    saved = getattr(configuration, "__hypothesis_home_directory")
    configuration.set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis-home"))
    yield
    configuration.set_hypothesis_home_dir(saved)


@pytest.fixture(scope="session")
def toy_registry_() -> IncidentRegistry:
    return toy_registry()


@pytest.fixture(scope="session")
def toy_baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """The toy project built once per session (the recovery manager plays no part in the build)."""
    project = ToyProject()
    return build_baseline(project, tmp_path_factory.mktemp("toy-baseline") / "store", project.fingerprint())


@pytest.fixture(scope="session")
def make_factory(tmp_path_factory: pytest.TempPathFactory, toy_baseline: Baseline,
                 toy_registry_: IncidentRegistry) -> MakeFactory:
    """``make_factory(recovery)``: an ``EnvFactory`` of fresh toy environments using that recovery manager."""

    def make(recovery: Recovery = backup_recovery, registry: IncidentRegistry | None = None) -> EnvFactory:
        base: Path = tmp_path_factory.mktemp("toy-envs")
        return EnvFactory(ToyProject(recovery), toy_baseline, registry or toy_registry_, base, seed=1234)

    return make
