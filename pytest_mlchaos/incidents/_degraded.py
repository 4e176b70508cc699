"""A picklable stand-in for a worse model: wraps the real estimator and gets a fraction of answers wrong.

What a bad merge or a mixed-up artifact ships: it loads, it predicts, its metrics are worse.
Kept in its own module (numpy imported lazily) so unpickling it costs nothing extra.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DegradedModel"]


class DegradedModel:
    """Delegates to ``inner``; ``predict``/``predict_proba`` are wrong on a seeded ``fraction`` of the rows."""

    def __init__(self, inner: Any, fraction: float, seed: int) -> None:
        self.inner = inner
        self.fraction = fraction
        self.seed = seed

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("inner", "fraction", "seed"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _wrong(self, n: int) -> Any:
        import numpy as np

        return np.random.default_rng(self.seed).random(n) < self.fraction

    def predict(self, X: Any) -> Any:
        import numpy as np

        pred = np.asarray(self.inner.predict(X)).copy()
        wrong = self._wrong(len(pred))
        classes = getattr(self.inner, "classes_", None)
        if classes is not None and len(classes) > 1:
            classes = list(classes)
            index = {c: i for i, c in enumerate(classes)}
            for i in np.flatnonzero(wrong):
                pred[i] = classes[(index.get(pred[i], 0) + 1) % len(classes)]
        else:
            spread = float(np.std(pred)) or 1.0
            pred = pred.astype(float)
            pred[wrong] += 2.0 * spread
        return pred

    def predict_proba(self, X: Any) -> Any:
        import numpy as np

        proba = np.asarray(self.inner.predict_proba(X)).copy()
        wrong = self._wrong(len(proba))
        proba[wrong] = np.roll(proba[wrong], 1, axis=1)
        return proba

    def __repr__(self) -> str:
        return f"DegradedModel({self.inner!r}, fraction={self.fraction})"
