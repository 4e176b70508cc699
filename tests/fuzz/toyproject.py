"""A small but real ML project for the fuzzing tests: CSV data, a joblib scikit-learn model, a backup.

Layout of an environment root (every path relative, so a copy works as is)::

    train.csv  test.csv     the dataset (header ``f0,f1,f2,f3,label``)
    model.joblib            LogisticRegression trained on train.csv
    backup/...              copies of the three files above
    manifest.json           the project's own sha256 digests of them
    snapshots/<tag>/...     made by ``snapshot``, restored by ``rollback``

Flat on purpose: each example creates and deletes one, and directories cost most of that.

The recovery manager is pluggable, so tests can swap in deliberately broken ones.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Callable, Mapping, Sequence

from pytest_mlchaos import failpoints
from pytest_mlchaos.artifacts import Artifacts
from pytest_mlchaos.incidents import Incident
from pytest_mlchaos.project import Attempt, RecoveryResult

TRAIN, TEST, MODEL = "train.csv", "test.csv", "model.joblib"
FILES = (TRAIN, TEST, MODEL)
BACKUP, MANIFEST, SNAPSHOTS = "backup", "manifest.json", "snapshots"
HEADER = "f0,f1,f2,f3,label"
STAGES = {"prepare": (TRAIN, TEST), "train": (MODEL,)}
STATE = (*FILES, *(f"{BACKUP}/{rel}" for rel in FILES), MANIFEST)  # what a snapshot holds


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(root: Path) -> None:
    digests = {rel: sha256(root / rel) for rel in FILES}
    (root / MANIFEST).write_text(json.dumps(digests, indent=1, sort_keys=True))


def read_manifest(root: Path) -> dict[str, str]:
    return json.loads((root / MANIFEST).read_text())


def damaged(root: Path) -> list[str]:
    """Files whose digest differs from the project's manifest (missing ones included)."""
    manifest = read_manifest(root)
    return [rel for rel in FILES if not (root / rel).is_file() or sha256(root / rel) != manifest[rel]]


def make_data(root: Path) -> None:
    """A deterministic, mildly noisy linear classification problem."""
    import numpy as np

    rng = np.random.default_rng(7)
    x = rng.normal(size=(600, 4))
    y = (x @ np.array([1.5, -2.0, 0.7, 0.0]) + rng.normal(scale=0.8, size=600) > 0).astype(int)
    for rel, rows in ((TRAIN, slice(0, 400)), (TEST, slice(400, 600))):
        lines = [HEADER] + [",".join(f"{v:.4f}" for v in xr) + f",{yr}" for xr, yr in zip(x[rows], y[rows])]
        (root / rel).write_text("\n".join(lines) + "\n")


def load_csv(path: Path):
    """Features and labels of a CSV, parsed once per content digest."""
    import io

    import numpy as np

    data = path.read_bytes()
    key = hashlib.sha256(data).hexdigest()
    if key not in _TABLES:
        if data.count(b"\n") < 2 and not data.rstrip(b"\n").count(b"\n"):
            raise ValueError(f"{path.name}: no data rows")
        table = np.loadtxt(io.BytesIO(data), delimiter=",", skiprows=1, ndmin=2)
        if table.shape[1] != 5:
            raise ValueError(f"{path.name}: expected 5 columns, got {table.shape[1]}")
        _TABLES[key] = (table[:, :4], table[:, 4].astype(int))
    return _TABLES[key]


_TABLES: dict[str, tuple] = {}


def train(root: Path) -> None:
    import joblib
    from sklearn.linear_model import LogisticRegression

    key = sha256(root / TRAIN)
    if key not in _FITTED:  # training is deterministic: the same data gives the same model
        x, y = load_csv(root / TRAIN)
        if len(set(y.tolist())) < 2:
            raise ValueError(f"cannot train on {len(y)} rows with fewer than two classes")
        _FITTED[key] = LogisticRegression().fit(x, y)
    joblib.dump(_FITTED[key], root / MODEL)


_FITTED: dict[str, object] = {}


_MODELS: dict[str, object] = {}


def load_model(path: Path):
    """The unpickled model, cached by content digest (unpickling is most of an example's cost)."""
    import io

    import joblib

    data = path.read_bytes()
    key = hashlib.sha256(data).hexdigest()
    if key not in _MODELS:
        _MODELS[key] = joblib.load(io.BytesIO(data))
    return _MODELS[key]


def restore_from_backup(root: Path, rel: str) -> bool:
    """Copy one file back from the backup; True when its digest then matches the manifest."""
    source = root / BACKUP / rel
    if not source.is_file():
        return False
    shutil.copyfile(source, root / rel)
    return sha256(root / rel) == read_manifest(root)[rel]


# -- recovery managers: (root, incidents) -> RecoveryResult ---------------------------------


def backup_recovery(root: Path, incidents: Sequence[Incident]) -> RecoveryResult:
    """The correct manager: restore every file whose digest is off, and check the digest after."""
    attempts = []
    for rel in damaged(root):
        ok = restore_from_backup(root, rel)
        attempts.append(Attempt(f"backup:{rel}", ok, error=None if ok else "backup missing or damaged"))
        if not ok:
            return RecoveryResult(False, "backup", attempts, message=f"cannot restore {rel}")
    failpoints.disarm(root)
    return RecoveryResult(True, "backup", attempts)


def size_blind_recovery(root: Path, incidents: Sequence[Incident]) -> RecoveryResult:
    """Broken: restores files that are missing or whose size changed, so a same-size bitflip survives."""
    attempts = []
    for rel in FILES:
        path, backup = root / rel, root / BACKUP / rel
        if not path.is_file() or path.stat().st_size != backup.stat().st_size:
            shutil.copyfile(backup, path)
            attempts.append(Attempt(f"backup:{rel}", True))
    return RecoveryResult(True, "backup-by-size", attempts)


def first_only_recovery(root: Path, incidents: Sequence[Incident]) -> RecoveryResult:
    """Broken: returns after repairing the first damaged file, so two incidents on two files defeat it."""
    for rel in damaged(root):
        ok = restore_from_backup(root, rel)
        return RecoveryResult(ok, "backup-first", (Attempt(f"backup:{rel}", ok),))
    return RecoveryResult(True, "nothing-to-do")


def clean_and_retrain_recovery(root: Path, incidents: Sequence[Incident]) -> RecoveryResult:
    """A repair without backups: drop unparsable training rows, retrain, and re-record the manifest."""
    path = root / TRAIN
    rows = path.read_text(errors="replace").splitlines()[1:]
    kept = [r for r in rows if _row_ok(r)]
    path.write_text("\n".join([HEADER, *kept]) + "\n")
    try:
        train(root)
    except ValueError as exc:
        return RecoveryResult(False, "clean-and-retrain", (Attempt("retrain", False, error=str(exc)),), message=str(exc))
    write_manifest(root)
    return RecoveryResult(True, "clean-and-retrain", (Attempt("retrain", True),))


def _row_ok(row: str) -> bool:
    cells = row.split(",")
    if len(cells) != 5:
        return False
    try:
        [float(c) for c in cells[:4]]
        return cells[4] in ("0", "1")
    except ValueError:
        return False


Recovery = Callable[[Path, Sequence[Incident]], RecoveryResult]


class ToyProject:
    """The ``MLProject`` of the toy system; ``recovery`` picks its recovery manager."""

    def __init__(self, recovery: Recovery = backup_recovery, name: str = "toy") -> None:
        self.recovery = recovery
        self.name = name

    def fingerprint(self) -> str:
        return "toy-1"

    def build(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        make_data(root)
        train(root)
        for rel in FILES:
            (root / BACKUP / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / rel, root / BACKUP / rel)
        write_manifest(root)

    def relocate(self, root: Path, old_root: Path) -> None:
        """Nothing to do: the toy stores no absolute path."""

    def artifacts(self, root: Path) -> Artifacts:
        return Artifacts(data=(TRAIN, TEST), models=(MODEL,), stages=tuple(STAGES), stage_outputs=dict(STAGES),
                         backups=BACKUP)

    def evaluate(self, root: Path) -> Mapping[str, float]:
        x, y = load_csv(root / TEST)
        return {"accuracy": float((load_model(root / MODEL).predict(x) == y).mean())}

    def detect(self, root: Path) -> Sequence[str]:
        problems = [f"{rel}: digest differs from {MANIFEST}" for rel in damaged(root)]
        problems += [f"failpoint armed for stage {stage}" for stage in failpoints.armed(root)]
        return problems

    def recover(self, root: Path, incidents: Sequence[Incident]) -> RecoveryResult:
        return self.recovery(root, incidents)

    def run_stage(self, root: Path, stage: str) -> None:
        failpoints.hit(root, stage)
        if stage == "prepare":
            make_data(root)
        elif stage == "train":
            train(root)
        else:
            raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")

    def check_model(self, root: Path) -> str | None:
        import numpy as np

        try:
            load_model(root / MODEL).predict(np.zeros((1, 4)))
        except Exception as exc:  # any reason the served model cannot load or predict
            return f"{type(exc).__name__}: {exc}"
        return None

    # -- optional operations the ChaosMachine uses ----------------------------------------
    def snapshot(self, root: Path, tag: str) -> None:
        """Copy the files, their backup and the manifest under ``snapshots/<tag>``."""
        target = root / SNAPSHOTS / tag
        for rel in STATE:
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / rel, target / rel)

    def rollback(self, root: Path, tag: str) -> None:
        source = root / SNAPSHOTS / tag
        for rel in STATE:
            shutil.copyfile(source / rel, root / rel)

    def retrain(self, root: Path) -> None:
        """Train on the current data, then refresh the backup and the manifest."""
        train(root)
        shutil.copyfile(root / MODEL, root / BACKUP / MODEL)
        write_manifest(root)
