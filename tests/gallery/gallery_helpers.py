"""Helpers for the gallery tests: a user's clean clone of a gallery repository, a tree's bytes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

GALLERY = Path(__file__).resolve().parents[2] / "fixtures" / "gallery"
GIT_ENV = {"GIT_AUTHOR_NAME": "user", "GIT_AUTHOR_EMAIL": "user@example.com", "GIT_COMMITTER_NAME": "user",
           "GIT_COMMITTER_EMAIL": "user@example.com"}


def git(cwd: Path, *args: str) -> str:
    import os

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")}, **GIT_ENV}
    return subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=True).stdout


def clone(name: str, dest: Path) -> Path:
    """A user's clean clone of a gallery repository: the files committed to git, the dvc add-ed data present."""
    shutil.copytree(GALLERY / name, dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", f"clone of {name}")
    return dest


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of a tree (but .git, pytest's own cache and bytecode), with its bytes."""
    skip = {".git", ".pytest_cache", "__pycache__"}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not skip & set(p.relative_to(root).parts)}


def hostile_environ(elsewhere: Path) -> dict[str, str]:
    """What a user's shell may say that would send DVC, MLflow or git elsewhere: all of it must be ignored."""
    elsewhere.mkdir(parents=True, exist_ok=True)
    (elsewhere / "dvc-global").mkdir(exist_ok=True)
    (elsewhere / "dvc-global" / "config").write_text("[core]\n    remote = shared\n['remote \"shared\"']\n"
                                                     f"    url = {elsewhere / 'shared-remote'}\n[cache]\n"
                                                     f"    dir = {elsewhere / 'shared-cache'}\n")
    return {
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",  # nothing listens there: a contact would fail the build
        "MLFLOW_REGISTRY_URI": "http://127.0.0.1:9",
        "MLFLOW_EXPERIMENT_NAME": "someone-elses-experiment",
        "DVC_GLOBAL_CONFIG_DIR": str(elsewhere / "dvc-global"),
        "DVC_SITE_CACHE_DIR": str(elsewhere / "dvc-site"),
        "GIT_DIR": str(elsewhere / "not-a-repo.git"),
        "GIT_WORK_TREE": str(elsewhere),
    }
