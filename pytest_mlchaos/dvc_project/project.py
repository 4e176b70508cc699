"""``DVCProject``: builds, clones, evaluates, inspects and recovers a plain DVC pipeline repository."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .. import failpoints
from ..artifacts import Artifacts
from ..incidents.spec import Incident
from ..project import ProjectError, RecoveryResult
from .damage import scan
from .layout import Layout, Stage, read_layout
from .recovery import _Recovery
from .repo import (_COPY_IGNORE, CACHE_DIR, DATA_SUFFIXES, LOCK_FILE, MODEL_SUFFIXES, REMOTE_DIR, REMOTE_NAME,
                   SITE_DIR, _git, _remove, dvc_environment, md5_file, open_repo)


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
        for module in sorted(Path(__file__).parent.glob("*.py")):  # this adapter's code, every module of it
            h.update(module.read_bytes())
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


