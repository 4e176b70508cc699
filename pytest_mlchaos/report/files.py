"""Writing reports: a start-up check that the path is writable, and atomic writes of the JSON and Markdown."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .document import jsonable
from .html import render_html
from .render import render_markdown

__all__ = ["ReportPathError", "atomic_write_text", "check_writable", "dumps", "write_json", "write_markdown"]


class ReportPathError(ValueError):
    """A report path that cannot be written; the message names the option and the path."""


# -- writing ---------------------------------------------------------------------------------------


def _nearest_existing(path: Path) -> Path:
    current = path
    while not current.exists() and not current.is_symlink():
        if current.parent == current:
            break
        current = current.parent
    return current


def check_writable(path: str | os.PathLike[str], option: str) -> None:
    """Raise ``ReportPathError`` naming ``option`` and ``path`` unless a report can be written there.

    Checked at start-up and leaves nothing behind: a probe file, if one is made, is removed.
    """
    text = os.fspath(path)
    if not str(text).strip():
        raise ReportPathError(f"{option}: the path is empty; give a file path such as mlchaos-report.json")
    target = Path(text).expanduser()
    if target.is_dir():
        raise ReportPathError(f"{option}={text}: is a directory; give a file path inside it")
    ancestor = _nearest_existing(target.parent)
    if not ancestor.is_dir():
        raise ReportPathError(f"{option}={text}: cannot create it, because {ancestor} is a file, not a directory")
    if target.exists() and not os.access(target, os.W_OK):
        raise ReportPathError(f"{option}={text}: the file exists and is not writable")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ReportPathError(f"{option}={text}: directory {ancestor} is not writable")
    try:
        fd, probe = tempfile.mkstemp(dir=ancestor, prefix=".mlchaos-probe-")
    except OSError as exc:
        raise ReportPathError(f"{option}={text}: cannot create a file in {ancestor} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` all at once: a temp file in the same directory, then ``os.replace``.

    Parent directories are created. A reader sees the old file or the new one, never half of
    one; on error the temp file is removed and the old file is left as it was.
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = (target.stat().st_mode & 0o7777) if target.exists() else (0o666 & ~_umask())
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def dumps(report: Mapping[str, Any]) -> str:
    """The report as strict JSON text (no NaN or Infinity), indented, with a final newline."""
    import json

    return json.dumps(jsonable(report), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(report: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the report as JSON, atomically."""
    return atomic_write_text(path, dumps(report))


def write_markdown(report: Mapping[str, Any], path: str | os.PathLike[str], *, append: bool = False) -> Path:
    """Write the Markdown summary, atomically; ``append=True`` keeps what the file held (e.g. a step summary)."""
    text = render_markdown(report)
    target = Path(path).expanduser()
    if append and target.is_file():
        old = target.read_text(encoding="utf-8")
        if old and not old.endswith("\n"):
            old += "\n"
        text = old + ("\n" if old else "") + text
    return atomic_write_text(target, text)


def write_html(report: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the self-contained HTML page, atomically."""
    return atomic_write_text(path, render_html(report))
