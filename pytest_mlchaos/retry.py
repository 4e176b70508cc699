"""Retries with exponential backoff, for recovery steps that reach a service (an S3 remote).

A step is tried, then tried again after ``first_wait`` seconds, each wait ``factor`` times the last,
at most ``max_wait``, and never more than ``budget`` seconds of waiting in all: a recovery under an
outage that does not end still ends, and moves on to its next fallback. The waits happen inside the
recovery, so they count in its MTTR.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["DEFAULT_RETRY", "NO_RETRY", "RetryLog", "RetryPolicy", "retrying"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often a step is tried and how long it waits between tries (see the module docstring)."""

    attempts: int = 6
    first_wait: float = 0.25
    factor: float = 2.0
    max_wait: float = 2.0
    budget: float = 6.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.first_wait < 0 or self.factor < 1 or self.max_wait < 0 or self.budget < 0:
            raise ValueError(f"{self!r}: attempts >= 1, factor >= 1 and non-negative waits are required")

    def waits(self) -> list[float]:
        """The waits between tries, in order (one fewer than the tries, cut at the budget)."""
        out: list[float] = []
        wait, total = self.first_wait, 0.0
        for _ in range(self.attempts - 1):
            wait = min(wait, self.max_wait)
            if total + wait > self.budget:
                break
            out.append(wait)
            total += wait
            wait *= self.factor
        return out


NO_RETRY = RetryPolicy(attempts=1)
DEFAULT_RETRY = RetryPolicy()  # 0.25 s doubling, at most 2 s a wait and 6 s of waiting in all


@dataclass
class RetryLog:
    """What the retries of one recovery did: seconds waited in all, and a line per retried step."""

    waited: float = 0.0
    lines: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """``"waited 1.75s for services (step: succeeded on try 4)"``, or "" when nothing was retried."""
        if not self.lines:
            return ""
        return f"waited {self.waited:.2f}s for services ({'; '.join(self.lines)})"


def retrying(
    what: str,
    action: Callable[[], None],
    policy: RetryPolicy,
    log: RetryLog,
    sleep: Callable[[float], None] = time.sleep,
    permanent: tuple[type[Exception], ...] = (),
) -> int:
    """Run ``action`` until it returns, waiting by ``policy`` between tries; the number of tries. Each retried
    step adds a line to ``log`` (and its waits to ``log.waited``); when every try fails the last error is
    raised, and an error of a ``permanent`` type (an answer that no retry can change) is raised at once."""
    tries = 0
    for wait in [*policy.waits(), None]:
        tries += 1
        try:
            action()
        except Exception as exc:
            if isinstance(exc, permanent):
                log.lines.append(f"{what}: failed on try {tries}, not worth another ({type(exc).__name__})")
                raise
            if wait is None:
                log.lines.append(f"{what}: gave up after {tries} tries")
                raise
            sleep(wait)
            log.waited += wait
            continue
        if tries > 1:
            log.lines.append(f"{what}: succeeded on try {tries}")
        return tries
    raise AssertionError("unreachable")  # pragma: no cover
