"""Benchmark 3: time to recover per strategy, through the reference project's real recovery manager.

Each case clones the baseline, removes the sources earlier in the chain (as the strategy-winning
tests in ``tests/project/test_project_recovery.py`` do), damages a file and calls
``RecoveryManager(env).recover(incidents)``. The figure is the winning attempt's own seconds
(``Attempt.seconds``); the whole ``recover`` call (health scans before and after, putting the
lost copies back, committing) is shown beside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from _common import Figure, log

GROUP = "3. MTTR per strategy (recovery manager, 5,000 rows)"
# strategy -> (target seconds for the winning attempt, what it restores)
TARGETS = {"backup": 0.1, "dvc_cache": 0.3, "dvc_remote": 0.5, "mlflow_registry": 0.5, "snapshot": 3.0,
           "rerun_pipeline": 10.0}
UPSTREAM = [("backup", "backup restore < 1 s", 1.0), ("dvc_cache", "DVC restore < 5 s (cache)", 5.0),
            ("dvc_remote", "DVC restore < 5 s (remote)", 5.0), ("rerun_pipeline", "full restore < 30 s (rerun)", 30.0),
            ("snapshot", "full restore < 30 s (snapshot)", 30.0)]


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.chmod(0o644)
        path.unlink()


def _lose(env: Path, rel: str, upto: str) -> None:
    """Remove the copies of ``rel`` that come before ``upto`` in the chain backup, dvc_cache, dvc_remote, snapshot."""
    from project_under_test.dvcops import cache_object, locked_outs, remote_object

    md5 = locked_outs(env)[rel].md5
    order = ["backup", "dvc_cache", "dvc_remote", "snapshot"]
    paths = {"backup": env / "backups" / rel, "dvc_cache": cache_object(env, md5),
             "dvc_remote": remote_object(env, md5), "snapshot": env / "snapshots" / "baseline" / "files" / rel}
    for name in order[: order.index(upto)]:
        _remove(paths[name])


def _damage(strategy: str, env: Path) -> list:
    from project_speed import bitflip
    from project_under_test.chaos import project
    from project_under_test.layout import MODEL, RAW
    from pytest_mlchaos import failpoints
    from pytest_mlchaos.incidents.spec import Incident

    if strategy in ("backup", "dvc_cache", "dvc_remote", "snapshot"):
        _lose(env, RAW, strategy)
        bitflip(env / RAW)
        return [Incident("data_corruption", "noise")]
    if strategy == "mlflow_registry":
        _lose(env, MODEL, "snapshot")
        (env / MODEL).write_bytes(b"not a model")
        return [Incident("model_loss", "corrupt")]
    if strategy == "rerun_pipeline":
        failpoints.arm(env, "train", "raise")
        try:
            project.run_stage(env, "train")
        except RuntimeError:
            pass
        else:
            raise AssertionError("the armed failpoint did not fail the train stage")
        _lose(env, MODEL, "snapshot")
        return []
    raise ValueError(f"unknown strategy {strategy!r}; allowed: {', '.join(TARGETS)}")


def one(template: Path, work: Path, strategy: str, index: int) -> tuple[float, float]:
    """(seconds of the winning attempt, seconds of the whole recover call) for one fresh clone."""
    import time

    from project_speed import clone
    from project_under_test.recovery import RecoveryManager

    env = clone(template, work / f"mttr-{strategy}-{index}")
    try:
        incidents = _damage(strategy, env)
        start = time.perf_counter()
        result = RecoveryManager(env).recover(incidents)
        total = time.perf_counter() - start
        won = [a for a in result.attempts if a.succeeded]
        if not result.recovered or not won or won[0].strategy != strategy:
            raise RuntimeError(f"{strategy} did not win: recovered={result.recovered} "
                               f"attempts={[(a.strategy, a.succeeded) for a in result.attempts]} {result.message}")
        return won[0].seconds, total
    finally:
        shutil.rmtree(env, ignore_errors=True)


def run(template: Path, work: Path, n: int, warmup: int, strategies: tuple[str, ...] = tuple(TARGETS)) -> list[Figure]:
    figures = []
    totals: dict[str, list[float]] = {}
    for strategy in strategies:
        log(f"mttr: {strategy} ({max(warmup, 1) if strategy == strategies[0] else warmup} warm-up + {n})")
        won, whole = [], []
        skip = max(warmup, 1) if strategy == strategies[0] else warmup  # the first pays the process's imports
        for i in range(skip + n):
            a, t = one(template, work, strategy, i)
            if i >= skip:
                won.append(a)
                whole.append(t)
        totals[strategy] = whole
        figures.append(Figure(GROUP, f"{strategy}: winning attempt", won, target=TARGETS[strategy]))
        figures.append(Figure(GROUP, f"  {strategy}: whole recover() call", whole))
    for strategy, label, promise in UPSTREAM:
        if strategy in totals:
            figures.append(Figure("3b. upstream promises (whole recover() call)", f"{label}: ours", totals[strategy],
                                  target=promise))
    return figures
