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

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from . import failpoints
from .artifacts import Artifacts
from .incidents.spec import Incident
from .project import Attempt, ProjectError, RecoveryResult

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


# -- what the repo declares ---------------------------------------------------------------------
@dataclass(frozen=True)
class Out:
    """One DVC-tracked output: path relative to the root, its stage (None for ``dvc add`` data), lock md5."""

    path: str
    stage: str | None
    md5: str | None
    cached: bool
    is_dir: bool = False


@dataclass(frozen=True)
class Stage:
    """One pipeline stage with a command: ``target`` is what ``repro`` takes; deps relative to the root."""

    name: str
    target: str
    cmd: str
    wdir: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """The pipeline as DVC resolves it (templating, ``wdir``, ``.dvc`` files), stages in run order."""

    stages: tuple[Stage, ...]
    outs: tuple[Out, ...]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise ProjectError(f"unknown stage {name!r}; stages: {', '.join(s.name for s in self.stages)}")


def read_layout(root: Path, rev: str | None = "HEAD") -> Layout:
    """Stages in execution order and every out with the md5 its ``dvc.lock`` / ``.dvc`` file records.

    Read from the git revision ``rev`` (the committed baseline, so a damaged ``dvc.lock`` in the
    workspace cannot change what recovery aims for); ``rev=None`` reads the workspace.
    """
    import networkx as nx

    with open_repo(root, rev=rev) as repo:
        index = repo.index
        stages = list(index.stages)
        position = {stage: i for i, stage in enumerate(stages)}
        graph = index.graph
        ordered = list(nx.lexicographical_topological_sort(graph.reverse(copy=True), key=lambda s: position[s]))
        base = Path(repo.root_dir)
        pipeline: list[Stage] = []
        outs: list[Out] = []
        for stage in ordered:
            named = getattr(stage, "name", None) if stage.cmd else None
            out_paths = []
            for out in stage.outs:
                rel = Path(out.fs_path).relative_to(base).as_posix()
                out_paths.append(rel)
                md5 = out.hash_info.value if out.hash_info and out.hash_info.name in ("md5", "md5-dos2unix") else None
                outs.append(Out(rel, named, md5, bool(out.use_cache), bool(out.hash_info and out.hash_info.isdir)))
            if named:
                deps = tuple(Path(d.fs_path).relative_to(base).as_posix() for d in stage.deps)
                target = f"{Path(stage.path).relative_to(base).as_posix()}:{named}"
                pipeline.append(Stage(named, target, stage.cmd if isinstance(stage.cmd, str)
                                      else " && ".join(stage.cmd), Path(stage.wdir).relative_to(base).as_posix(),
                                      deps, tuple(out_paths)))
    return Layout(tuple(pipeline), tuple(outs))


# -- damage --------------------------------------------------------------------------------------
@dataclass
class Damage:
    """What differs from the lock: workspace outs, cache objects, remote objects (each path -> problem)."""

    workspace: dict[str, str]
    cache: dict[str, str]
    remote: dict[str, str]
    tracked: dict[str, str] = field(default_factory=dict)  # git-tracked files that differ from HEAD
    locks: dict[str, str] = field(default_factory=dict)  # stale DVC lock files

    @property
    def clean(self) -> bool:
        return not (self.workspace or self.cache or self.remote or self.tracked or self.locks)

    def problems(self) -> list[str]:
        return ([f"{rel}: {why}" for rel, why in self.locks.items()]
                + [f"{rel}: {why}" for rel, why in self.tracked.items() if rel not in self.workspace]
                + [f"{rel}: {why}" for rel, why in self.workspace.items()]
                + [f"{CACHE_DIR} object {md5} ({why})" for md5, why in self.cache.items()]
                + [f"{REMOTE_DIR} object {md5} ({why})" for md5, why in self.remote.items()])


def _dir_entries(root: Path, md5: str) -> list[dict[str, str]] | None:
    """The file list of a directory out, from an intact ``.dir`` object in the cache or the remote."""
    for store in (root / CACHE_DIR, root / REMOTE_DIR):
        if _object_problem(store, md5) is None:
            try:
                entries = json.loads(object_path(store, md5).read_text())
            except (OSError, ValueError):
                continue
            if isinstance(entries, list):
                return entries
    return None


def _all_objects(store: Path) -> list[Path]:
    base = store / "files" / "md5"
    return sorted(p for p in base.glob("??/*") if p.is_file()) if base.is_dir() else []


def _object_problem(store: Path, md5: str) -> str | None:
    path = object_path(store, md5)
    if not path.is_file():
        return "missing"
    if md5_file(path) != md5.removesuffix(".dir"):
        return "content does not match its md5"
    return None


def scan(root: Path, layout: Layout, remote: bool = True) -> Damage:
    """Hash every locked out, cache object and (if ``remote``) remote object; compare with the lock."""
    root = Path(root)
    damage = Damage({}, {}, {})
    objects: dict[str, str] = {}  # md5 -> out path, for cached outs
    for out in layout.outs:
        if out.md5 is None:
            damage.workspace[out.path] = "not recorded in dvc.lock"
            continue
        path = root / out.path
        if out.is_dir:
            entries = _dir_entries(root, out.md5)
            if out.cached:
                objects[out.md5] = out.path
            if entries is None:
                damage.workspace[out.path] = "directory listing unavailable (cache and remote lost)"
                continue
            for entry in entries:
                sub = f"{out.path}/{entry['relpath']}"
                if out.cached:
                    objects[entry["md5"]] = sub
                _check_file(root / sub, entry["md5"], sub, damage)
            continue
        if out.cached:
            objects[out.md5] = out.path
        _check_file(path, out.md5, out.path, damage)
    stores = [(root / CACHE_DIR, damage.cache)] + ([(root / REMOTE_DIR, damage.remote)] if remote else [])
    for store, found in stores:
        for md5 in objects:  # every object the lock needs must be there, intact
            problem = _object_problem(store, md5)
            if problem:
                found[md5] = problem
        if store.is_dir():  # and no object may lie about its content (run-cache outputs included)
            for path in _all_objects(store):
                md5 = path.parent.name + path.name
                if md5 not in found and md5_file(path) != md5.removesuffix(".dir"):
                    found[md5] = "content does not match its md5"
    if remote and not (root / REMOTE_DIR).is_dir():
        damage.remote["*"] = f"remote directory {REMOTE_DIR} is missing"
    damage.tracked = tracked_damage(root)
    damage.locks = stale_locks(root)
    return damage


def tracked_damage(root: Path) -> dict[str, str]:
    """git-tracked files (dvc.lock, .dvc files, code, uncached metrics) whose content differs from HEAD.

    Hashed here as git blobs, not taken from ``git status``, which trusts the index's stat data.
    """
    listing = subprocess.run(["git", "ls-tree", "-r", "-z", "HEAD"], cwd=root, env=_git_env(), capture_output=True,
                             check=True).stdout
    damaged = {}
    for entry in filter(None, listing.split(b"\0")):
        meta, _, name = entry.partition(b"\t")
        mode, kind, sha = meta.split()
        rel = os.fsdecode(name)
        path = root / rel
        if kind != b"blob" or mode == b"120000":
            continue
        if not path.is_file():
            damaged[rel] = "missing (tracked by git)"
            continue
        data = path.read_bytes()
        if hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest() != sha.decode():
            damaged[rel] = "differs from git HEAD"
    return damaged


def stale_locks(root: Path) -> dict[str, str]:
    """DVC lock files that hold something while no DVC operation runs (between our calls none does)."""
    found = {}
    rwlock = root / ".dvc/tmp/rwlock"
    try:
        held = json.loads(rwlock.read_text() or "{}")
    except FileNotFoundError:
        held = {}
    except ValueError:
        held = {"?": "unreadable"}
    entries = {path: info for mode in ("read", "write") for path, info in (held.get(mode) or {}).items()} \
        if isinstance(held, dict) and set(held) <= {"read", "write"} else held
    if entries:
        pids = sorted({str(i.get("pid")) for i in entries.values() if isinstance(i, dict)} or {"?"})
        found[".dvc/tmp/rwlock"] = f"stale DVC rwlock held by PID {', '.join(pids)} for {len(entries)} path(s)"
    lock = root / ".dvc/tmp/lock"
    if lock.is_file() and _lock_held(lock):
        found[".dvc/tmp/lock"] = "DVC repository lock is held by another process"
    return found


def _lock_held(path: Path) -> bool:
    import fcntl

    with open(path, "a") as fh:
        try:
            fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.lockf(fh, fcntl.LOCK_UN)
    return False


def _check_file(path: Path, md5: str, rel: str, damage: Damage) -> None:
    if not path.is_file():
        damage.workspace[rel] = "missing"
    elif md5_file(path) != md5:
        damage.workspace[rel] = "md5 differs from dvc.lock"


# -- the project ---------------------------------------------------------------------------------
class DVCProject:
    """A generic ``MLProject`` for a plain DVC pipeline repository.

    - ``source``: the project's directory (``dvc.yaml`` required); it is copied, never written.
    - ``metrics_file``: the JSON metrics file a stage writes (numbers, nested keys joined by ``.``).
    - ``model_files`` / ``data_files``: outs to treat as models / data; by default outs ending in
      ``.pkl``/``.joblib`` / ``.csv``/``.parquet``.
    - ``lower_is_better``: metric names where a rise is the degradation (e.g. ``("rmse",)``).
    - ``reuse_metrics``: remember ``evaluate`` results per process, keyed by the md5 of the metric
      stage's command and deps (False: always re-run the stage).
    """

    def __init__(self, source: str | Path, *, metrics_file: str = "metrics.json",
                 model_files: Sequence[str] | None = None, data_files: Sequence[str] | None = None,
                 name: str | None = None, lower_is_better: Iterable[str] = (), reuse_metrics: bool = True) -> None:
        src = Path(source).expanduser()
        if not (src / "dvc.yaml").is_file():
            raise ProjectError(f"DVCProject source {str(source)!r} is not a directory with a dvc.yaml")
        for label, value in (("model_files", model_files), ("data_files", data_files)):
            if value is not None and (isinstance(value, str) or not all(isinstance(v, str) for v in value)):
                raise ProjectError(f"DVCProject {label}={value!r}: expected a list of paths relative to the repo root")
        if not isinstance(metrics_file, str) or not metrics_file:
            raise ProjectError(f"DVCProject metrics_file={metrics_file!r}: expected a path relative to the repo root")
        self.source = src.resolve()
        self.metrics_file = metrics_file
        self.model_files = tuple(model_files) if model_files is not None else None
        self.data_files = tuple(data_files) if data_files is not None else None
        self.name = name or self.source.name
        self.lower_is_better = frozenset(lower_is_better)
        self.reuse_metrics = bool(reuse_metrics)
        self._layouts: dict[str, Layout] = {}

    def __repr__(self) -> str:
        return f"DVCProject({str(self.source)!r}, name={self.name!r})"

    # -- baseline ----------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """Changes with any file of the source tree, the options, this adapter or the DVC version."""
        from importlib.metadata import version

        h = hashlib.sha256()
        for path in sorted(p for p in self.source.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                           and not {".git", ".dvc", REMOTE_DIR} & set(p.relative_to(self.source).parts)):
            h.update(path.relative_to(self.source).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
        h.update(Path(__file__).read_bytes())
        h.update(repr((version("dvc"), self.metrics_file, self.model_files, self.data_files)).encode())
        return h.hexdigest()[:20]

    def build(self, root: Path) -> None:
        """Copy the source to ``root``; git init; dvc init (copy cache, local remote); commit data; repro; push."""
        from dvc.repo import Repo

        root = Path(root)
        if root.exists() and any(root.iterdir()):
            raise ProjectError(f"DVCProject.build: {root} is not empty")
        shutil.copytree(self.source, root, ignore=_COPY_IGNORE, dirs_exist_ok=True)
        _git(root, "init", "-q")
        with dvc_environment(root):
            Repo.init(str(root.resolve())).close()
        with open_repo(root) as repo:
            with repo.config.edit() as conf:
                conf["core"]["remote"] = REMOTE_NAME
                conf["cache"]["type"] = "copy"
                conf["remote"][REMOTE_NAME] = {"url": REMOTE_DIR}  # DVC stores it relative to .dvc/config
        with (root / ".gitignore").open("a") as fh:
            fh.write(f"\n/{REMOTE_DIR}\n")
        sources = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.dvc") if p.is_file())
        with open_repo(root) as repo:
            for target in sources:  # data added with `dvc add`: put the shipped file into the cache
                repo.commit(target, force=True)
        with open_repo(root) as repo:
            repo.reproduce()
        with open_repo(root) as repo:
            repo.push()
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", f"baseline of {self.name}")
        damage = scan(root, self.layout(root, fresh=True))
        if not damage.clean:
            raise ProjectError(f"DVCProject.build of {self.source}: not consistent after repro and push: "
                               + "; ".join(damage.problems()))

    def relocate(self, root: Path, old_root: Path) -> None:
        """Drop the copied site cache (keyed by the old path); check that nothing holds ``old_root``."""
        shutil.rmtree(Path(root) / SITE_DIR, ignore_errors=True)
        old = str(Path(old_root).resolve()).encode()
        for rel in (".dvc/config", LOCK_FILE, ".git/config"):
            path = Path(root) / rel
            if path.is_file() and old in path.read_bytes():
                raise ProjectError(f"{rel} in {root} holds the absolute path {old_root}; DVCProject keeps paths relative")

    def layout(self, root: Path, *, fresh: bool = False) -> Layout:
        """The pipeline layout committed at git HEAD of ``root`` (cached by the commit id)."""
        key = _git(Path(root), "rev-parse", "HEAD").strip()
        if fresh or key not in self._layouts:
            self._layouts[key] = read_layout(Path(root))
        return self._layouts[key]

    def artifacts(self, root: Path) -> Artifacts:
        layout = self.layout(root)
        paths = [out.path for out in layout.outs if not out.is_dir]
        data = self.data_files if self.data_files is not None else tuple(p for p in paths if p.endswith(DATA_SUFFIXES))
        models = (self.model_files if self.model_files is not None
                  else tuple(p for p in paths if p.endswith(MODEL_SUFFIXES)))
        sources = [out.path for out in layout.outs if out.stage is None]  # raw data first
        data = tuple(sorted(data, key=lambda p: (p not in sources, paths.index(p) if p in paths else len(paths))))
        return Artifacts(
            data=data, models=models, stages=tuple(s.name for s in layout.stages),
            stage_outputs={s.name: s.outs for s in layout.stages},
            tracked=tuple(dict.fromkeys([*paths, *data, *models])),
            metrics_file=self.metrics_file, lock_file=LOCK_FILE, dvc_cache=CACHE_DIR, dvc_remote=REMOTE_DIR,
        )

    # -- checks ------------------------------------------------------------------------------
    def evaluate(self, root: Path) -> dict[str, float]:
        """Re-run the stage that writes ``metrics_file`` in a scratch copy of its deps; read the metrics.

        The environment is not touched: only the stage's deps (and ``params.yaml``) are copied to
        a temp dir, where its command runs with this interpreter first on PATH. With
        ``reuse_metrics`` (the default) the result is remembered for the process, keyed by the
        command and the md5 of every dep, as DVC's run cache would: a dep that differs by one
        bit re-runs the stage.
        """
        root = Path(root)
        stage = self._metrics_stage(root)
        key = _deps_key(root, stage, self.metrics_file) if self.reuse_metrics else None
        if key is not None and key in _METRICS_MEMO:
            return dict(_METRICS_MEMO[key])
        metrics = self._run_metrics_stage(root, stage)
        if key is not None:
            _METRICS_MEMO[key] = dict(metrics)
        return metrics

    def _run_metrics_stage(self, root: Path, stage: Stage) -> dict[str, float]:
        with tempfile.TemporaryDirectory(prefix="mlchaos-eval-") as scratch:
            work = Path(scratch)
            for rel in (*stage.deps, "params.yaml"):
                src = root / rel
                if src.is_dir():
                    shutil.copytree(src, work / rel)
                elif src.is_file():
                    (work / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, work / rel)
                elif rel != "params.yaml":
                    raise FileNotFoundError(f"stage {stage.name!r} needs {rel}, which is missing in {root}")
            (work / stage.wdir).mkdir(parents=True, exist_ok=True)
            env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
            done = subprocess.run(stage.cmd, shell=True, cwd=work / stage.wdir, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"stage {stage.name!r} ({stage.cmd}) failed with exit code {done.returncode}: "
                                   f"{done.stderr.strip()[-800:]}")
            return _numbers(json.loads((work / self.metrics_file).read_text()))

    def _metrics_stage(self, root: Path) -> Stage:
        for stage in self.layout(root).stages:
            if self.metrics_file in stage.outs:
                return stage
        raise ProjectError(f"no stage of {root / 'dvc.yaml'} writes metrics_file={self.metrics_file!r}")

    def detect(self, root: Path) -> list[str]:
        """Outs whose md5 differs from dvc.lock or that are missing; missing or corrupt cache/remote objects."""
        return scan(Path(root), self.layout(root)).problems()

    def check_model(self, root: Path) -> str | None:
        """None if every model file loads (joblib) and, when it can say its width, predicts one row."""
        import joblib

        for rel in self.artifacts(root).models:
            try:
                model = joblib.load(Path(root) / rel)
                width = getattr(model, "n_features_in_", None)
                if width is not None and hasattr(model, "predict"):
                    import numpy as np

                    with warnings.catch_warnings():  # e.g. "X does not have valid feature names"
                        warnings.simplefilter("ignore")
                        model.predict(np.zeros((1, int(width))))
            except Exception as exc:  # any failure to load or predict is the answer
                return f"{rel} does not load and predict: {type(exc).__name__}: {exc}"
        return None

    # -- acting ------------------------------------------------------------------------------
    def run_stage(self, root: Path, stage: str) -> None:
        """``dvc repro`` of one stage (failpoints checked first, and again after its outs are removed)."""
        info = self.layout(root).stage(stage)
        failpoints.hit(root, stage)
        for rel in info.outs:
            _remove(Path(root) / rel)
        failpoints.hit(root, stage, "write")
        with open_repo(root) as repo:
            repo.reproduce(info.target, single_item=True, force=True)

    def recover(self, root: Path, incidents: Sequence[Incident]) -> RecoveryResult:
        """The recovery manager: clear stale locks, restore git-tracked files, checkout from the cache, fetch
        from the remote, repro, re-cache, push; each step verified by md5 (and git blob ids)."""
        return _Recovery(Path(root), self.layout(root)).run()


_METRICS_MEMO: dict[str, dict[str, float]] = {}


def _deps_key(root: Path, stage: Stage, metrics_file: str) -> str | None:
    """md5 of the stage command and all its deps (files, or every file under a dep dir); None if one is missing."""
    h = hashlib.sha256(f"{stage.cmd}\0{stage.wdir}\0{metrics_file}\0".encode())
    for rel in (*stage.deps, "params.yaml"):
        path = root / rel
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if not file.is_file():
                if rel == "params.yaml":
                    continue
                return None
            h.update(f"{file.relative_to(root).as_posix()}\0{md5_file(file)}\0".encode())
    return h.hexdigest()


def _numbers(data: Any, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            out.update(_numbers(value, f"{prefix}{key}."))
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        out[prefix.rstrip(".")] = float(data)
    return out


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


class _Recovery:
    """One recovery run: strategies in order of cost, each recorded as an ``Attempt`` and verified by md5."""

    def __init__(self, root: Path, layout: Layout) -> None:
        self.root = root
        self.layout = layout  # read before any repair: the lock recovery must restore
        self.attempts: list[Attempt] = []

    def run(self) -> RecoveryResult:
        start = time.perf_counter()
        lock = self.root / ".dvc/tmp/lock"
        if lock.is_file() and not _lock_held(lock):
            lock.unlink()  # housekeeping: a leftover repo lock file means nothing to DVC, which rewrites it
        damage = scan(self.root, self.layout)
        if damage.clean:
            return RecoveryResult(True, "none", seconds=time.perf_counter() - start,
                                  message="nothing to repair: every out matches dvc.lock")
        if damage.locks:
            damage = self._try("clear_stale_locks", self._clear_locks, damage)
        if damage.tracked:
            damage = self._try("git_restore", self._git_restore, damage)
        if any(why != "missing" for why in damage.cache.values()):
            damage = self._purge(damage)  # DVC would copy a corrupt object back: it does not rehash read-only objects
        if self._damaged_outs(damage) and not damage.cache:
            damage = self._try("dvc_checkout", self._checkout, damage)
        if damage.cache or self._damaged_outs(damage):
            damage = self._try("dvc_fetch", self._fetch, damage)
        if any(self._stage_of(rel) for rel in damage.workspace):
            damage = self._try("dvc_repro", self._repro, damage)
        if damage.cache and not damage.workspace:
            damage = self._try("dvc_commit", self._commit, damage)
        if damage.remote and not damage.cache and not damage.workspace:
            damage = self._try("dvc_push", self._push, damage)
        used = [a.strategy for a in self.attempts if a.succeeded]
        message = "" if damage.clean else "still damaged: " + "; ".join(damage.problems())
        return RecoveryResult(damage.clean, "+".join(used) or None, tuple(self.attempts),
                              time.perf_counter() - start, message)

    def _try(self, name: str, action: Callable[[Damage], None], before: Damage) -> Damage:
        start = time.perf_counter()
        error = None
        try:
            action(before)
        except Exception as exc:  # a failed strategy is recorded, and the next one tried
            error = f"{type(exc).__name__}: {_ANSI.sub('', str(exc)).strip()[:300]}"
        after = scan(self.root, self.layout)
        fixed = _fixed(before, after)
        ok = error is None and bool(fixed) and _no_worse(before, after)
        if error is None and not ok:
            error = "verification by md5 failed: " + ("; ".join(after.problems()[:4]) or "nothing changed")
        self.attempts.append(Attempt(name, ok, time.perf_counter() - start, error))
        return after

    def _clear_locks(self, damage: Damage) -> None:
        """Empty a stale ``rwlock`` (nothing runs DVC in this environment between our calls)."""
        if ".dvc/tmp/lock" in damage.locks:
            raise RuntimeError("the DVC repository lock is held by a live process; not touching it")
        if ".dvc/tmp/rwlock" in damage.locks:
            (self.root / ".dvc/tmp/rwlock").write_text("{}")

    def _git_restore(self, damage: Damage) -> None:
        """``git checkout HEAD --`` the damaged tracked files (dvc.lock, .dvc files, code, uncached outs)."""
        _git(self.root, "checkout", "HEAD", "--", *sorted(damage.tracked))

    def _purge(self, damage: Damage) -> Damage:
        """Delete corrupt cache objects (those the lock needs then count as missing, for the next steps)."""
        start = time.perf_counter()
        corrupt = [md5 for md5, why in damage.cache.items() if why != "missing"]
        for md5 in corrupt:
            path = object_path(self.root / CACHE_DIR, md5)
            path.chmod(0o644)
            path.unlink()
        after = scan(self.root, self.layout)
        ok = not any(why != "missing" for why in after.cache.values())
        self.attempts.append(Attempt("purge_corrupt_cache", ok, time.perf_counter() - start,
                                     None if ok else "corrupt objects remain: " + ", ".join(after.cache)))
        return after

    def _stage_of(self, rel: str) -> Stage | None:
        for stage in self.layout.stages:
            if any(rel == out or rel.startswith(out + "/") for out in stage.outs):
                return stage
        return None

    def _damaged_outs(self, damage: Damage) -> list[str]:
        outs = {o.path for o in self.layout.outs if o.cached}
        return sorted(out for out in outs for rel in damage.workspace if rel == out or rel.startswith(out + "/"))

    def _checkout(self, damage: Damage) -> None:
        """Move damaged files aside (else DVC trusts its state db: inode, mtime, size), check out, and put
        back whatever DVC could not replace, so a failed attempt leaves the evidence as it was."""
        targets = self._damaged_outs(damage)
        aside = self.root / SITE_DIR / "quarantine"
        moved = []
        for rel in damage.workspace:
            if (self.root / rel).exists():
                (aside / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.root / rel, aside / rel)
                moved.append(rel)
        try:
            with open_repo(self.root) as repo:
                repo.checkout(targets=targets, force=True)
        finally:
            for rel in moved:
                if not (self.root / rel).exists():
                    (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(aside / rel, self.root / rel)
            shutil.rmtree(aside, ignore_errors=True)

    def _fetch(self, damage: Damage) -> None:
        with open_repo(self.root) as repo:
            repo.fetch(remote=REMOTE_NAME)
        if self._damaged_outs(damage):
            self._checkout(damage)

    def _commit(self, damage: Damage) -> None:
        """Re-save the workspace (verified equal to dvc.lock by md5) into the cache."""
        with open_repo(self.root) as repo:
            repo.commit(force=True)

    def _repro(self, damage: Damage) -> None:
        """Rerun the stages owning damaged outs, in pipeline order, through the failpoints like ``run_stage``
        (a persistent injected failure keeps failing here, and recovery says so)."""
        stages = {self._stage_of(rel) for rel in damage.workspace} - {None}
        for stage in self.layout.stages:
            if stage in stages:
                failpoints.hit(self.root, stage.name)
                for rel in stage.outs:
                    if any(d == rel or d.startswith(rel + "/") for d in damage.workspace):
                        _remove(self.root / rel)  # so DVC sees them gone, whatever its state db says
                failpoints.hit(self.root, stage.name, "write")
                with open_repo(self.root) as repo:
                    repo.reproduce(stage.target)

    def _push(self, damage: Damage) -> None:
        for md5, problem in damage.remote.items():
            if md5 != "*" and problem != "missing":
                path = object_path(self.root / REMOTE_DIR, md5)
                path.chmod(0o644)
                path.unlink()
        with open_repo(self.root) as repo:
            repo.push(remote=REMOTE_NAME)


_PARTS = ("workspace", "cache", "remote", "tracked", "locks")


def _fixed(before: Damage, after: Damage) -> list[str]:
    return [k for part in _PARTS for k in getattr(before, part) if k not in getattr(after, part)]


def _no_worse(before: Damage, after: Damage) -> bool:
    return all(set(getattr(after, part)) <= set(getattr(before, part)) for part in _PARTS)


__all__ = ["DVCProject", "Damage", "Layout", "dvc_environment", "md5_file", "open_repo", "read_layout", "scan"]
