"""Fuzzing through the plugin: ml_env_factory under @given, with incident kinds a conftest registers via the hook."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent

CONFTEST = """
import pytest

import pytest_mlchaos.profiles  # noqa: F401
from toy.toyincidents import toy_registry
from toy.toyproject import ToyProject, backup_recovery, size_blind_recovery

RECOVERY = {"good": backup_recovery, "size_blind": size_blind_recovery}


def pytest_addoption(parser):
    parser.addoption("--toy-recovery", default="good")


@pytest.fixture(scope="session")
def mlchaos_project(pytestconfig):
    return ToyProject(RECOVERY[pytestconfig.getoption("--toy-recovery")])


def pytest_mlchaos_register_incidents(registry):
    for injector in toy_registry():
        registry.register(injector)
"""

TEST = """
from hypothesis import given, settings

from pytest_mlchaos.profiles import PHASES
from pytest_mlchaos.strategies import incident_sequences


@settings(max_examples=25, derandomize=True, report_multiple_bugs=False, deadline=None, phases=PHASES)
@given(incident_sequences(kinds=["toy_data", "toy_model"], max_size=2))  # the session's registry: toy kinds from the hook
def test_recovery_holds(ml_env_factory, incidents):
    with ml_env_factory(incidents) as env:
        outcome = env.verify()
    assert outcome.passed, outcome.reason
"""


@pytest.fixture(scope="session")
def toy_imports() -> None:
    """Import the toy's C-extension dependencies before pytester snapshots ``sys.modules``.

    Pytester's in-process runs unload what they import, and numpy cannot load twice in a process.
    """
    import joblib  # noqa: F401
    import numpy  # noqa: F401
    import sklearn.linear_model  # noqa: F401


@pytest.fixture
def suite(toy_imports: None, pytester: pytest.Pytester) -> pytest.Pytester:
    toy = pytester.mkpydir("toy")
    for name in ("toyproject.py", "toyincidents.py"):
        (toy / name).write_text((HERE / name).read_text())
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_fuzz_through_plugin=TEST)
    pytester.syspathinsert()
    return pytester


def test_given_with_ml_env_factory_passes_against_a_correct_recovery(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-p", "no:cacheprovider", "--mlchaos")
    result.assert_outcomes(passed=1)


def test_given_with_ml_env_factory_finds_the_size_blind_recovery_and_prints_the_replay(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-p", "no:cacheprovider", "--mlchaos", "--toy-recovery=size_blind")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*false recovery: the recovery manager reported success, but the damage is still there*",
        "*mlchaos replay (run with pytest --mlchaos):",
        "*@pytest.mark.incident('toy_data', mode='bitflip', n_bytes=1, seed=0)",
    ])
