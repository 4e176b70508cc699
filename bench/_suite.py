"""Benchmarks 5 and 6: the chaos suite as users run it (subprocesses of ``pytest --mlchaos``).

5. Parallel speed-up: ``pytest --mlchaos scenarios/ -p no:randomly -q`` with ``-n 0`` and ``-n 2``,
   interleaved, on a warm baseline cache.
6. Cached baseline: a one-test chaos run with a fresh ``-o cache_dir`` (cold: the session builds
   the baseline) and again with the same cache dir (warm: the session loads it).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from _common import BENCH, PYTHON, REPO, Figure, clean_env, log, run_timed

ONE_TEST = "scenarios/test_core_incidents.py::test_a_deleted_model_is_restored"
G5 = "5. parallel speed-up (scenarios/, warm baseline cache)"
G6 = "6. cached baseline (one-test chaos run, subprocess)"


def _pytest(args: list[str], cache: Path, first: Path | None = None, check_rc: tuple[int, ...] = (0,)) -> tuple[float, dict, str]:
    env = clean_env(PYTHONPATH=str(BENCH), **({"MLCHAOS_BENCH_FIRST": str(first)} if first else {}))
    if first is not None and first.exists():
        first.unlink()
    spawned = time.time()
    seconds, proc = run_timed([PYTHON, "-m", "pytest", "--mlchaos", "-p", "no:randomly", "-p", "_firsttest",
                               "-o", f"cache_dir={cache}", *args], cwd=REPO, env=env, check=False)
    if proc.returncode not in check_rc:
        raise RuntimeError(f"pytest {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    marks = json.loads(first.read_text()) if first is not None and first.is_file() else {}
    marks = {k: v - spawned for k, v in marks.items()}
    summary = (proc.stdout.strip().splitlines() or [""])[-1]
    return seconds, marks, summary


def stores(cache: Path) -> list[Path]:
    """Baseline stores the plugin left in the pytest cache dir ``cache``."""
    root = cache / "d" / "mlchaos"
    return sorted(p for p in root.glob("*") if p.is_dir() and (p / "env").is_dir()) if root.is_dir() else []


def cached(work: Path, n: int, cold_runs: int, warmup: int = 1) -> tuple[list[Figure], Path]:
    """Cold and warm one-test runs; returns the figures and a warm cache dir for later runs."""
    first = work / "first.json"
    cold_total, cold_first, warm_total, warm_first = [], [], [], []
    warm_start, warm_setup = [], []
    warm_cache = work / "cache-cold-0"
    for i in range(cold_runs):
        cache = work / f"cache-cold-{i}"
        log(f"cached baseline: cold run {i + 1}/{cold_runs}")
        seconds, marks, _ = _pytest(["-q", ONE_TEST], cache, first)
        cold_total.append(seconds)
        cold_first.append(marks.get("first_call", float("nan")))
        warm_cache = cache
    log(f"cached baseline: {warmup} warm-up + {n} warm runs")
    for i in range(warmup + n):
        seconds, marks, _ = _pytest(["-q", ONE_TEST], warm_cache, first)
        if i >= warmup:
            warm_total.append(seconds)
            warm_first.append(marks.get("first_call", float("nan")))
            warm_start.append(marks.get("sessionstart", float("nan")))
            warm_setup.append(marks.get("first_call", float("nan")) - marks.get("first_setup", float("nan")))
    speedups = [c / w for c, w in zip(sorted(cold_first), sorted(warm_first))] if cold_first else []
    verify = _verify_template(warm_cache, n)
    figures = [
        Figure(G6, "warm: spawn -> first chaos test body", warm_first, target=2.0,
               note="wall time from starting `pytest --mlchaos` to the first test's call phase (after its "
                    "fixtures: baseline loaded, env cloned and injected)"),
        Figure(G6, "cold: spawn -> first chaos test body", cold_first, note="fresh -o cache_dir: the baseline is built"),
        Figure(G6, "cold / warm, time to first test", [_med(cold_first) / _med(warm_first)], unit="x", target=5.0,
               at_least=True, extra={"pairwise": speedups}),
        Figure(G6, "  warm: spawn -> session start (python+pytest+plugins)", warm_start),
        Figure(G6, "  warm: first test setup (baseline load, clone, inject)", warm_setup),
        Figure(G6, "  warm: whole one-test run (spawn -> exit)", warm_total,
               note="includes the project's own detect/recover/evaluate (its first sklearn import)"),
        Figure(G6, "  cold: whole one-test run (spawn -> exit)", cold_total),
        Figure(G6, "  cold / warm, whole run", [_med(cold_total) / _med(warm_total)], unit="x"),
        Figure(G6, "cached template verified against its manifest", verify,
               note="before the first clone of a run: every artifact, store file and registry entry hashed "
                    "(in a fresh interpreter state: nothing in the digest cache)"),
        Figure(G6, "verification / warm one-test run", [v / _med(warm_total) for v in verify], unit="x", target=0.05),
    ]
    return figures, warm_cache


def _verify_template(cache: Path, n: int) -> list[float]:
    """Seconds to verify the cached template in ``cache`` as a session does before its first clone."""
    from project_under_test.chaos import project
    from pytest_mlchaos.env import verify_template
    from pytest_mlchaos.session import baseline_key

    (store,) = stores(cache)[:1] or (None,)
    if store is None:
        return []
    samples = []
    for _ in range(max(n, 3)):
        start = time.perf_counter()
        baseline, why = verify_template(project, store, baseline_key(project))
        samples.append(time.perf_counter() - start)
        if baseline is None:
            raise RuntimeError(f"the warm cache's template did not verify: {why}")
    return samples


def parallel(cache: Path, n: int, select: list[str] | None = None) -> list[Figure]:
    """Interleaved ``-n 0`` and ``-n 2`` runs of the chaos suite on the warm cache ``cache``."""
    args = ["-q", *(select or ["scenarios/"])]
    serial, par, summaries = [], [], []
    for i in range(n):
        log(f"parallel: pair {i + 1}/{n} (-n 0, then -n 2)")
        s, _, sum0 = _pytest([*args, "-n", "0"], cache, check_rc=(0, 1))
        p, _, sum2 = _pytest([*args, "-n", "2"], cache, check_rc=(0, 1))
        serial.append(s)
        par.append(p)
        summaries.append((sum0, sum2))
    counts = _counts(summaries[-1][0]) if summaries else ""
    return [
        Figure(G5, "-n 2 / -n 0 wall time", [p / s for p, s in zip(par, serial)], unit="x", target=0.65,
               note=f"suite: {' '.join(select or ['scenarios/'])}; last -n 0 result: {counts}; "
                    f"last -n 2 result: {_counts(summaries[-1][1]) if summaries else ''}"),
        Figure(G5, "  -n 0 wall time", serial),
        Figure(G5, "  -n 2 wall time", par),
    ]


def _counts(summary: str) -> str:
    return re.sub(r"=+", "", summary).strip()


def _med(values: list[float]) -> float:
    import statistics

    return statistics.median(values) if values else float("nan")
