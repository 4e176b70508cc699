"""Logging: one handler on the package logger, set up once by the command line."""

from __future__ import annotations

import logging

LOGGER_NAME = "project_under_test"


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}")


def setup(verbose: bool = False) -> None:
    """Attach a single stderr handler to the package logger (idempotent)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not any(getattr(h, "_mlops", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._mlops = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
