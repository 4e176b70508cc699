"""Keeping chaos inside the environment: symbolic links that lead out of it."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["EscapeError", "check_contained", "escaping_symlinks"]


class EscapeError(RuntimeError):
    """The environment holds a symbolic link that resolves outside it; the message names every such link."""


def escaping_symlinks(root: Path) -> list[str]:
    """Each symbolic link under ``root`` whose target resolves outside it, as ``link -> target``.

    Dangling links count too: a write through one creates its target, wherever that is.
    """
    top = os.path.realpath(root)
    found = []
    for dirpath, dirnames, filenames in os.walk(top):  # a symlinked directory is listed, never entered
        for name in (*dirnames, *filenames):
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                continue
            target = os.path.realpath(path)
            if target != top and not target.startswith(top + os.sep):
                found.append(f"{os.path.relpath(path, top)} -> {os.readlink(path)}")
    return sorted(found)


def check_contained(root: Path, when: str) -> None:
    """Raise ``EscapeError`` naming the links when ``root`` holds a symlink that leads outside it."""
    links = escaping_symlinks(root)
    if links:
        raise EscapeError(
            f"{when}, the environment holds symbolic links that lead outside it: {'; '.join(links)}; "
            "recovery could write through them, so it "
            + ("did not run" if when.startswith("before") else "escaped the sandbox")
        )
