"""Models: an abstract ``BaseModel``, ``RandomForestModel``, a k-fold ``Trainer`` and an ``Evaluator``."""

from __future__ import annotations

import abc
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import BusinessConfig, TrainConfig

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class ModelError(ValueError):
    """A model file that does not load or predict; the message names the file."""


class BaseModel(abc.ABC):
    """A binary churn classifier: fit, predict probabilities, save to and load from one file."""

    estimator: Any

    @abc.abstractmethod
    def fit(self, features: "pd.DataFrame", target: "np.ndarray") -> "BaseModel": ...

    def predict_proba(self, features: "pd.DataFrame") -> "np.ndarray":
        return self.estimator.predict_proba(features)[:, 1]

    def predict(self, features: "pd.DataFrame") -> "np.ndarray":
        return self.estimator.predict(features)

    def save(self, path: Path) -> None:
        """Save the fitted scikit-learn estimator with joblib (atomically)."""
        import joblib

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        intern_attribute_names(self.estimator)
        joblib.dump(self.estimator, tmp)
        os.replace(tmp, path)


def intern_attribute_names(obj: Any) -> None:
    """Give ``obj`` (and the objects it holds) attribute names that are the interned strings.

    Pickle refers back to a string it has already written only if it is the same object. Once a
    process has unpickled an estimator, scikit-learn's ``__setstate__`` has put non-interned
    names into the class's shared attribute table, and every new instance uses them; the same
    model would then pickle to other bytes than in a fresh process. Interning makes the file
    depend on the model alone, so a retrain anywhere reproduces the locked digest.
    """
    seen: set[int] = set()
    todo = [obj]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (list, tuple)):
            todo.extend(item)
        elif hasattr(item, "get_params") and isinstance(getattr(item, "__dict__", None), dict):
            item.__dict__ = {sys.intern(k) if type(k) is str else k: v for k, v in vars(item).items()}
            todo.extend(vars(item).values())


class RandomForestModel(BaseModel):
    """A random forest with a fixed ``random_state`` and one job, so a retrain is reproducible."""

    def __init__(self, config: TrainConfig) -> None:
        from sklearn.ensemble import RandomForestClassifier

        self.config = config
        self.estimator = RandomForestClassifier(
            n_estimators=config.n_estimators, max_depth=config.max_depth,
            min_samples_leaf=config.min_samples_leaf, random_state=config.random_state, n_jobs=1,
        )

    def fit(self, features: "pd.DataFrame", target: "np.ndarray") -> "RandomForestModel":
        self.estimator.fit(features, target)
        return self


def load_estimator(path: Path) -> Any:
    """Load a joblib model file and check it is a fitted classifier; ModelError names the file otherwise."""
    import joblib

    if not path.is_file():
        raise ModelError(f"{path}: model file is missing")
    try:
        estimator = joblib.load(path)
    except Exception as exc:  # unpickling garbage raises anything
        raise ModelError(f"{path}: not a loadable model ({type(exc).__name__}: {str(exc)[:80]})") from None
    if not callable(getattr(estimator, "predict_proba", None)) or not hasattr(estimator, "n_features_in_"):
        raise ModelError(f"{path}: holds a {type(estimator).__name__}, not a fitted classifier")
    return estimator


def smoke_predict(estimator: Any, where: str) -> None:
    """Predict one all-zero row of the right shape; ModelError when it cannot."""
    import numpy as np
    import pandas as pd

    names = getattr(estimator, "feature_names_in_", None)
    width = int(estimator.n_features_in_)
    row = pd.DataFrame(np.zeros((1, width)), columns=list(names)) if names is not None else np.zeros((1, width))
    try:
        proba = estimator.predict_proba(row)
    except Exception as exc:
        raise ModelError(f"{where}: model does not predict ({type(exc).__name__}: {str(exc)[:80]})") from None
    if proba.shape != (1, 2) or not np.isfinite(proba).all():
        raise ModelError(f"{where}: model predicts {proba!r}, not two class probabilities")


@dataclass
class Trainer:
    """Fits a ``RandomForestModel``; ``cross_validate`` gives k-fold F1 and ROC-AUC."""

    config: TrainConfig

    def train(self, features: "pd.DataFrame", target: "np.ndarray") -> RandomForestModel:
        return RandomForestModel(self.config).fit(features, target)

    def cross_validate(self, features: "pd.DataFrame", target: "np.ndarray") -> dict[str, float]:
        from sklearn.model_selection import StratifiedKFold, cross_validate

        folds = StratifiedKFold(self.config.cv_folds, shuffle=True, random_state=self.config.random_state)
        scores = cross_validate(RandomForestModel(self.config).estimator, features, target, cv=folds,
                                scoring=("f1", "roc_auc"), n_jobs=1)
        return {"cv_f1_mean": float(scores["test_f1"].mean()), "cv_f1_std": float(scores["test_f1"].std()),
                "cv_roc_auc_mean": float(scores["test_roc_auc"].mean())}


LOWER_IS_BETTER = frozenset({"cost_false_positives", "cost_false_negatives"})


@dataclass
class Evaluator:
    """Classification metrics, the confusion matrix and the business value of a retention campaign.

    Every customer predicted to churn gets an offer (``offer_cost``); a true churner who gets
    one stays with probability ``save_rate`` and is worth ``customer_value``.
    """

    business: BusinessConfig
    threshold: float = 0.5

    def evaluate(self, target: "np.ndarray", proba: "np.ndarray") -> dict[str, Any]:
        import numpy as np
        from sklearn.metrics import roc_auc_score

        predicted = (proba >= self.threshold).astype(int)
        tp = int(np.sum((predicted == 1) & (target == 1)))
        fp = int(np.sum((predicted == 1) & (target == 0)))
        fn = int(np.sum((predicted == 0) & (target == 1)))
        tn = int(np.sum((predicted == 0) & (target == 0)))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        b = self.business
        saved_value = b.customer_value * b.save_rate
        campaign = (tp + fp) * b.offer_cost
        revenue = tp * saved_value
        net = revenue - campaign
        return {
            "accuracy": (tp + tn) / len(target) if len(target) else 0.0,
            "precision": precision, "recall": recall, "f1": f1,
            "roc_auc": float(roc_auc_score(target, proba)) if 0 < target.sum() < len(target) else 0.0,
            "cost_false_positives": fp * b.offer_cost,
            "cost_false_negatives": fn * saved_value,
            "revenue_true_positives": revenue,
            "net_value": net,
            "roi": net / campaign if campaign else 0.0,
            "confusion_matrix": [[tn, fp], [fn, tp]],
        }


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
