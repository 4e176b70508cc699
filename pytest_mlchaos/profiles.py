"""Hypothesis settings profiles for chaos fuzzing, registered (never loaded) on import.

Pick one on the command line::

    pytest --mlchaos --hypothesis-profile=mlchaos-ci scenarios/

- ``mlchaos-dev``: 20 examples, 10 stateful steps, no deadline; quick local runs.
- ``mlchaos-ci``: 50 examples, 10 stateful steps, no deadline, derandomised (the same
  examples on every run, so a red gate is reproducible; this also turns the example
  database off), one bug reported (after a first failure Hypothesis otherwise keeps
  searching for up to 10 s of wall-clock time, which makes the shrunk example depend on
  the machine's speed), and the failure blob printed.

Both skip Hypothesis's explain phase, which re-runs the failing example many times to
say which parts of it matter: with an environment per example it costs more than all
the shrinking (measured: 95% of a shrink's time). Both suppress only
``HealthCheck.too_slow``: every example clones an environment, which
is slow by Hypothesis's standards and expected here. The function-scoped-fixture health
check stays on: use the session-scoped ``ml_env_factory`` under ``@given``, not ``ml_env``.

Hypothesis loads ``--hypothesis-profile`` in its ``pytest_configure``, before test
modules are imported, so the profiles must be registered by then: ``import
pytest_mlchaos.profiles`` in the suite's root ``conftest.py``. (``register_profiles`` is
also shaped as a Hypothesis ``hypothesis`` entry point, which Hypothesis calls on import.)
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, settings

DEV = "mlchaos-dev"
CI = "mlchaos-ci"
PROFILES = (DEV, CI)
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)  # no Phase.explain

__all__ = ["CI", "DEV", "PHASES", "PROFILES", "register_profiles"]


def register_profiles() -> None:
    """Register ``mlchaos-dev`` and ``mlchaos-ci`` (idempotent); loading one is left to the user."""
    common: dict[str, Any] = dict(
        deadline=None, stateful_step_count=10, phases=PHASES, suppress_health_check=[HealthCheck.too_slow]
    )
    # explicit about every choice: a profile's parent is whatever profile is current at registration
    # (Hypothesis's own "ci" profile, derandomised, when it runs under CI)
    settings.register_profile(DEV, max_examples=20, derandomize=False, report_multiple_bugs=True, **common)
    settings.register_profile(
        CI, max_examples=50, derandomize=True, report_multiple_bugs=False, print_blob=True, **common
    )


register_profiles()
