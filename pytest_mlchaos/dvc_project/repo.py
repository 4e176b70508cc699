"""Driving DVC and git for a ``DVCProject``: a hermetic environment per call, md5 and object paths."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "CACHE_DIR",
    "DATA_SUFFIXES",
    "LOCK_FILE",
    "MLFLOW_ARTIFACTS",
    "MLFLOW_DB",
    "MLFLOW_DIR",
    "MODEL_SUFFIXES",
    "REMOTE_DIR",
    "REMOTE_NAME",
    "SITE_DIR",
    "captured_output",
    "dvc_environment",
    "git_env",
    "hermetic_environ",
    "object_path",
    "open_repo",
    "tail",
]

REMOTE_DIR = ".dvc-remote"
REMOTE_NAME = "mlchaos"
CACHE_DIR = ".dvc/cache"
LOCK_FILE = "dvc.lock"
SITE_DIR = ".dvc/tmp/mlchaos-site"  # DVC's site cache (state, index): inside the env, gitignored by DVC
MLFLOW_DIR = ".mlchaos-mlflow"  # the env's own MLflow store (sqlite + artifacts), gitignored
MLFLOW_DB = f"{MLFLOW_DIR}/mlflow.db"
MLFLOW_ARTIFACTS = f"{MLFLOW_DIR}/artifacts"
DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson", ".xml", ".arff", ".feather")
MODEL_SUFFIXES = (".pkl", ".pickle", ".joblib", ".skops")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "mlchaos",
    "GIT_AUTHOR_EMAIL": "mlchaos@localhost",
    "GIT_COMMITTER_NAME": "mlchaos",
    "GIT_COMMITTER_EMAIL": "mlchaos@localhost",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}
# Variables of the user's shell that would point DVC, MLflow or git somewhere else: never passed on.
_FOREIGN_PREFIXES = ("DVC_", "MLFLOW_", "_MLFLOW_", "GIT_", "DATABRICKS_")
_GIT_REPO_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")


def _foreign(name: str) -> bool:
    return name.startswith(_FOREIGN_PREFIXES)


_GITCONFIG = (
    "[user]\n\tname = mlchaos\n\temail = mlchaos@localhost\n[commit]\n\tgpgsign = false\n"
    "[init]\n\tdefaultBranch = main\n"
)


def _gitconfig() -> Path:
    """A global git config of our own (identity only), so the user's hooks, signing and aliases stay out.
    It lives in the temp dir, not in an environment: reading an environment never writes to it."""
    path = Path(tempfile.gettempdir()) / f"mlchaos-gitconfig-{os.getuid()}"
    if not path.is_file() or path.read_text() != _GITCONFIG:
        tmp = path.with_name(f"{path.name}.{os.getpid()}")
        tmp.write_text(_GITCONFIG)
        os.replace(tmp, path)
    return path


def hermetic_environ(root: Path, *, site: Path | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every DVC, git, stage and MLflow call in ``root`` runs with.

    Whatever the user's shell says about DVC (config dirs, site cache, experiments), MLflow
    (tracking and registry URIs, experiment, run) or git (``GIT_DIR`` & co., global config) is
    dropped; in its place: DVC's site cache and config dirs inside ``root``, no analytics, an
    MLflow sqlite store inside ``root``, our own git identity, and this interpreter first on
    ``PATH`` (so a stage ``cmd: python ...`` runs with the interpreter that runs pytest).
    ``site`` (default ``root/SITE_DIR``) holds DVC's site cache and config dirs.
    """
    root = Path(root).resolve()
    site = Path(site).resolve() if site is not None else root / SITE_DIR
    env = {k: v for k, v in (os.environ if base is None else base).items() if not _foreign(k)}
    tracking = f"sqlite:///{root / MLFLOW_DB}"
    env.update(
        {
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(site),
            "DVC_GLOBAL_CONFIG_DIR": str(site / "global"),
            "DVC_SYSTEM_CONFIG_DIR": str(site / "system"),
            "DVC_STUDIO_OFFLINE": "true",
            "MLFLOW_TRACKING_URI": tracking,
            "MLFLOW_REGISTRY_URI": tracking,
            "_MLFLOW_SERVER_ARTIFACT_ROOT": str(root / MLFLOW_ARTIFACTS),  # default artifact root of new experiments
            "MLFLOW_SQLALCHEMYSTORE_POOLCLASS": "NullPool",
            "GIT_CONFIG_GLOBAL": str(_gitconfig()),
            "PATH": os.path.dirname(sys.executable)
            + os.pathsep
            + (os.environ.get("PATH", "") if base is None else base.get("PATH", "")),
            **_GIT_ENV,
        }
    )
    return env


@contextmanager
def dvc_environment(root: Path, environ: Mapping[str, str] | None = None) -> Iterator[None]:
    """cwd = ``root`` and ``environ`` (default ``hermetic_environ(root)``) in ``os.environ``; both restored after,
    even on error."""
    root = Path(root).resolve()
    saved = dict(os.environ)
    cwd = os.getcwd()
    target = hermetic_environ(root) if environ is None else dict(environ)
    for key in [k for k in os.environ if k not in target]:
        del os.environ[key]
    os.environ.update(target)
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def open_repo(root: Path, rev: str | None = None, *, environ: Mapping[str, str] | None = None) -> Iterator[Any]:
    """A fresh ``dvc.repo.Repo`` for ``root`` (at git revision ``rev``, else the workspace) inside
    ``dvc_environment`` (with ``environ`` when given). Open a new one after files change: a ``Repo`` caches its
    index."""
    from dvc.repo import Repo

    with dvc_environment(root, environ), warnings.catch_warnings():
        # DVC's own DeprecationWarnings (pygtrie's _NoneStep.value) are not the user's to fix
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"dvc(\.|$)")
        repo = Repo(str(Path(root).resolve()), rev=rev)
        try:
            yield repo
        finally:
            repo.close()


@contextmanager
def captured_output() -> Iterator[Path]:
    """Send this process's fds 1 and 2 (and so every stage subprocess's output) to a temp file while
    DVC runs, so a failed stage's stderr can be quoted; put them back after."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd, name = tempfile.mkstemp(prefix="mlchaos-stage-", suffix=".log")
    saved = (os.dup(1), os.dup(2))
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield Path(name)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for handle in (*saved, fd):
            os.close(handle)


def tail(path: Path, lines: int = 25) -> str:
    """The last ``lines`` lines of a log, without ANSI colours and progress bars."""
    try:
        text = _ANSI.sub("", path.read_text(errors="replace"))
    except OSError:
        return ""
    kept = [line.rstrip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def git_env(root: Path | None = None) -> dict[str, str]:
    """The environment for git in an env root: our identity and config, no GIT_DIR & co. leaking in."""
    if root is not None:
        return hermetic_environ(root)
    return {**{k: v for k, v in os.environ.items() if not _foreign(k)}, **_GIT_ENV}


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", *args],
        cwd=root,
        env=git_env(root),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {root}: {done.stderr.strip()}")
    return done.stdout


def object_path(store: Path, md5: str) -> Path:
    """Where a DVC 3 cache or local remote keeps the object ``md5``."""
    return store / "files" / "md5" / md5[:2] / md5[2:]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
