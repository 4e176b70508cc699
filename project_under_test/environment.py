"""Building an environment (``mlops init``) and training a new model into it (``mlops train``)."""

from __future__ import annotations

import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from . import backups, config as config_mod, dvcops, gitops, stages, tracking
from .envvars import scoped_environ
from .layout import DVC_YAML, GITIGNORE, LOCK, MODEL, PARAMS, TRAIN
from .log import get_logger

log = get_logger("environment")


class EnvironmentError_(RuntimeError):
    """A directory that is not (or cannot become) an environment; the message names it."""


def is_environment(root: Path) -> bool:
    root = Path(root)
    return (root / DVC_YAML).is_file() and (root / ".dvc").is_dir() and (root / ".git").exists()


def require_environment(root: Path) -> Path:
    root = Path(root)
    if not root.exists():
        raise EnvironmentError_(f"{root}: no such directory")
    if not root.is_dir():
        raise EnvironmentError_(f"{root}: not a directory")
    if not is_environment(root):
        raise EnvironmentError_(f"{root}: not an mlops environment (no {DVC_YAML}, .dvc/ or .git); create one with `mlops init DIR`")
    return root.resolve()


def _log_to_mlflow(root: Path, cfg: config_mod.Config, promote: str, cross_validate: bool) -> tracking.VersionInfo:
    import json

    from . import data
    from .models import Trainer, load_estimator, scalar_metrics

    metrics = scalar_metrics(json.loads((root / "metrics.json").read_text()))
    if cross_validate:
        features, target = data.features_and_target(data.read_csv(root / TRAIN))
        metrics.update(Trainer(cfg.train).cross_validate(features, target))
    params = {f"{section}.{k}": v for section, values in cfg.to_dict().items() for k, v in values.items()}
    return tracking.log_training(root, load_estimator(root / MODEL), params, metrics, root / MODEL, promote=promote)


@contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """Keep MLflow's INFO lines (schema migrations, runs) out of ``mlops init``'s output."""
    import logging

    logger = logging.getLogger("mlflow")
    saved = logger.level
    logger.setLevel(logging.ERROR)
    try:
        import mlflow  # noqa: F401  (its import configures the "mlflow" logger: quiet it again)

        logger.setLevel(logging.ERROR)
        yield
    finally:
        logger.setLevel(saved)


def init(root: Path, rows: int | None = None, seed: int | None = None, *, cross_validate: bool = False,
         progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Create git, DVC (+ remote), the MLflow store; run the pipeline; register the model; snapshot ``baseline``.

    ``progress(stage)`` is told each stage as it starts (the chaos adapter passes ``pytest_mlchaos.progress.stage``).
    """
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise EnvironmentError_(f"{root}: exists and is not an empty directory; `mlops init` needs a new or empty one")
    cfg = config_mod.with_overrides(config_mod.Config(), rows=rows, seed=seed)
    with scoped_environ({"MLFLOW_SQLALCHEMYSTORE_POOLCLASS": "NullPool"}):
        return _init(root, cfg, cross_validate, progress or (lambda stage: None))


def _init(root: Path, cfg: config_mod.Config, cross_validate: bool, progress: Callable[[str], None]) -> dict[str, Any]:
    from .versioning import VersionController

    timings: dict[str, float] = {}
    t = time.perf_counter()
    progress("git and DVC repositories")
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    gitops.init(root)
    (root / ".gitignore").write_text(GITIGNORE)
    config_mod.dump(cfg, root)
    shutil.copyfile(Path(__file__).with_name("pipeline.yaml"), root / DVC_YAML)
    dvcops.init_repo(root)
    timings["git+dvc"] = time.perf_counter() - t
    t = time.perf_counter()
    # MLflow's import and schema take seconds: the pipeline runs meanwhile in a child process.
    # (A thread would share the process's warning filters with MLflow's imports and race on them.)
    progress("the pipeline (generate, process, train, evaluate) and the MLflow store")
    pipeline = stages.PipelineRun(root)
    try:
        with _quiet_mlflow():  # (importing MLflow is part of what overlaps the pipeline)
            tracking.create_store(root)
            timings["mlflow_store"] = time.perf_counter() - t
            pipeline.finish()
            timings["pipeline"] = time.perf_counter() - t
            t = time.perf_counter()
            progress("pushing to the DVC remote")
            dvcops.push(root)
            timings["push"] = time.perf_counter() - t
            t = time.perf_counter()
            progress("logging and registering the model in MLflow")
            info = _log_to_mlflow(root, cfg, "always", cross_validate)
            timings["mlflow"] = time.perf_counter() - t
    except BaseException:
        pipeline.stop()  # no child left running into the directory after a failure here
        raise
    t = time.perf_counter()
    progress("backups, git commit and the baseline snapshot")
    backups.rebuild(root)
    gitops.commit_all(root, f"mlops init: {cfg.data.rows} rows, seed {cfg.data.seed}")
    VersionController(root).create_snapshot("baseline", "state after mlops init")
    timings["snapshot"] = time.perf_counter() - t
    return {"root": str(root), "run_id": info.run_id, "model_version": info.version, "timings": timings}


def train(root: Path, overrides: dict[str, Any] | None = None, *, promote: str = "if_not_worse",
          cross_validate: bool = False) -> dict[str, Any]:
    """Retrain with ``train.*`` overrides written to ``params.yaml``, log and register; move the alias unless worse."""
    from dataclasses import replace

    root = require_environment(root)
    cfg = config_mod.load(root)
    if overrides:
        known = set(cfg.train.__dataclass_fields__)
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise config_mod.ConfigError(f"unknown train parameters {unknown}; allowed: {sorted(known)}")
        cfg = replace(cfg, train=replace(cfg.train, **overrides)).validate()
    config_mod.dump(cfg, root)
    stages.run_pipeline(root, "train")
    dvcops.push(root)
    info = _log_to_mlflow(root, cfg, promote, cross_validate)
    backups.rebuild(root)
    gitops.commit_all(root, f"mlops train: {overrides or 'defaults'} -> version {info.version}")
    return {"run_id": info.run_id, "model_version": info.version, "promoted": info.promoted,
            "lock": LOCK, "params": PARAMS}
