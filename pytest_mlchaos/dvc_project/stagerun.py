"""Running one stage of a ``DVCProject`` as ``dvc repro`` does, through the failpoints of pipeline incidents.

``dvc repro`` write-locks a stage's outs (``.dvc/tmp/rwlock``), removes them, runs the command, and
saves the lock. So an injected failure leaves what the real one leaves:

- at the start (a crash, an OOM kill, a hang stopped by a watchdog): the outs gone and the rwlock
  still held by the dead run;
- while writing (the disk filled up): the outs partly written, cut mid-file; DVC reported the
  failure and released its lock.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import failpoints
from .damage import _dir_entries
from .layout import Layout, Out, Stage
from .recovery import reproduce
from .repo import CACHE_DIR, _remove, object_path

__all__ = ["RWLOCK", "run_stage"]

RWLOCK = ".dvc/tmp/rwlock"


def _dead_pid() -> int:
    """The PID of a process that has just exited (as a killed ``dvc repro``'s is)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@contextmanager
def _write_locked(root: Path, stage: Stage) -> Iterator[dict[str, bool]]:
    """Hold the stage's outs in DVC's rwlock as a running ``repro`` does; on a kill the entry stays behind."""
    path = root / RWLOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    info: dict[str, object] = {"pid": _dead_pid(), "cmd": f"dvc repro {stage.name}"}
    state = {"read": {}, "write": {str((root / out).resolve()): info for out in stage.outs}}
    path.write_text(json.dumps(state))
    outcome = {"killed": False}
    try:
        yield outcome
    finally:
        if not outcome["killed"]:
            path.write_text(json.dumps({"read": {}, "write": {}}))


def _partial(root: Path, out: Out) -> list[str]:
    """Write the first part of ``out`` as the stage would have (its bytes from the cache), cut mid-file."""
    written: list[str] = []
    if out.md5 is None:
        return written
    if out.is_dir:
        entries = _dir_entries(root, out.md5) or []
        for i, entry in enumerate(entries[: max(1, len(entries) // 2 + 1)]):
            obj = object_path(root / CACHE_DIR, entry["md5"])
            if obj.is_file():
                data = obj.read_bytes()
                keep = data if i < len(entries) // 2 else data[: len(data) // 2]
                target = root / out.path / entry["relpath"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(keep)
                written.append(f"{out.path}/{entry['relpath']}")
        return written
    obj = object_path(root / CACHE_DIR, out.md5)
    if obj.is_file():
        data = obj.read_bytes()
        (root / out.path).parent.mkdir(parents=True, exist_ok=True)
        (root / out.path).write_bytes(data[: len(data) // 2])
        written.append(out.path)
    return written


def run_stage(root: Path, layout: Layout, name: str) -> None:
    """Run stage ``name`` alone (forced), as ``dvc repro`` would; an armed failpoint fails it the real way."""
    stage = layout.stage(name)
    with _write_locked(root, stage) as lock:
        for rel in stage.outs:
            _remove(root / rel)
        try:
            failpoints.hit(root, name)
        except BaseException:
            lock["killed"] = True  # the run died with its lock held
            raise
        try:
            failpoints.hit(root, name, "write")
        except BaseException:
            for out in layout.outs:
                if out.stage == name:
                    _partial(root, out)
            raise
    reproduce(root, stage.target, single_item=True, force=True)
