"""A small real regression project for the metric-direction tests: rmse is the metric that matters.

The baseline model sees one of three features; a recovery manager may restore it from the
backup (``good``), retrain a model that predicts the mean (``worse``: rmse about triples) or
retrain on all three features (``better``: rmse about halves). ``abs_dev`` is the mean absolute
deviation under a name no convention knows; ``explained_error`` is the explained variance under
a name that looks like an error.
"""

from __future__ import annotations

import csv
import hashlib
import random
import shutil
import time
from pathlib import Path
from typing import Sequence

from pytest_mlchaos.artifacts import Artifacts
from pytest_mlchaos.project import Attempt, RecoveryResult

TRAIN, TEST, MODEL = "data/train.csv", "data/test.csv", "models/model.pkl"


def _write(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["x1", "x2", "x3", "y"])
        for _ in range(rows):
            x = [round(rng.gauss(0, 1), 4) for _ in range(3)]
            out.writerow([*x, round(2 * x[0] + 3 * x[1] - 2.5 * x[2] + rng.gauss(0, 0.3), 4)])


def _read(path: Path) -> tuple[list[list[float]], list[float]]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    return [[float(v) for v in r[:3]] for r in rows], [float(r[3]) for r in rows]


def _fit(root: Path, features: Sequence[int] | None) -> None:
    import joblib
    from sklearn.dummy import DummyRegressor
    from sklearn.linear_model import LinearRegression

    xs, ys = _read(root / TRAIN)
    model = DummyRegressor() if features is None else LinearRegression()
    columns = list(features or (0,))
    model.fit([[x[i] for i in columns] for x in xs], ys)
    model.columns_ = columns
    (root / MODEL).parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, root / MODEL)


def _scores(root: Path, split: str) -> dict[str, float]:
    """rmse, r2, abs_dev and explained_error of the model on ``split``."""
    import joblib

    xs, ys = _read(root / split)
    model = joblib.load(root / MODEL)
    predicted = model.predict([[x[i] for i in model.columns_] for x in xs])
    errors = [p - y for p, y in zip(predicted, ys)]
    mean = sum(ys) / len(ys)
    variance = sum((y - mean) ** 2 for y in ys)
    sse = sum(e * e for e in errors)
    return {"rmse": (sse / len(ys)) ** 0.5, "r2": 1 - sse / variance,
            "abs_dev": sum(abs(e) for e in errors) / len(ys), "explained_error": 1 - sse / variance}


class RegressionProject:
    """``recovery`` is ``good``, ``worse`` or ``better``; ``lower_is_better``/``higher_is_better`` as declared."""

    name = "toyreg"

    def __init__(self, recovery: str = "good", lower_is_better: Sequence[str] = (),
                 higher_is_better: Sequence[str] = ()) -> None:
        self.recovery = recovery
        self.lower_is_better = tuple(lower_is_better)
        self.higher_is_better = tuple(higher_is_better)

    def fingerprint(self) -> str:
        return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]

    def build(self, root: Path) -> None:
        _write(root / TRAIN, 400, 1)
        _write(root / TEST, 200, 2)
        _fit(root, (0, 1))
        (root / "backups").mkdir(parents=True)
        shutil.copy2(root / MODEL, root / "backups" / "model.pkl")

    def relocate(self, root: Path, old_root: Path) -> None:
        pass

    def artifacts(self, root: Path) -> Artifacts:
        return Artifacts(data=(TRAIN, TEST), models=(MODEL,), stages=("train",), stage_outputs={"train": (MODEL,)},
                         sources=(TRAIN, TEST), holdout=(TEST,), backups="backups")

    def evaluate(self, root: Path) -> dict[str, float]:
        return _scores(root, TEST)

    def detect(self, root: Path) -> list[str]:
        return [] if (root / MODEL).is_file() else [f"{MODEL}: missing"]

    def recover(self, root: Path, incidents: Sequence[object]) -> RecoveryResult:
        start = time.perf_counter()
        if self.recovery == "good":
            shutil.copy2(root / "backups" / "model.pkl", root / MODEL)
        else:
            _fit(root, None if self.recovery == "worse" else (0, 1, 2))
        seconds = time.perf_counter() - start
        return RecoveryResult(True, self.recovery, (Attempt(self.recovery, True, seconds),), seconds)


class NestedRegressionProject(RegressionProject):
    """Metrics under nested keys, as dvclive writes them: ``rmse.test``, ``rmse.train``, ``r2.test``, ``r2.train``."""

    def evaluate(self, root: Path) -> dict[str, float]:
        test, train = _scores(root, TEST), _scores(root, TRAIN)
        return {f"{name}.{split}": value for split, values in (("test", test), ("train", train))
                for name, value in values.items() if name in ("rmse", "r2")}


good = RegressionProject()
worse = RegressionProject("worse")
better = RegressionProject("better")
worse_declared = RegressionProject("worse", lower_is_better=("abs_dev",))
worse_says_higher = RegressionProject("worse", higher_is_better=("explained_error",))
nested_worse = NestedRegressionProject("worse")
