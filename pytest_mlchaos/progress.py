"""Progress of long work (a baseline build): each stage announced once, to whoever listens. No pytest import.

A project's ``build`` may call ``stage("training the model")`` between its steps; the plugin listens while it
builds a baseline and prints one line per stage (nothing under ``-q``). Without a listener ``stage`` does nothing,
so the same code runs quietly outside pytest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["listening", "stage"]


@dataclass
class _Listener:
    callback: Callable[[str, float], None]
    started: float = field(default_factory=time.perf_counter)
    seen: set[str] = field(default_factory=set)


_LISTENER: ContextVar[_Listener | None] = ContextVar("mlchaos_progress", default=None)


def stage(name: str) -> None:
    """Announce that the work has reached ``name`` (once: a stage named again is not announced again)."""
    listener = _LISTENER.get()
    if listener is None or name in listener.seen:
        return
    listener.seen.add(name)
    listener.callback(name, time.perf_counter() - listener.started)


@contextmanager
def listening(callback: Callable[[str, float], None]) -> Iterator[None]:
    """Within the block, ``stage(name)`` calls ``callback(name, seconds since the block began)``."""
    token = _LISTENER.set(_Listener(callback))
    try:
        yield
    finally:
        _LISTENER.reset(token)
