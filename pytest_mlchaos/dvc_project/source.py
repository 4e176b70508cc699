"""What of a user's DVC repository is the repository: the files a clone has, and the data DVC tracks.

The working directory holds more than the repository: virtualenvs, ``.pytest_cache`` (and in
it this plugin's own baselines), ``.git``, DVC's cache and tmp, stage outputs of a local run.
A ``SourceTree`` lists what a fresh clone plus ``dvc pull`` would hold: every file not ignored
by a ``.gitignore`` or ``.dvcignore`` (git-tracked files always), minus the clutter below, plus
the data added with ``dvc add`` (git-ignored by DVC itself), taken from the workspace or, when
absent there, from the user's DVC cache. The user's tree is only ever read.
"""

from __future__ import annotations

import configparser
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..digest import md5_file
from ..project import ProjectError
from .repo import MLFLOW_DIR, REMOTE_DIR, git_env

__all__ = ["CLUTTER_NAMES", "DVC_PRIVATE", "DataOut", "FINGERPRINT_SKIP", "SourceTree", "user_cache_dir"]

# Never copied, wherever they are: VCS and tool state, caches, this plugin's own files.
CLUTTER_NAMES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".pytest_cache",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".hypothesis",
        ".ipynb_checkpoints",
        ".venv",
        "venv",
        ".direnv",
        "node_modules",
        ".mlchaos",
        REMOTE_DIR,
        MLFLOW_DIR,
        ".DS_Store",
    }
)
DVC_PRIVATE = ("cache", "tmp", "config.local")  # under .dvc/: the user's cache, state and credentials
# Files that cannot change what the pipeline builds: tests, docs, the lock a local run rewrote.
FINGERPRINT_SKIP = (
    "test_*.py",
    "*_test.py",
    "conftest.py",
    "*.md",
    "*.rst",
    "LICENSE*",
    "pytest.ini",
    "tox.ini",
    "dvc.lock",
    ".gitignore",
)


def _is_venv(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file() or (path / "conda-meta").is_dir()


class _IgnoreRules:
    """``.gitignore`` and ``.dvcignore`` files, applied as git does: deeper files override, a later line wins."""

    def __init__(self, root: Path, extra: Iterable[str] = ()) -> None:
        import pathspec

        self._spec = pathspec.GitIgnoreSpec
        self.root = root
        self.levels: dict[str, list[Any]] = {}
        info = root / ".git" / "info" / "exclude"
        top = list(extra) + (info.read_text(errors="replace").splitlines() if info.is_file() else [])
        self.levels[""] = [self._spec.from_lines(top)] if top else []

    def enter(self, rel_dir: str) -> None:
        specs = []
        for name in (".gitignore", ".dvcignore"):
            path = self.root / rel_dir / name
            if path.is_file():
                specs.append(self._spec.from_lines(path.read_text(errors="replace").splitlines()))
        self.levels.setdefault(rel_dir, []).extend(specs)

    def ignored(self, rel: str, is_dir: bool) -> bool:
        verdict = False
        parts = rel.split("/")
        for depth in range(len(parts)):
            base = "/".join(parts[:depth])
            sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
            for spec in self.levels.get(base, ()):
                result = spec.check_file(sub)
                if result.include is not None:
                    verdict = result.include
        return verdict


@dataclass(frozen=True)
class DataOut:
    """An out whose content the build takes from the user (``dvc add``-ed, or of a stage left out)."""

    path: str  # relative to the repository root
    md5: str | None  # as recorded in the .dvc file or dvc.lock (``.dir`` suffix for a directory)
    origin: str  # the .dvc file, or "dvc.lock:<stage>"


@dataclass
class SourceTree:
    """The files of the repository at ``root``: ``files`` (relative posix paths) and the user's cache dir."""

    root: Path
    files: list[str]
    cache_dir: Path
    excluded: tuple[Path, ...] = ()
    _dvc_files: list[str] = field(default_factory=list)

    @classmethod
    def scan(cls, root: Path, exclude: Iterable[Path] = ()) -> SourceTree:
        """Walk ``root`` with the ignore rules; ``exclude``: more directories never to copy (e.g. the pytest cache)."""
        root = Path(root).resolve()
        cache_dir = user_cache_dir(root)
        skip_dirs = {p.resolve() for p in (*exclude, cache_dir)}
        rules = _IgnoreRules(root)
        files: list[str] = []
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            rel_dir = here.relative_to(root).as_posix()
            rel_dir = "" if rel_dir == "." else rel_dir
            rules.enter(rel_dir)
            kept = []
            for name in sorted(dirnames):
                path = here / name
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if (
                    name in CLUTTER_NAMES
                    or path.resolve() in skip_dirs
                    or path.is_symlink()
                    or _is_venv(path)
                    or (rel_dir == ".dvc" and name in DVC_PRIVATE)
                ):
                    continue
                if rel_dir != ".dvc" and rules.ignored(rel, True):
                    continue
                kept.append(name)
            dirnames[:] = kept
            for name in sorted(filenames):
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if name in CLUTTER_NAMES or (rel_dir == ".dvc" and name in DVC_PRIVATE):
                    continue
                if name.endswith((".pyc", ".pyo")) or (here / name).is_symlink():
                    continue
                if rel_dir != ".dvc" and rules.ignored(rel, False):
                    continue
                files.append(rel)
        tracked = [rel for rel in _git_tracked(root) if not set(rel.split("/")) & CLUTTER_NAMES]
        merged = sorted(set(files) | {rel for rel in tracked if (root / rel).is_file()})
        return cls(root, merged, cache_dir, tuple(skip_dirs))

    def dvc_files(self) -> list[str]:
        """The ``.dvc`` files (data added with ``dvc add``, imports)."""
        return [rel for rel in self.files if rel.endswith(".dvc") and not rel.startswith(".dvc/")]

    def added_data(self) -> list[DataOut]:
        """Every out of every ``.dvc`` file, as recorded there."""
        import yaml

        found = []
        for rel in self.dvc_files():
            try:
                doc = yaml.safe_load((self.root / rel).read_text()) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise ProjectError(f"{self.root / rel} is not a readable .dvc file: {exc}") from None
            base = Path(rel).parent
            for out in doc.get("outs") or ():
                if isinstance(out, dict) and out.get("path"):
                    path = (base / out["path"]).as_posix()
                    found.append(DataOut(os.path.normpath(path), out.get("md5"), rel))
        return found

    def fingerprint_files(self) -> list[str]:
        """The files whose content can change the baseline (not tests, docs or the lock a local run rewrote)."""
        return [rel for rel in self.files if not any(fnmatch.fnmatch(Path(rel).name, pat) for pat in FINGERPRINT_SKIP)]

    def fingerprint(self, data: Iterable[DataOut], extra: str = "") -> str:
        """sha256 over the fingerprint files' content, and the data's recorded md5 plus its size and mtime."""
        h = hashlib.sha256(extra.encode() + b"\0")
        for rel in self.fingerprint_files():
            h.update(rel.encode() + b"\0" + md5_file(self.root / rel).encode() + b"\0")
        for out in sorted(data, key=lambda o: o.path):
            h.update(f"{out.path}\0{out.md5}\0".encode())
            for path in _files_under(self.root / out.path):
                st = path.stat()
                h.update(f"{path.relative_to(self.root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        return h.hexdigest()

    def copy_to(self, dest: Path, *, without: Iterable[str] = (), small_only: bool = False) -> None:
        """Copy the files (except those at or under a path in ``without``) to ``dest``, keeping mtimes."""
        skip = tuple(without)
        for rel in self.files:
            if any(rel == s or rel.startswith(s.rstrip("/") + "/") for s in skip):
                continue
            src = self.root / rel
            if small_only and src.stat().st_size > (2 << 20):
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)

    def materialise(self, out: DataOut, dest: Path) -> str:
        """Put ``out``'s content at ``dest/out.path``: from the workspace, else the user's cache; say from where."""
        src = self.root / out.path
        target = dest / out.path
        if src.exists():
            if src.is_dir():
                shutil.copytree(src, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*CLUTTER_NAMES))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target)
            return "workspace"
        if out.md5 and _from_cache(self.cache_dir, out.md5, target):
            return "cache"
        raise ProjectError(
            f"{out.path} (tracked by {out.origin}) is neither in the workspace of {self.root} nor in its DVC cache "
            f"{self.cache_dir}: run `dvc pull {out.path}` (or `dvc checkout`) first"
        )


def _files_under(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
    elif path.is_dir():
        yield from sorted(p for p in path.rglob("*") if p.is_file())


def _git_tracked(root: Path) -> list[str]:
    """Files git tracks under ``root`` (empty when ``root`` is not in a git work tree). Read-only."""
    if shutil.which("git") is None:
        return []
    env = {**git_env(), "GIT_OPTIONAL_LOCKS": "0"}
    done = subprocess.run(["git", "ls-files", "-z", "--cached"], cwd=root, env=env, capture_output=True)
    if done.returncode != 0:
        return []
    return [os.fsdecode(p) for p in done.stdout.split(b"\0") if p]


def user_cache_dir(root: Path) -> Path:
    """The user's DVC cache directory: ``cache.dir`` of ``.dvc/config`` (and ``config.local``), else ``.dvc/cache``."""
    cache = root / ".dvc" / "cache"
    for name in ("config", "config.local"):
        path = root / ".dvc" / name
        if not path.is_file():
            continue
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        try:
            parser.read_string(path.read_text())
        except configparser.Error:
            continue
        value = parser.get("cache", "dir", fallback=None)
        if value:
            cache = (root / ".dvc" / value.strip().strip("'\"")).resolve()
    return cache


def _object(cache: Path, md5: str) -> Path | None:
    """A cache object in the DVC 3 layout (``files/md5/``), else the DVC 2 one."""
    for base in (cache / "files" / "md5", cache):
        path = base / md5[:2] / md5[2:]
        if path.is_file():
            return path
    return None


def _from_cache(cache: Path, md5: str, target: Path) -> bool:
    """Rebuild a file or a directory (``.dir`` listing) from the user's cache; False if an object is missing."""
    obj = _object(cache, md5)
    if obj is None:
        return False
    if not md5.endswith(".dir"):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(obj, target)
        return True
    try:
        entries = json.loads(obj.read_text())
    except ValueError:
        return False
    objects = [(entry["relpath"], _object(cache, entry["md5"])) for entry in entries]
    found = [(relpath, path) for relpath, path in objects if path is not None]
    if len(found) < len(objects):
        return False
    for relpath, path in found:
        dest = target / relpath
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    return True
