"""Variants of the toy project that break in the places the ``error`` verdict and containment are about."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from toyml import DATA, ToyProject

from pytest_mlchaos.project import RecoveryResult

DETECT_BOOM = "DETECT_BOOM"  # a test body creates it to make detect() raise
BROKEN_EVAL = ".broken-eval"


class FragileProject(ToyProject):
    """``recover`` raises on a truncated model; after a deleted model it recovers but leaves evaluation broken;
    ``detect`` raises while ``DETECT_BOOM`` exists."""

    name = "fragile"

    def detect(self, root: Path) -> list[str]:
        if (root / DETECT_BOOM).exists():
            raise OSError("the health endpoint is down")
        return super().detect(root)

    def recover(self, root: Path, incidents: Sequence[object]) -> RecoveryResult:
        modes = {getattr(i, "mode", None) for i in incidents}
        if "truncate" in modes:
            raise RuntimeError("the backup volume is gone")
        result = super().recover(root, incidents)
        if "delete" in modes:
            (root / BROKEN_EVAL).write_text("")
        return result

    def evaluate(self, root: Path) -> dict[str, float]:
        if (root / BROKEN_EVAL).exists():
            raise ValueError("the evaluation data cannot be read")
        return super().evaluate(root)


class EscapingProject(ToyProject):
    """Recovers, then leaves a symlink to ``$MLCHAOS_TEST_OUTSIDE`` inside the environment."""

    name = "escaping"

    def recover(self, root: Path, incidents: Sequence[object]) -> RecoveryResult:
        result = super().recover(root, incidents)
        os.symlink(os.environ["MLCHAOS_TEST_OUTSIDE"], root / "data" / "shortcut.csv")
        return result


class LazyMetricsProject(ToyProject):
    """Retrains instead of restoring, writes ``metrics.json`` and has ``evaluate`` read it back: the plugin
    must not take the recovery's word for its metrics."""

    name = "lazymetrics"

    def build(self, root: Path) -> None:
        super().build(root)
        (root / "metrics.json").write_text(json.dumps(super().evaluate(root)))

    def artifacts(self, root: Path):  # type: ignore[no-untyped-def]
        from dataclasses import replace

        return replace(super().artifacts(root), metrics_file="metrics.json")

    def evaluate(self, root: Path) -> dict[str, float]:
        return json.loads((root / "metrics.json").read_text())

    def recover(self, root: Path, incidents: Sequence[object]) -> RecoveryResult:
        from toyml import train

        train(root)  # the same data, a fresh fit: different bytes
        (root / "metrics.json").write_text(json.dumps({"accuracy": 1.0, "f1": 1.0}))
        return RecoveryResult(True, "retrain")


fragile = FragileProject()
escaping = EscapingProject()
lazy_metrics = LazyMetricsProject()
__all__ = ["DATA", "DETECT_BOOM", "escaping", "fragile", "lazy_metrics"]
