"""Failpoints: how pipeline incidents make a real stage fail inside a system under test.

A pipeline injector arms a failpoint by writing ``<root>/.mlchaos/failpoints.json``; the
system's stage runner calls :func:`hit` at the start of each stage (and, for stages
that write outputs, :func:`hit` with ``point="write"`` just before writing). Stdlib only,
so a project can call it without importing pytest or the plugin's heavy parts.

File format: ``{"<stage>": {"action": "raise"|"hang"|"enospc", "point": "start"|"write",
"seconds": float, "persistent": bool, "message": str}}``. A failpoint that is not
``persistent`` fires once and disarms itself.
"""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["ACTIONS", "FAILPOINTS_FILE", "POINTS", "StageFailure", "StageTimeout", "arm", "armed", "disarm", "hit"]

FAILPOINTS_FILE = ".mlchaos/failpoints.json"
ACTIONS = ("raise", "hang", "enospc")
POINTS = ("start", "write")


class StageFailure(RuntimeError):
    """A stage made to fail by an armed failpoint."""


class StageTimeout(StageFailure, TimeoutError):
    """A stage that hung past its timeout (the watchdog gave up on it)."""


def _path(root: Path | str) -> Path:
    return Path(root) / FAILPOINTS_FILE


def armed(root: Path | str) -> dict[str, dict[str, Any]]:
    """The armed failpoints of an environment (empty when none)."""
    path = _path(root)
    try:
        points: dict[str, dict[str, Any]] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return points


def arm(
    root: Path | str,
    stage: str,
    action: str,
    *,
    point: str = "start",
    seconds: float = 0.0,
    persistent: bool = False,
    message: str = "",
) -> None:
    if action not in ACTIONS:
        raise ValueError(f"failpoint action {action!r} is not one of {', '.join(ACTIONS)}")
    if point not in POINTS:
        raise ValueError(f"failpoint point {point!r} is not one of {', '.join(POINTS)}")
    points = armed(root)
    points[stage] = {"action": action, "point": point, "seconds": seconds, "persistent": persistent, "message": message}
    _write(root, points)


def disarm(root: Path | str, stage: str | None = None) -> None:
    """Disarm one stage's failpoint, or all of them."""
    points = armed(root)
    if stage is None:
        points.clear()
    else:
        points.pop(stage, None)
    _write(root, points)


def _write(root: Path | str, points: dict[str, Any]) -> None:
    path = _path(root)
    if not points:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(points, indent=1, sort_keys=True))
    os.replace(tmp, path)


def hit(root: Path | str, stage: str, point: str = "start") -> None:
    """Called by a stage runner; raises if a failpoint is armed for ``stage`` at ``point``."""
    spec = armed(root).get(stage)
    if not spec or spec.get("point", "start") != point:
        return
    if not spec.get("persistent", False):
        disarm(root, stage)
    action = spec.get("action")
    message = spec.get("message") or f"stage {stage!r} failed (injected by mlchaos)"
    if action == "hang":
        time.sleep(float(spec.get("seconds", 0.0)))
        raise StageTimeout(f"stage {stage!r} hung for {spec.get('seconds')}s and was stopped by its timeout")
    if action == "enospc":
        raise OSError(errno.ENOSPC, f"No space left on device while stage {stage!r} wrote its output")
    raise StageFailure(message)
