"""The few git operations the system needs, through the ``git`` command (a few ms each)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_IDENTITY = {"GIT_AUTHOR_NAME": "mlops", "GIT_AUTHOR_EMAIL": "mlops@localhost",
             "GIT_COMMITTER_NAME": "mlops", "GIT_COMMITTER_EMAIL": "mlops@localhost"}


class GitError(RuntimeError):
    """A git command that failed; the message has its stderr."""


# Set by git hooks and some CI runners; left in place they would point our git calls at another repository.
REPO_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
            "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in REPO_ENV}


def git(root: Path, *args: str, check: bool = True) -> str:
    env = {**clean_env(), **_IDENTITY, "GIT_TERMINAL_PROMPT": "0"}
    proc = subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args], cwd=root,
                          env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {root}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def init(root: Path) -> None:
    git(root, "init", "-q", "-b", "main")


def commit_all(root: Path, message: str) -> str | None:
    """Stage everything git does not ignore and commit; returns the new HEAD (None when nothing changed)."""
    git(root, "add", "-A")
    if not git(root, "status", "--porcelain"):
        return None
    git(root, "commit", "-q", "-m", message)
    return head(root)


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def show(root: Path, commit: str, rel: str) -> bytes:
    env = {**clean_env(), "GIT_TERMINAL_PROMPT": "0"}
    proc = subprocess.run(["git", "show", f"{commit}:{rel}"], cwd=root, env=env, capture_output=True)
    if proc.returncode != 0:
        raise GitError(f"{rel} is not in commit {commit[:12]}: {proc.stderr.decode().strip()}")
    return proc.stdout


def tracked(root: Path) -> set[str]:
    return set(git(root, "ls-files").splitlines())


def tag_exists(root: Path, tag: str) -> bool:
    return bool(git(root, "tag", "--list", tag).strip())


def tag(root: Path, tag_name: str, commit: str) -> None:
    git(root, "tag", tag_name, commit)
