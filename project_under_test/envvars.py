"""Environment variables set for one block and put back after (DVC and MLflow read theirs from ``os.environ``)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterable, Iterator, Mapping


@contextmanager
def scoped_environ(values: Mapping[str, str] | None = None, unset: Iterable[str] = ()) -> Iterator[None]:
    """Set ``values`` and remove ``unset`` for the block; afterwards every touched variable is as it was."""
    values = dict(values or {})
    unset = tuple(unset)
    saved = {key: os.environ.get(key) for key in (*values, *unset)}
    for key in unset:
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
