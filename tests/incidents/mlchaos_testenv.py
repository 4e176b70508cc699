"""Helpers of the injector tests: a small but real ML environment (built once per session by conftest.py).

The template holds a churn CSV, a joblib scikit-learn Pipeline (one-hot + RandomForest) trained on
it, a git + DVC repository (``cache.type copy``, outputs added with ``repo.add``, a ``prepare``
stage reproduced into ``dvc.lock``, everything pushed to a local remote), backups, and an MLflow
sqlite registry where ``churn-model`` has two versions and ``production`` points at version 2.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import math
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from pytest_mlchaos import failpoints
from pytest_mlchaos.artifacts import Artifacts

DATA = "data/churn.csv"
PREPARED = "data/prepared.csv"
MODEL = "models/model.joblib"
MODEL_NAME = "churn-model"
NUMERIC = ["tenure", "monthly_charges", "total_charges"]
CATEGORICAL = ["contract", "internet"]
COLUMNS = ["customer_id", *NUMERIC, *CATEGORICAL, "churn"]
ROWS = 3000
TRAIN_ROWS = 2000

ARTIFACTS = Artifacts(
    data=(DATA, PREPARED),
    models=(MODEL,),
    stages=("prepare", "train"),
    stage_outputs={"prepare": (PREPARED,), "train": (MODEL,)},
    lock_file="dvc.lock",
    metrics_file=None,
    dvc_cache=".dvc/cache",
    dvc_remote="storage/remote",
    backups="backups",
    mlflow_db="mlflow.db",
    registry_model=MODEL_NAME,
)

PREPARE_PY = """import shutil, sys
shutil.copyfile("data/churn.csv", "data/prepared.csv")
"""


def write_churn_csv(path: Path, rows: int = ROWS, seed: int = 7) -> None:
    """A deterministic churn dataset: numeric and categorical features, a 0/1 ``churn`` label."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for i in range(rows):
            tenure = rng.randint(0, 72)
            monthly = round(rng.uniform(18, 120), 2)
            total = round(monthly * tenure * rng.uniform(0.9, 1.1), 2)
            contract = rng.choice(["month", "one_year", "two_year"])
            internet = rng.choice(["dsl", "fiber", "none"])
            score = -0.06 * tenure + 0.03 * monthly + (1.2 if contract == "month" else -0.8) + rng.gauss(0, 0.8) - 0.5
            churn = int(1 / (1 + math.exp(-score)) > 0.5)
            writer.writerow([f"C{i:05d}", tenure, f"{monthly:.2f}", f"{total:.2f}", contract, internet, churn])


def train_model(data: Path, out: Path) -> None:
    import joblib
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.read_csv(data).iloc[:TRAIN_ROWS]
    model = Pipeline([
        ("encode", ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)], remainder="passthrough")),
        ("forest", RandomForestClassifier(n_estimators=20, max_depth=10, random_state=0, n_jobs=1)),
    ])
    model.fit(frame[NUMERIC + CATEGORICAL], frame["churn"])
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out)


def holdout_accuracy(root: Path) -> float:
    """Accuracy of the environment's model on the rows it was not trained on (from the backup data)."""
    import joblib
    import pandas as pd

    frame = pd.read_csv(root / "backups" / DATA).iloc[TRAIN_ROWS:]
    model = joblib.load(root / MODEL)
    return float((model.predict(frame[NUMERIC + CATEGORICAL]) == frame["churn"].to_numpy()).mean())


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def tree_digest(root: Path, relocatable: bool = False) -> dict[str, tuple[str, int]]:
    """Every entry under ``root``: content sha256 (or symlink target) and permission bits.

    ``relocatable`` hashes contents with ``root``'s own path masked, to compare two copies that
    hold absolute paths of themselves (DVC's rwlock does).
    """
    mask = str(Path(root).resolve()).encode()
    result: dict[str, tuple[str, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            if path.is_symlink():
                result[rel] = ("->" + os.readlink(path), st.st_mode)
            elif path.is_file():
                data = path.read_bytes()
                result[rel] = (hashlib.sha256(data.replace(mask, b"<root>") if relocatable else data).hexdigest(), st.st_mode)
            else:
                result[rel] = ("dir", st.st_mode)
    return result


def dvc_env(monkeypatch: pytest.MonkeyPatch, base: Path) -> None:
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(base / "dvc-site-cache"))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_POOLCLASS", "NullPool")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "mlchaos")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "mlchaos@example.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "mlchaos")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "mlchaos@example.invalid")


def _make_mlflow_registry(root: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(MODEL_NAME)
    for _ in range(2):
        client.create_model_version(MODEL_NAME, source=(root / "models").as_uri())
    client.set_registered_model_alias(MODEL_NAME, "production", "2")


def _build_template(root: Path) -> None:
    from dvc.repo import Repo

    write_churn_csv(root / DATA)
    train_model(root / DATA, root / MODEL)
    (root / "prepare.py").write_text(PREPARE_PY)
    for rel in (DATA, MODEL):
        (root / "backups" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, root / "backups" / rel)
    (root / ARTIFACTS.dvc_remote).mkdir(parents=True)
    git(root, "init", "-q")
    Repo.init(str(root)).close()
    # written by hand: DVC's config API resolves a relative url against the current directory, and the
    # url must stay relative to .dvc/ so every copy of the template pushes to and pulls from its own remote
    (root / ".dvc" / "config").write_text(
        '[core]\n    remote = local\n[cache]\n    type = copy\n[\'remote "local"\']\n    url = ../storage/remote\n'
    )
    (root / ".gitignore").write_text("/storage/\n/backups/\n/mlflow.db\n/.mlchaos/\n")
    (root / "dvc.yaml").write_text(
        "stages:\n  prepare:\n    cmd: python prepare.py\n    deps:\n    - prepare.py\n    - data/churn.csv\n"
        "    outs:\n    - data/prepared.csv\n"
    )
    with contextlib.chdir(root):  # DVC resolves targets and dvc.yaml from the current directory
        repo = Repo(str(root))
        repo.add([DATA, MODEL])
        repo.reproduce()
        repo.push()
        repo.close()
    pushed = [p for p in (root / ARTIFACTS.dvc_remote).rglob("*") if p.is_file()]
    assert len(pushed) == 2, f"the push must land in the environment's own remote, got {pushed}"
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "baseline")
    _make_mlflow_registry(root)


def stage_runner(root: Path) -> Callable[[str], None]:
    """A tiny stage runner, as a project's would be: failpoints at start and before writing, then the output."""

    def run_stage(stage: str) -> None:
        failpoints.hit(root, stage)
        out = root / ARTIFACTS.stage_outputs[stage][0]
        failpoints.hit(root, stage, "write")
        source = root / DATA if stage == "prepare" else root / "backups" / MODEL
        shutil.copyfile(source, out)

    return run_stage
