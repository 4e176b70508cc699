"""The pipeline stages, one function each, run in-process (``python -m project_under_test.stages STAGE`` for ``dvc repro``).

Like DVC, a stage removes its declared outputs before it runs, so a failed stage leaves them
missing and a failure marker (``.pipeline/failed/<stage>.json``) that the recovery manager clears.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Callable

from pytest_mlchaos import failpoints

from . import config as config_mod
from .layout import FAILED_DIR, METRICS, MODEL, RAW, STAGE_OUTPUTS, STAGES, TEST, TRAIN


class StageError(RuntimeError):
    """A stage that failed; the message names the stage and the cause."""


def _generate(root: Path, cfg: config_mod.Config) -> Callable[[], None]:
    from . import data

    frame = data.generate(cfg.data.rows, cfg.data.seed)
    return lambda: data.write_csv(frame, root / RAW)


def _process(root: Path, cfg: config_mod.Config) -> Callable[[], None]:
    from . import data

    frame, report = data.load(root / RAW)
    if not report.ok:
        raise data.DataError(report.summary())
    train, test = data.process(data.clean(frame, report), cfg.process.test_size, cfg.data.seed)

    def write() -> None:
        data.write_csv(train, root / TRAIN)
        data.write_csv(test, root / TEST)
    return write


def _train(root: Path, cfg: config_mod.Config) -> Callable[[], None]:
    from . import data
    from .models import Trainer

    report = data.validate_processed(root / TRAIN)
    if not report.ok:
        raise data.DataError(report.summary())
    features, target = data.features_and_target(data.read_csv(root / TRAIN))
    model = Trainer(cfg.train).train(features, target)
    return lambda: model.save(root / MODEL)


def compute_metrics(root: Path, cfg: config_mod.Config | None = None) -> dict:
    """Metrics of ``models/model.pkl`` on ``data/processed/test.csv`` (raises naming the broken file)."""
    from . import data
    from .models import Evaluator, load_estimator

    cfg = cfg or config_mod.load(root)
    estimator = load_estimator(root / MODEL)
    report = data.validate_processed(root / TEST)
    if not report.ok:
        raise data.DataError(report.summary())
    features, target = data.features_and_target(data.read_csv(root / TEST))
    try:
        proba = estimator.predict_proba(features)[:, 1]
    except Exception as exc:
        raise StageError(f"{root / MODEL}: does not predict on {TEST} ({type(exc).__name__}: {exc})") from None
    return Evaluator(cfg.business).evaluate(target, proba)


def _evaluate(root: Path, cfg: config_mod.Config) -> Callable[[], None]:
    metrics = compute_metrics(root, cfg)

    def write() -> None:
        tmp = root / (METRICS + ".tmp")
        tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, root / METRICS)
    return write


RUNNERS = {"generate": _generate, "process": _process, "train": _train, "evaluate": _evaluate}


def marker_path(root: Path, stage: str) -> Path:
    return Path(root) / FAILED_DIR / f"{stage}.json"


def execute(root: Path, stage: str) -> None:
    """Run one stage's code with its failpoints; on failure leave a marker and raise StageError."""
    if stage not in RUNNERS:
        raise StageError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
    root = Path(root)
    for rel in STAGE_OUTPUTS[stage]:
        (root / rel).unlink(missing_ok=True)
    try:
        failpoints.hit(root, stage)
        write = RUNNERS[stage](root, config_mod.load(root))
        failpoints.hit(root, stage, "write")
        write()
    except Exception as exc:
        for rel in STAGE_OUTPUTS[stage]:
            (root / rel).unlink(missing_ok=True)
        marker = marker_path(root, stage)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"stage": stage, "error": f"{type(exc).__name__}: {exc}", "time": time.time()}))
        raise StageError(f"stage {stage!r} failed: {type(exc).__name__}: {exc}") from exc
    marker_path(root, stage).unlink(missing_ok=True)


def run_stage(root: Path, stage: str) -> None:
    """Run one stage in-process and record it in ``dvc.lock``; raises StageError on failure."""
    from .dvcops import commit_stages

    execute(root, stage)
    commit_stages(root, [stage])


def run_pipeline(root: Path, start: str = "generate", record: bool = True) -> tuple[str, ...]:
    """Run ``start`` and every later stage, then record them in ``dvc.lock``; returns the stages run."""
    from .dvcops import commit_stages
    from .layout import downstream

    stages = downstream(start)
    for stage in stages:
        execute(root, stage)
    if record:
        commit_stages(root, stages)
    return stages


class PipelineRun:
    """The stages from ``start`` on, run in order by a child process while the caller does other work."""

    def __init__(self, root: Path, start: str = "generate") -> None:
        import subprocess
        import tempfile

        from .layout import downstream

        self.root = Path(root)
        self.stages = downstream(start)
        self._stderr = tempfile.TemporaryFile(mode="w+")  # a pipe could fill up and stall the child
        self._child = subprocess.Popen([sys.executable, "-m", "project_under_test.stages", *self.stages],
                                       cwd=self.root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=self._stderr)

    def finish(self) -> tuple[str, ...]:
        """Wait for the child and record the stages in ``dvc.lock``; StageError with its message if it failed."""
        from .dvcops import commit_stages

        code = self._child.wait()
        self._stderr.seek(0)
        lines = [line for line in self._stderr.read().splitlines() if line.strip()]
        self._stderr.close()
        if code != 0:
            raise StageError(lines[-1] if lines else f"the pipeline's child process exited with status {code}")
        commit_stages(self.root, self.stages)
        return self.stages

    def stop(self) -> None:
        """Kill the child if it still runs (the caller failed); its stages are left as a killed run leaves them."""
        if self._child.poll() is None:
            self._child.kill()
        self._child.wait()
        self._stderr.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m project_under_test.stages STAGE [STAGE ...]``: run the stages in order in the working directory."""
    args = sys.argv[1:] if argv is None else argv
    if not args or any(arg not in RUNNERS for arg in args):
        print(f"usage: python -m project_under_test.stages {{{','.join(STAGES)}}} [...]", file=sys.stderr)
        return 2
    try:
        for stage in args:
            execute(Path.cwd(), stage)
    except StageError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
