"""Where everything lives inside one environment (paths relative to its root)."""

from __future__ import annotations

RAW = "data/raw/churn.csv"
TRAIN = "data/processed/train.csv"
TEST = "data/processed/test.csv"
MODEL = "models/model.pkl"
METRICS = "metrics.json"
PARAMS = "params.yaml"
DVC_YAML = "dvc.yaml"
LOCK = "dvc.lock"
DVC_CACHE = ".dvc/cache"
DVC_REMOTE = "storage/dvc-remote"  # configured relative (DVC stores ../storage/dvc-remote), so a copy works
SITE_CACHE = ".dvc/tmp/site_cache"
DVC_LOCKS = (".dvc/tmp/lock", ".dvc/tmp/rwlock")
BACKUPS = "backups"
MLFLOW_DB = "mlflow.db"
MLARTIFACTS = "mlartifacts"
FAILED_DIR = ".pipeline/failed"
TRACKING_URI_FILE = ".pipeline/tracking_uri"  # an MLflow tracking server to go through (git-ignored, like /.pipeline/)
SNAPSHOTS = "snapshots"
MLCHAOS = ".mlchaos"

STAGES = ("generate", "process", "train", "evaluate")
STAGE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "generate": (RAW,),
    "process": (TRAIN, TEST),
    "train": (MODEL,),
    "evaluate": (METRICS,),
}
# What each stage reads (its DVC deps, params included).
STAGE_INPUTS: dict[str, tuple[str, ...]] = {
    "generate": (PARAMS,),
    "process": (RAW, PARAMS),
    "train": (TRAIN, PARAMS),
    "evaluate": (MODEL, TEST, PARAMS),
}
DATA_FILES = (RAW, TRAIN, TEST)
MODEL_FILES = (MODEL,)
TRACKED = (RAW, TRAIN, TEST, MODEL, METRICS)

REGISTERED_MODEL = "churn-model"
ALIAS = "production"
EXPERIMENT = "churn"

GITIGNORE = """\
# Stores and scratch space of the MLOps system (the DVC files themselves are tracked).
/storage/
/backups/
/mlflow.db
/mlflow.db-journal
/mlartifacts/
/.pipeline/
/.mlchaos/
/snapshots/*/files/
__pycache__/
"""


def stage_of(rel: str) -> str | None:
    """The stage that writes ``rel``, if any."""
    for stage, outs in STAGE_OUTPUTS.items():
        if rel in outs:
            return stage
    return None


def downstream(stage: str) -> tuple[str, ...]:
    """``stage`` and every stage after it."""
    return STAGES[STAGES.index(stage):]
