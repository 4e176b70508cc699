"""``DVCProject``: plug a plain DVC pipeline repository into pytest-mlchaos, unchanged.

Point it at the *source* of a DVC project (``dvc.yaml``, ``params.yaml``, code, any
``dvc add``-ed data with their ``.dvc`` files; no ``.git`` or ``.dvc/`` needed):

>>> project = DVCProject("path/to/repo")          # doctest: +SKIP

``build`` makes a live repo of it (git, DVC with a copy cache, a local remote inside
the tree, ``repro``, ``push``). Checks never trust DVC's own status (which believes a
file whose inode, mtime and size it has seen): every out is hashed (md5, as in
``dvc.lock``) and compared with the lock. DVC is driven through its Python API,
imported lazily, with cwd and environment set per call and restored after.
"""

from .damage import Damage, scan
from .layout import Layout, Out, Stage, read_layout
from .project import DVCProject
from .repo import (CACHE_DIR, DATA_SUFFIXES, LOCK_FILE, MODEL_SUFFIXES, REMOTE_DIR, REMOTE_NAME, SITE_DIR,
                   dvc_environment, md5_file, object_path, open_repo)

__all__ = ["CACHE_DIR", "DATA_SUFFIXES", "DVCProject", "Damage", "LOCK_FILE", "Layout", "MODEL_SUFFIXES", "Out",
           "REMOTE_DIR", "REMOTE_NAME", "SITE_DIR", "Stage", "dvc_environment", "md5_file", "object_path", "open_repo",
           "read_layout", "scan"]
