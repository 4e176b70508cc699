"""Driving DVC and git for a ``DVCProject``: a hermetic environment per call, md5 and object paths."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator



REMOTE_DIR = ".dvc-remote"
REMOTE_NAME = "mlchaos"
CACHE_DIR = ".dvc/cache"
LOCK_FILE = "dvc.lock"
SITE_DIR = ".dvc/tmp/mlchaos-site"  # DVC's site cache (state, index): inside the env, gitignored by DVC
DATA_SUFFIXES = (".csv", ".parquet")
MODEL_SUFFIXES = (".pkl", ".joblib")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_COPY_IGNORE = shutil.ignore_patterns(".git", ".dvc", REMOTE_DIR, "__pycache__", "*.pyc")
_GIT_ENV = {"GIT_AUTHOR_NAME": "mlchaos", "GIT_AUTHOR_EMAIL": "mlchaos@localhost",
            "GIT_COMMITTER_NAME": "mlchaos", "GIT_COMMITTER_EMAIL": "mlchaos@localhost"}
_GIT_REPO_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")


# -- driving DVC ------------------------------------------------------------------------------
@contextmanager
def dvc_environment(root: Path) -> Iterator[None]:
    """cwd = ``root`` and a hermetic DVC environment (site cache inside ``root``, no analytics,
    no user/system DVC config, this interpreter first on PATH for stage commands); restored after."""
    root = Path(root).resolve()
    changes = {
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(root / SITE_DIR),
        "DVC_GLOBAL_CONFIG_DIR": str(root / SITE_DIR / "global"),
        "DVC_SYSTEM_CONFIG_DIR": str(root / SITE_DIR / "system"),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        **_GIT_ENV,
    }
    saved = {key: os.environ.get(key) for key in (*changes, *_GIT_REPO_VARS)}
    cwd = os.getcwd()
    os.environ.update(changes)
    for key in _GIT_REPO_VARS:
        os.environ.pop(key, None)
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def open_repo(root: Path, rev: str | None = None) -> Iterator[Any]:
    """A fresh ``dvc.repo.Repo`` for ``root`` (at git revision ``rev``, else the workspace) inside
    ``dvc_environment``. Open a new one after files change: a ``Repo`` caches its index."""
    from dvc.repo import Repo

    with dvc_environment(root), warnings.catch_warnings():
        # DVC's own DeprecationWarnings (pygtrie's _NoneStep.value) are not the user's to fix
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"dvc(\.|$)")
        repo = Repo(str(Path(root).resolve()), rev=rev)
        try:
            yield repo
        finally:
            repo.close()


def _git_env() -> dict[str, str]:
    """The environment for git in an env root: our identity, and no GIT_DIR & co. (set by git hooks) leaking in."""
    return {**{k: v for k, v in os.environ.items() if k not in _GIT_REPO_VARS}, **_GIT_ENV}


def _git(root: Path, *args: str) -> str:
    env = _git_env()
    done = subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=root, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {root}: {done.stderr.strip()}")
    return done.stdout


def md5_file(path: Path) -> str:
    """md5 of a file's bytes, as DVC 3 records it in ``dvc.lock`` (``hash: md5``)."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def object_path(store: Path, md5: str) -> Path:
    """Where a DVC 3 cache or local remote keeps the object ``md5``."""
    return store / "files" / "md5" / md5[:2] / md5[2:]

def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
