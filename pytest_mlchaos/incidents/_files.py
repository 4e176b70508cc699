"""Helpers the built-in injectors share: target resolution, existence checks, atomic writes, mid-row cuts."""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from .registry import InjectionContext, Injector
from .spec import Incident, IncidentError

__all__ = [
    "RoleInjector",
    "count_for",
    "cut_point",
    "flip_bytes_in_place",
    "pick",
    "require_files",
    "restore_times",
    "write_atomic",
]


class RoleInjector(Injector):
    """An injector whose default target is the first file of an artifact role (``data``, ``models``)."""

    role: str = "data"

    def where(self) -> str:
        return f"incident {self.kind}/{self.mode}"

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        if incident.target is None:
            files = ctx.artifacts.role_paths(self.role)
            if not files:
                raise IncidentError(f"{self.where()}: this environment lists no {self.role} files; pass target=<path>")
            return [files[0]]
        paths = ctx.artifacts.role_paths(incident.target)
        return list(paths) if paths else [incident.target]


def require_files(where: str, paths: Iterable[Path], root: Path) -> None:
    """Raise IncidentError (before anything is touched) unless every path is an existing regular file."""
    for path in paths:
        if not path.is_file():
            rel = os.path.relpath(path, Path(root).resolve())
            state = "is not a regular file" if path.exists() else "does not exist"
            raise IncidentError(f"{where}: target {rel!r} {state}; the target must be an existing file")


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` through a temporary file (never writes through a hard link)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".mlchaos")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        mode = path.stat().st_mode & 0o777 if path.exists() else None
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cut_point(data: bytes, keep: float) -> int:
    """A byte offset near ``keep`` of ``data`` that falls inside a row, before its last field separator.

    What a writer killed mid-``write`` leaves: the last row is incomplete (fewer fields, no newline).
    Falls back to a plain byte offset for data without newlines (binary files).
    """
    size = len(data)
    if size < 2:
        raise IncidentError(f"cannot cut a file of {size} byte(s) mid-row")
    pos = min(max(1, int(size * keep)), size - 1)
    first_nl = data.find(b"\n")
    if first_nl == -1 or first_nl >= size - 1:
        return pos
    pos = max(pos, first_nl + 1)  # keep the header whole: a cut header is a different failure
    line_start = data.rfind(b"\n", 0, pos) + 1
    line_end = data.find(b"\n", line_start)
    line_end = size if line_end == -1 else line_end
    row = data[line_start:line_end]
    last_sep = max(row.rfind(b","), row.rfind(b"\t"), row.rfind(b";"))
    if last_sep <= 0:
        return min(max(line_start + 1, pos), max(line_start + 1, line_end - 1))
    # cut somewhere in [line_start + 1, line_start + last_sep]: the row loses at least its last field
    return min(max(pos, line_start + 1), line_start + last_sep)


def pick(rng: random.Random, population: Sequence[int] | range, k: int) -> list[int]:
    """``k`` distinct items, sorted (seeded)."""
    return sorted(rng.sample(population, k))


def count_for(fraction: float, n: int) -> int:
    """How many of ``n`` items a fraction hits: at least one when there is any."""
    if n <= 0:
        return 0
    return min(n, max(1, round(fraction * n)))


def restore_times(path: Path, st: os.stat_result) -> None:
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def flip_bytes_in_place(path: Path, rng: random.Random, flips: int, *, start: int = 0) -> list[int]:
    """Flip one bit in each of ``flips`` distinct bytes at or after ``start``, in place (same inode, same size)."""
    size = path.stat().st_size
    if size - start < flips:
        raise IncidentError(f"cannot flip {flips} byte(s) in {path.name}: it has only {size - start} byte(s) to flip")
    offsets = pick(rng, range(start, size), flips)
    with open(path, "r+b") as fh:
        for off in offsets:
            fh.seek(off)
            byte = fh.read(1)[0]
            fh.seek(off)
            fh.write(bytes([byte ^ (1 << rng.randrange(8))]))
    return offsets
