"""A small but real ML project for the plugin's own tests: a CSV, a scikit-learn model, backups.

It implements ``MLProject`` in ~150 lines so pytester runs stay fast; its recovery manager can be
made deliberately wrong (``noop``, ``data_only``) to prove the plugin is not fooled.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Sequence

from pytest_mlchaos import failpoints
from pytest_mlchaos.artifacts import Artifacts
from pytest_mlchaos.project import Attempt, RecoveryResult

DATA = "data/data.csv"
MODEL = "models/model.pkl"
MANIFEST = "manifest.json"
COLUMNS = ["x1", "x2", "x3", "churn"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_data(path: Path, rows: int = 300, seed: int = 7) -> None:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for _ in range(rows):
            x1, x2, x3 = (round(rng.gauss(0, 1), 4) for _ in range(3))
            writer.writerow([x1, x2, x3, int(x1 + 0.5 * x2 + rng.gauss(0, 0.3) > 0)])


def read_data(path: Path) -> tuple[list[list[float]], list[int]]:
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        if header != COLUMNS:
            raise ValueError(f"{path.name}: columns {header} are not {COLUMNS}")
        xs, ys = [], []
        for row in reader:
            if len(row) != len(COLUMNS):
                raise ValueError(f"{path.name}: row {len(xs) + 2} has {len(row)} fields")
            xs.append([float(v) for v in row[:3]])
            ys.append(int(row[3]))
    return xs, ys


def train(root: Path) -> None:
    import joblib
    from sklearn.linear_model import LogisticRegression

    xs, ys = read_data(root / DATA)
    model = LogisticRegression().fit(xs, ys)
    (root / MODEL).parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, root / MODEL)


class ToyProject:
    """``recovery``: ``good`` restores every damaged file from backups (and backups from verified files); ``noop`` claims success and
    does nothing; ``data_only`` restores data but not the model; ``honest_fail`` says it cannot."""

    name = "toyml"

    def __init__(self, recovery: str = "good") -> None:
        self.recovery = recovery

    def fingerprint(self) -> str:
        return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]

    def build(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        write_data(root / DATA)
        train(root)
        for rel in (DATA, MODEL):
            (root / "backups" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, root / "backups" / rel)
        (root / MANIFEST).write_text(json.dumps({rel: _digest(root / rel) for rel in (DATA, MODEL)}))

    def relocate(self, root: Path, old_root: Path) -> None:
        pass

    def artifacts(self, root: Path) -> Artifacts:
        return Artifacts(data=(DATA,), models=(MODEL,), stages=("prepare", "train"),
                         stage_outputs={"prepare": (DATA,), "train": (MODEL,)}, backups="backups")

    def evaluate(self, root: Path) -> dict[str, float]:
        import joblib
        from sklearn.metrics import accuracy_score, f1_score

        xs, ys = read_data(root / DATA if (root / DATA).is_file() else root / "backups" / DATA)
        predicted = joblib.load(root / MODEL).predict(xs)
        return {"accuracy": float(accuracy_score(ys, predicted)), "f1": float(f1_score(ys, predicted))}

    def check_model(self, root: Path) -> str | None:
        try:
            import joblib

            joblib.load(root / MODEL).predict([[0.0, 0.0, 0.0]])
        except Exception as exc:  # any failure to load or predict is the answer
            return f"{MODEL} does not load and predict: {type(exc).__name__}: {exc}"
        return None

    def detect(self, root: Path) -> list[str]:
        manifest = json.loads((root / MANIFEST).read_text())
        problems = []
        for rel, digest in manifest.items():
            path = root / rel
            if not path.is_file():
                problems.append(f"{rel}: missing")
            elif _digest(path) != digest:
                problems.append(f"{rel}: digest differs from the manifest")
        return problems

    def run_stage(self, root: Path, stage: str) -> None:
        output = root / (DATA if stage == "prepare" else MODEL)
        output.unlink(missing_ok=True)  # like DVC, a stage removes its outputs before it runs
        failpoints.hit(root, stage)
        failpoints.hit(root, stage, "write")
        if stage == "prepare":
            write_data(output)
        else:
            train(root)

    def recover(self, root: Path, incidents: Sequence[object]) -> RecoveryResult:
        if self.recovery == "noop":
            return RecoveryResult(recovered=True, strategy="noop")
        if self.recovery == "honest_fail":
            return RecoveryResult(recovered=False, strategy=None, message="no backup strategy configured")
        if self.recovery == "hang":  # restores the data, starts a helper process, then waits on a remote forever
            shutil.copy2(root / "backups" / DATA, root / DATA)
            helper = subprocess.Popen(["sleep", "600"])
            (root / "hang-helper.pid").write_text(str(helper.pid))
            time.sleep(600)
        start = time.perf_counter()
        damaged = [p.split(":")[0] for p in self.detect(root)]
        if self.recovery == "data_only":
            damaged = [rel for rel in damaged if rel == DATA]
        for rel in damaged:
            if (root / "backups" / rel).is_file():  # no backup: it stays damaged, and the answer says so
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / "backups" / rel, root / rel)
        if self.recovery == "good":  # and a backup that is lost or damaged is made again from the verified file
            manifest = json.loads((root / MANIFEST).read_text())
            for rel, digest in manifest.items():
                backup = root / "backups" / rel
                if (not backup.is_file() or _digest(backup) != digest) and _digest(root / rel) == digest:
                    backup.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(root / rel, backup)
        seconds = time.perf_counter() - start
        ok = not [p for p in self.detect(root) if p.split(":")[0] in damaged]
        return RecoveryResult(recovered=ok, strategy="backup", attempts=(Attempt("backup", ok, seconds),),
                              seconds=seconds)


project = ToyProject()
noop_project = ToyProject("noop")
data_only_project = ToyProject("data_only")
honest_fail_project = ToyProject("honest_fail")
hang_project = ToyProject("hang")
