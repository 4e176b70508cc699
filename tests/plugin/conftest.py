from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def use_project(pytester: pytest.Pytester):
    """``use_project(spec, *ini_lines)``: a pytester whose ``mlchaos_project`` is ``spec`` (modules from tests/plugin)."""

    def use(spec: str, *ini: str) -> pytest.Pytester:
        lines = [f"mlchaos_project = {spec}", f"pythonpath = {HERE}", *ini]
        pytester.makeini("[pytest]\n" + "\n".join(lines) + "\n")
        return pytester

    return use


@pytest.fixture
def run_one_incident(pytester: pytest.Pytester, use_project):
    """``run_one_incident(spec, marker_args)``: ``pytest --mlchaos`` on one incident test that only has ``ml_env``."""

    def run(spec: str, marker: str = '"model_loss", mode="delete"', *args: str) -> pytest.RunResult:
        use_project(spec)
        pytester.makepyfile(f"""
            import pytest

            @pytest.mark.incident({marker})
            def test_it(ml_env):
                pass
            """)
        return pytester.runpytest("--mlchaos", *args)

    return run


@pytest.fixture
def chaos(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose project is the toy ML project (tests/plugin/toyml.py)."""
    pytester.makeini(f"[pytest]\nmlchaos_project = toyml:project\npythonpath = {HERE}\n")
    return pytester



# pytester's in-process runs drop modules first imported during the run; numpy's C core
# cannot be imported twice in one process, so import the heavy modules once, here.
import joblib  # noqa: E402,F401
import pandas  # noqa: E402,F401
import sklearn.linear_model  # noqa: E402,F401
import sklearn.metrics  # noqa: E402,F401


def _preload_pytest_plugins() -> None:
    """Import every installed pytest plugin once, so in-process pytester runs do not re-import them each time."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="pytest11"):
        try:
            entry.load()
        except Exception:  # a broken third-party plugin is not ours to test
            continue


_preload_pytest_plugins()
