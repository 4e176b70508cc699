"""Hypothesis fuzzing of the reference project's recovery: drawn incidents and compound incidents.

Each example gets a fresh clone from ``ml_env_factory`` (session scoped, so safe under
``@given``), is recovered by the project's own recovery manager and judged by the plugin
(``env.verify`` with the suite's thresholds). A failure prints Hypothesis's minimal example
and the ``@pytest.mark.incident`` lines that replay it.

Only fast, recoverable file-level damage is drawn: data corruption, model file loss and
storage loss. Registry-level model loss and pipeline failures (``hang`` sleeps) are covered
by the hand-written scenarios.
"""

from __future__ import annotations

import pytest
from hypothesis import given, reject, settings

from pytest_mlchaos.fixtures import chaos_session
from pytest_mlchaos.incidents import IncidentError
from pytest_mlchaos.profiles import PHASES
from pytest_mlchaos.strategies import incident_sequences, incidents, replay_lines

pytestmark = pytest.mark.skipif("not config.getoption('mlchaos')", reason="chaos fuzzing runs only with --mlchaos")

KINDS = ["data_corruption", "model_loss", "storage_loss"]
MODES = {
    "data_corruption": ["noise", "missing_values", "duplicates", "label_flip", "schema_drift", "truncate", "bitflip",
                        "delete", "stale_version"],
    "model_loss": ["delete", "corrupt", "truncate", "wrong_model"],
    "storage_loss": ["dvc_cache_corruption", "dvc_cache_loss", "dvc_remote_loss", "backup_loss",
                     "mlflow_store_corruption"],
}
FUZZ = settings(max_examples=8, deadline=None, derandomize=True, phases=PHASES, report_multiple_bugs=False)


def verify_drawn(pytestconfig: pytest.Config, factory, drawn) -> None:
    """Inject ``drawn`` into a fresh environment, recover, and assert the plugin's verdict passes."""
    run = chaos_session(pytestconfig).settings
    with factory() as env:
        try:
            for incident in drawn:
                env.inject(incident)
        except IncidentError:
            reject()  # a drawn value this environment cannot take (e.g. more flips than bytes)
        outcome = env.verify(run.thresholds, strict=run.strict)
    assert outcome.passed, (f"{outcome.verdict.value}: {outcome.reason}"
                            + (f"; problems: {'; '.join(outcome.problems)}" if outcome.problems else "")
                            + "\n" + replay_lines(outcome.incidents))


@FUZZ
@given(drawn=incidents(kinds=KINDS, modes=MODES))
def test_any_single_incident_is_recovered(pytestconfig, ml_env_factory, drawn):
    verify_drawn(pytestconfig, ml_env_factory, [drawn])


@FUZZ
@given(drawn=incident_sequences(kinds=KINDS, modes=MODES, min_size=2, max_size=3, max_severity=0.5))
def test_compound_incidents_are_recovered(pytestconfig, ml_env_factory, drawn):
    verify_drawn(pytestconfig, ml_env_factory, drawn)
