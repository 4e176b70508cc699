"""A tiny pytest plugin for the benchmark (``-p _firsttest``): when did the first test body start?

Writes JSON to the file named by ``MLCHAOS_BENCH_FIRST``: wall-clock (``time.time()``) of session
start, of the first test's setup, and of the first test's call (after its fixtures, i.e. after
the baseline was built or loaded and the environment cloned and injected).
"""

from __future__ import annotations

import json
import os
import time

import pytest

_marks: dict[str, float] = {}


def _write() -> None:
    path = os.environ.get("MLCHAOS_BENCH_FIRST")
    if path:
        with open(path, "w") as fh:
            json.dump(_marks, fh)


def pytest_sessionstart(session: pytest.Session) -> None:
    _marks.setdefault("sessionstart", time.time())


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _marks.setdefault("first_setup", time.time())


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    if "first_call" not in _marks:
        _marks["first_call"] = time.time()
        _write()
