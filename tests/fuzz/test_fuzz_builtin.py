"""Fuzzing the built-in catalogue (data_corruption, model_loss) against the plugin tests' toy project."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, reject, settings

from pytest_mlchaos.env import Baseline, EnvFactory, build_baseline
from pytest_mlchaos.incidents import Incident, IncidentError, IncidentRegistry, builtin_registry
from pytest_mlchaos.profiles import PHASES
from pytest_mlchaos.strategies import incident_sequences

FILE_MODES = {"model_loss": ["delete", "corrupt", "truncate", "wrong_model"]}  # no MLflow registry in this project


def _toyml() -> ModuleType:
    """``tests/plugin/toyml.py`` (a CSV with a ``churn`` label, a joblib model, backups), imported once."""
    if "toyml" in sys.modules:
        return sys.modules["toyml"]
    spec = importlib.util.spec_from_file_location("toyml", Path(__file__).parents[1] / "plugin" / "toyml.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["toyml"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def builtin() -> IncidentRegistry:
    return builtin_registry()


@pytest.fixture(scope="session")
def toyml_baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    project = _toyml().ToyProject()
    return build_baseline(project, tmp_path_factory.mktemp("toyml") / "store", project.fingerprint())


def fuzz_builtin(factory: EnvFactory, registry: IncidentRegistry, available: dict,
                 seen: list[list[Incident]]) -> None:
    """50 examples of up to two file incidents; ``seen`` gets every example, the shrunk one last."""

    @settings(max_examples=50, deadline=None, derandomize=True, phases=PHASES, report_multiple_bugs=False,
              suppress_health_check=[HealthCheck.too_slow])
    @given(incident_sequences(registry=registry, modes={"data_corruption": registry.modes("data_corruption"), **FILE_MODES},
                              available=available, max_size=2))
    def recovery_holds(incidents: list[Incident]) -> None:
        seen.append(incidents)
        with factory() as env:
            try:
                for incident in incidents:
                    env.inject(incident)
            except IncidentError:
                reject()  # a drawn value this environment cannot take (e.g. more flips than bytes)
            outcome = env.verify()
        assert outcome.passed, f"{outcome.verdict.value}: {outcome.reason}"

    recovery_holds()


def test_the_built_in_catalogue_is_recovered_by_a_correct_manager(builtin, toyml_baseline, tmp_path: Path) -> None:
    factory = EnvFactory(_toyml().ToyProject("good"), toyml_baseline, builtin, tmp_path, seed=3)
    seen: list[list[Incident]] = []
    fuzz_builtin(factory, builtin, toyml_baseline.artifacts.available(), seen)
    assert len({i.label() for seq in seen for i in seq}) >= 8  # most file modes of both kinds came up


def test_the_built_in_catalogue_finds_a_manager_that_forgets_the_model(builtin, toyml_baseline, tmp_path: Path) -> None:
    factory = EnvFactory(_toyml().ToyProject("data_only"), toyml_baseline, builtin, tmp_path, seed=3)
    seen: list[list[Incident]] = []
    with pytest.raises(AssertionError, match="false_recovery"):
        fuzz_builtin(factory, builtin, toyml_baseline.artifacts.available(), seen)
    assert seen[-1] == [Incident("model_loss", "delete", seed=0)]  # shrunk to the one incident that defeats it
