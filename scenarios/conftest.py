"""The chaos suite's root conftest: registers the Hypothesis profiles before Hypothesis loads one.

``pytest --mlchaos --hypothesis-profile=mlchaos-ci scenarios/`` needs ``mlchaos-ci`` to exist
when Hypothesis's own ``pytest_configure`` runs, which is before any test module is imported.
"""

import pytest_mlchaos.profiles  # noqa: F401  (registers mlchaos-dev and mlchaos-ci)
