"""``DVCProject``: plug a DVC pipeline repository into pytest-mlchaos, unchanged.

With nothing configured, ``pytest --mlchaos`` inside a DVC repository tests that repository
(``discover``). Or point it at one by hand:

>>> project = DVCProject("path/to/repo")          # doctest: +SKIP

``build`` makes a real repository of it in the sandbox (git with a first commit, DVC with a copy
cache and a local remote standing in for the user's, an MLflow sqlite store, ``repro``, ``push``).
Checks never trust DVC's own status (which believes a file whose inode, mtime and size it has
seen): every out is hashed (md5, as in ``dvc.lock``) and compared with the lock. DVC is driven
through its Python API, imported lazily, with cwd and environment set per call and restored after.
"""

from ..digest import md5_file
from .damage import Damage, scan
from .layout import Artifact, Layout, Out, Stage, read_layout
from .project import DVCProject
from .recovery import StageError
from .repo import (
    CACHE_DIR,
    DATA_SUFFIXES,
    LOCK_FILE,
    MLFLOW_DB,
    MLFLOW_DIR,
    MODEL_SUFFIXES,
    REMOTE_DIR,
    REMOTE_NAME,
    SITE_DIR,
    dvc_environment,
    hermetic_environ,
    object_path,
    open_repo,
)

__all__ = [
    "CACHE_DIR",
    "DATA_SUFFIXES",
    "LOCK_FILE",
    "MLFLOW_DB",
    "MLFLOW_DIR",
    "MODEL_SUFFIXES",
    "REMOTE_DIR",
    "REMOTE_NAME",
    "SITE_DIR",
    "Artifact",
    "DVCProject",
    "Damage",
    "Layout",
    "Out",
    "Stage",
    "StageError",
    "dvc_environment",
    "hermetic_environ",
    "md5_file",
    "object_path",
    "open_repo",
    "read_layout",
    "scan",
]
