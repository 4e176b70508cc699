"""``pytest_mlchaos.retry``: backoff waits cut at a budget, what a retried step logs, the last error when every
try fails."""

from __future__ import annotations

import pytest

from pytest_mlchaos.retry import NO_RETRY, RetryLog, RetryPolicy, retrying


def test_waits_double_up_to_the_cap_and_stop_at_the_budget() -> None:
    assert RetryPolicy().waits() == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert RetryPolicy(attempts=10, first_wait=1.0, max_wait=4.0, budget=6.0).waits() == [1.0, 2.0]
    assert NO_RETRY.waits() == []


def test_a_bad_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="attempts >= 1"):
        RetryPolicy(attempts=0)


def test_a_step_that_succeeds_on_its_third_try_logs_it_and_its_waits() -> None:
    calls, slept, log = [], [], RetryLog()

    def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("refused")

    assert retrying("fetch", flaky, RetryPolicy(), log, sleep=slept.append) == 3
    assert slept == [0.25, 0.5] and log.waited == 0.75
    assert log.summary() == "waited 0.75s for services (fetch: succeeded on try 3)"


def test_every_try_failing_raises_the_last_error_and_says_it_gave_up() -> None:
    log, errors = RetryLog(), iter(ConnectionError(f"try {i}") for i in range(1, 10))

    def down() -> None:
        raise next(errors)

    with pytest.raises(ConnectionError, match="try 3"):
        retrying("fetch", down, RetryPolicy(attempts=3, first_wait=0.0), log, sleep=lambda _: None)
    assert log.lines == ["fetch: gave up after 3 tries"]


def test_a_first_try_success_logs_nothing() -> None:
    log = RetryLog()
    assert retrying("fetch", lambda: None, RetryPolicy(), log) == 1
    assert log.summary() == ""
