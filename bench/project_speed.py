"""Speed of the reference MLOps system against its targets (prints figures and ratios; not a test).

    /work/venv/bin/python bench/project_speed.py [--rows 5000] [--keep DIR]

Measures, in a temp directory: ``mlops init`` (a fresh process, as a user runs it), restoring a
corrupted data file from the DVC cache and from the remote (the winning attempt, and the whole
``recover`` call with its health checks), ``mlops rollback`` (a fresh process), and the adapter's
``evaluate``/``detect`` per chaos test. A ratio above 1.00 misses the target.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {
    "mlops init (5,000 rows)": 15.0,
    "restore data file from DVC cache": 0.3,
    "restore data file from DVC remote": 0.5,
    "mlops rollback": 3.0,
    "evaluate(root), cold": 0.3,
}


CPU: dict[str, float] = {}


def mlops(*args: str) -> float:
    """Wall seconds of one ``mlops`` process; its CPU seconds (user+sys, load-independent) go to CPU."""
    import resource

    exe = shutil.which("mlops") or str(Path(sys.executable).with_name("mlops"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([exe, *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[args[0] if args[0] != "-C" else args[2]] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"mlops {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return seconds


def clone(src: Path, dst: Path) -> Path:
    from project_under_test.chaos import project

    shutil.copytree(src, dst, symlinks=True)
    project.relocate(dst, src)
    return dst


def bitflip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))


def restore_case(template: Path, work: Path, source: str) -> tuple[float, float]:
    """(seconds of the winning attempt, seconds of the whole recover call)."""
    from project_under_test.dvcops import cache_object, locked_outs
    from project_under_test.recovery import RecoveryManager

    env = clone(template, work / f"restore-{source}")
    rel = "data/raw/churn.csv"
    md5 = locked_outs(env)[rel].md5
    (env / "backups" / rel).unlink()
    if source == "dvc_remote":
        cache_object(env, md5).chmod(0o644)
        cache_object(env, md5).unlink()
    bitflip(env / rel)
    start = time.perf_counter()
    result = RecoveryManager(env).recover()
    total = time.perf_counter() - start
    won = [a for a in result.attempts if a.succeeded and a.strategy == source]
    if not result.recovered or not won:
        raise SystemExit(f"restore from {source} did not win: {result}")
    return won[0].seconds, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the environments in this directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlops-bench-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    figures: dict[str, float] = {}
    try:
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        template = work / "template"
        figures["mlops init (5,000 rows)"] = mlops("init", str(template), "--rows", str(args.rows))

        from project_under_test import environment
        from project_under_test.chaos import ChurnProject, project

        project.detect(template)  # imports (pandas, sklearn) paid once, as in a chaos session
        cache_attempt, cache_total = restore_case(template, work, "dvc_cache")
        remote_attempt, remote_total = restore_case(template, work, "dvc_remote")
        figures["restore data file from DVC cache"] = cache_attempt
        figures["  (whole recover call, cache)"] = cache_total
        figures["restore data file from DVC remote"] = remote_attempt
        figures["  (whole recover call, remote)"] = remote_total

        rolled = clone(template, work / "rollback")
        environment.train(rolled, {"n_estimators": 5, "max_depth": 2}, promote="always")
        figures["mlops rollback"] = mlops("-C", str(rolled), "rollback", "baseline")

        fresh = ChurnProject()
        start = time.perf_counter()
        fresh.evaluate(template)
        figures["evaluate(root), cold"] = time.perf_counter() - start
        start = time.perf_counter()
        fresh.evaluate(template)
        figures["evaluate(root), same bytes again"] = time.perf_counter() - start
        fresh_env = clone(template, work / "detect")
        start = time.perf_counter()
        problems = project.detect(fresh_env)
        figures["detect(root) on a clone"] = time.perf_counter() - start
        assert problems == [], problems
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"{'operation':40} {'seconds':>9} {'target':>8} {'ratio':>6}")
    for name, seconds in figures.items():
        target = TARGETS.get(name)
        ratio = f"{seconds / target:6.2f}" if target else ""
        print(f"{name:40} {seconds:9.3f} {target if target else '':>8} {ratio:>6}")
    for command, cpu in CPU.items():
        print(f"  cpu seconds (user+sys) of `mlops {command}`: {cpu:.2f}")
    missed = [n for n, t in TARGETS.items() if figures.get(n, 0) > t]
    print("all targets met" if not missed else f"missed: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
