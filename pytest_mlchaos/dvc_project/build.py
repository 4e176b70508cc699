"""Building a ``DVCProject`` baseline: a real repository made from the user's, in an empty directory.

1. copy what the repository is (``SourceTree``), without the outs of the stages that will be rebuilt;
2. put the ``dvc add``-ed data (and the outs of stages left out) in place, from the workspace or the user's cache;
3. ``.dvc/`` as the user has it (or a new one), with a local remote inside the environment as the default
   and a copy cache; the user's remotes are kept in the config but never contacted;
4. ``git init`` and a first commit (dvclive, scmrepo and ``dvc exp`` need a HEAD);
5. ``dvc commit`` the data, freeze the stages left out, ``dvc repro`` (a failure names the stage and quotes
   its output), ``dvc push`` to the local remote;
6. learn which outs of the metrics stages a second run writes differently (the run ``evaluate`` needs anyway);
7. record what was learned and what the stages left in MLflow; commit: that commit is the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..digest import md5_file
from ..project import ProjectError
from .facts import FACTS_FILE, Facts
from .layout import Layout, Stage
from .metrics import MEMO, StageRun, deps_key, run_in_scratch
from .mlflow_store import record
from .recovery import StageError, reproduce
from .repo import MLFLOW_DIR, REMOTE_DIR, REMOTE_NAME, _git, open_repo
from .source import DataOut, SourceTree

DVC_GITIGNORE = "/config.local\n/tmp\n/cache\n"


def copy_sources(tree: SourceTree, layout: Layout, root: Path, skip_stages: Sequence[str]) -> list[str]:
    """Steps 1-2: the repository's files, then its data; returns where each data out came from."""
    rebuilt = [o.path for o in layout.outs if o.stage is not None and o.stage not in skip_stages]
    tree.copy_to(root, without=rebuilt)
    notes = []
    taken = [
        DataOut(o.path, o.md5, f"{'.dvc file' if o.stage is None else 'dvc.lock:' + o.stage}")
        for o in layout.outs
        if o.stage is None or o.stage in skip_stages
    ]
    for out in taken:
        notes.append(f"{out.path} from the {tree.materialise(out, root)}")
    return notes


def configure_dvc(root: Path) -> None:
    """Step 3: the repository's own ``.dvc/config``, with our local remote as the default and a copy cache."""
    dvc_dir = root / ".dvc"
    dvc_dir.mkdir(exist_ok=True)
    if not (dvc_dir / ".gitignore").is_file():
        (dvc_dir / ".gitignore").write_text(DVC_GITIGNORE)
    (dvc_dir / "config").touch()
    (root / ".dvcignore").touch()
    (root / MLFLOW_DIR).mkdir(exist_ok=True)
    with open_repo(root) as repo:
        with repo.config.edit("repo") as conf:
            conf.setdefault("core", {})["remote"] = REMOTE_NAME
            for key in ("no_scm", "site_cache_dir", "hardlink_lock"):
                conf["core"].pop(key, None)
            cache = conf.setdefault("cache", {})
            cache.pop("dir", None)
            cache.pop("shared", None)
            cache["type"] = "copy"  # a hardlink or symlink cache would let a write in the workspace corrupt it
            conf.setdefault("remote", {})[REMOTE_NAME] = {"url": REMOTE_DIR}  # stored relative to .dvc/config
    with (root / ".gitignore").open("a") as fh:
        fh.write(f"\n/{REMOTE_DIR}\n/{MLFLOW_DIR}\n")


def git_init(root: Path) -> None:
    _git(root, "init", "-q")


def first_commit(root: Path, name: str) -> None:
    """Step 4: the sources committed (dvclive, scmrepo and ``dvc exp`` need a HEAD)."""
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "--allow-empty", "-m", f"source of {name} (pytest-mlchaos)")


def run_pipeline(root: Path, layout: Layout, skip_stages: Sequence[str], source: Path) -> None:
    """Step 5: data into the cache, stages left out frozen, repro, push."""
    added = sorted({s for s in layout.dvcfiles if s.endswith(".dvc")})
    for stage in layout.stages:  # git keeps no empty directories: a clone has no bare wdir either
        (root / stage.wdir).mkdir(parents=True, exist_ok=True)
    with open_repo(root) as repo:
        for target in added:
            repo.commit(target, force=True)
        for name in skip_stages:
            stage = layout.stage(name)
            repo.commit(stage.target, force=True, allow_missing=True)
            repo.freeze(stage.target)
    try:
        reproduce(root)
    except StageError as exc:
        raise ProjectError(f"DVCProject.build of {source}: {exc}") from None
    with open_repo(root) as repo:
        repo.push(remote=REMOTE_NAME)


def learn_volatile(root: Path, stages: Sequence[tuple[Stage, tuple[str, ...]]]) -> tuple[str, ...]:
    """Step 6: run each metrics stage once more in scratch; the files it writes differently are volatile.

    The run's metrics are remembered (``MEMO``), so the baseline's ``evaluate`` costs nothing more.
    """
    learned: list[str] = []
    for stage, files in stages:
        run: StageRun = run_in_scratch(root, stage, files)
        key = deps_key(root, stage, files)
        if key is not None:
            MEMO[key] = run.metrics
        built = {}
        for out in stage.outs:
            path = root / out
            for file in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
                if file.is_file():
                    built[file.relative_to(root).as_posix()] = md5_file(file)
        for rel in sorted(set(built) | set(run.written)):
            if built.get(rel) != run.written.get(rel):
                learned.append(rel if rel in built and rel in run.written else _out_holding(stage, rel))
    return tuple(dict.fromkeys(learned))


def _out_holding(stage: Stage, rel: str) -> str:
    for out in stage.outs:
        if rel == out or rel.startswith(out.rstrip("/") + "/"):
            return out
    return rel


def finish(root: Path, name: str, facts: Facts) -> None:
    """Step 7: record the facts; commit the baseline."""
    facts.write(root)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", f"baseline of {name} (pytest-mlchaos)")


def mlflow_facts(root: Path) -> dict[str, object]:
    """What the stages left in the environment's MLflow store (and its backup, made here)."""
    return record(root)


def empty_target(root: Path) -> None:
    if root.exists() and any(root.iterdir()):
        raise ProjectError(f"DVCProject.build: {root} is not empty")
    root.mkdir(parents=True, exist_ok=True)


__all__ = [
    "FACTS_FILE",
    "configure_dvc",
    "copy_sources",
    "empty_target",
    "finish",
    "first_commit",
    "git_init",
    "learn_volatile",
    "mlflow_facts",
    "run_pipeline",
]
