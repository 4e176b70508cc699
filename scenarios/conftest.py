"""The chaos suite's root conftest: registers the Hypothesis profiles before Hypothesis loads one.

``pytest --mlchaos --hypothesis-profile=mlchaos-ci scenarios/`` needs ``mlchaos-ci`` to exist
when Hypothesis's own ``pytest_configure`` runs, which is before any test module is imported.
"""

import pytest_mlchaos.profiles  # noqa: F401  (registers mlchaos-dev and mlchaos-ci)

import pytest

# The Hypothesis-driven modules run dozens of environments each (10-20 s a test). Started
# first, they overlap with the short scenarios under pytest-xdist instead of running alone
# at the end while the other workers idle (longest first is the classic fix for that tail).
LONG_FIRST = ("test_stateful.py", "test_fuzzing.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONG_FIRST.index(name) if name in LONG_FIRST else len(LONG_FIRST)

    items.sort(key=rank)  # stable: every other test keeps its place
