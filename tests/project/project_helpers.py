"""Helpers shared by the tests of the reference project (a uniquely named module, not ``conftest``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from project_under_test.dvcops import locked_outs, md5_file


def tree_digests(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` except git internals and DVC's scratch space."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith((".git/", ".dvc/tmp/")):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def bitflip(path: Path) -> None:
    """Flip one bit in the middle of a file, keeping its size and mtime (what ``dvc status`` cannot see)."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def assert_matches_lock(root: Path, lock: dict[str, str]) -> None:
    current = {rel: out.md5 for rel, out in locked_outs(root).items()}
    assert current == lock
    for rel, md5 in lock.items():
        assert md5_file(root / rel) == md5, rel
