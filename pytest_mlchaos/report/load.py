"""Reading a report file back: JSON of schema ``mlchaos-report/2``, or one clear error naming the file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .document import SCHEMA

__all__ = ["ReportFileError", "load_report"]


class ReportFileError(ValueError):
    """A report file that cannot be used; the message names the file and what is wrong, on one line."""


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The report in ``path``; ``ReportFileError`` when it is missing, not JSON, or not ``mlchaos-report/2``."""
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportFileError(f"{name}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportFileError(f"{name}: cannot read it: {type(exc).__name__}: {exc}") from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportFileError(f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    found = data.get("schema") if isinstance(data, dict) else None
    if found != SCHEMA:
        what = f"its schema is {found!r}" if isinstance(data, dict) and "schema" in data else "it has no 'schema' field"
        raise ReportFileError(f"{name}: not an mlchaos report ({what}; expected {SCHEMA!r})")
    for key, kind in (("run", dict), ("summary", dict), ("incidents", list)):
        if not isinstance(data.get(key), kind):
            raise ReportFileError(f"{name}: a {SCHEMA} report without a valid {key!r} ({kind.__name__} expected)")
    if not all(isinstance(r, dict) and isinstance(r.get("nodeid"), str) for r in data["incidents"]):
        raise ReportFileError(f"{name}: a {SCHEMA} report whose 'incidents' are not records with a 'nodeid'")
    report: dict[str, Any] = data
    return report
