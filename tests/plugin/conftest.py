from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def chaos(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose project is the toy ML project (tests/plugin/toyml.py)."""
    pytester.syspathinsert(HERE)
    pytester.makeini("[pytest]\nmlchaos_project = toyml:project\n")
    return pytester

