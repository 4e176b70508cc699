"""A ``ChaosMachine`` on the reference project: incidents, recoveries and incidents striking mid-recovery, interleaved.

The machine keeps one environment across rounds (a fresh one after an honest "cannot
recover"), so each round starts from whatever the previous recovery left behind. Its
invariants: every recovery passes the plugin's verdict, nothing outside the environment
root changes, and the served model loads whenever no incident is pending. This suite adds
one more: with no incident pending, the project's own checks find nothing.

Only fast, recoverable file-level damage is drawn (as in ``test_fuzzing.py``).
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import settings
from hypothesis.stateful import invariant

from pytest_mlchaos.env import ChaosEnv
from pytest_mlchaos.fixtures import chaos_session
from pytest_mlchaos.profiles import PHASES
from pytest_mlchaos.stateful import ChaosMachine

pytestmark = pytest.mark.skipif("not config.getoption('mlchaos')", reason="chaos fuzzing runs only with --mlchaos")

INCIDENTS = {
    "kinds": ["data_corruption", "model_loss", "storage_loss"],
    "modes": {
        "data_corruption": ["noise", "missing_values", "duplicates", "label_flip", "schema_drift", "truncate",
                            "bitflip", "delete", "stale_version"],
        "model_loss": ["delete", "corrupt", "truncate", "wrong_model"],
        "storage_loss": ["dvc_cache_corruption", "dvc_cache_loss", "dvc_remote_loss", "backup_loss",
                         "mlflow_store_corruption"],
    },
    "max_severity": 0.5,
}
STATEFUL = settings(max_examples=6, stateful_step_count=6, deadline=None, derandomize=True, phases=PHASES,
                    report_multiple_bugs=False)


class ReferenceMachine(ChaosMachine):
    """The generic machine, counting its rounds, plus a clean-bill-of-health invariant."""

    incident_options = INCIDENTS
    max_pending = 2
    accept_unrecovered = False  # every drawn incident is one the reference project is meant to recover
    rounds: Counter[str] = Counter()

    def make_env(self) -> ChaosEnv:
        env = super().make_env()
        env.on_injected.append(self._count_injection)
        env.on_recovered.append(self._count_recovery)
        return env

    @classmethod
    def _count_injection(cls, env: ChaosEnv, incident: object) -> None:
        # A recovery result already in place means this incident struck while the round was recovering.
        cls.rounds["struck during recovery" if env.recovery is not None else "injected"] += 1

    @classmethod
    def _count_recovery(cls, env: ChaosEnv, result: object) -> None:
        cls.rounds[f"recovery of {len(env.incidents)} incident(s)"] += 1

    @invariant()
    def the_projects_checks_find_nothing_between_rounds(self) -> None:
        if not self.env.incidents:
            problems = self.env.detect()
            assert not problems, f"after recovery the project's own checks still report: {'; '.join(problems)}"


def test_interleaved_incidents_and_recoveries_keep_the_project_healthy(pytestconfig, ml_env_factory):
    ReferenceMachine.rounds.clear()
    run = chaos_session(pytestconfig).settings
    ReferenceMachine.run(ml_env_factory, settings=STATEFUL, thresholds=run.thresholds, strict=run.strict)
    assert ReferenceMachine.rounds["struck during recovery"] > 0, f"no incident struck during a recovery: {ReferenceMachine.rounds}"
