"""The pytest-mlchaos benchmark: prints every figure with its target and whether it holds (not a test).

    /work/venv/bin/python bench/run.py [--repeat N] [--smoke] [--only NAME ...] [--save] [--strict]

Names for --only: load, overhead, mttr, scale, cached, parallel, gallery, html, project, services,
gallery-services (the last three only when named). See bench/README.md for what each
one measures. JSON goes to bench/results/ only with --save. Exit status: 0 unless a benchmark
failed to run (or, with --strict, a target was missed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH, Figure, log, table  # noqa: E402

from pytest_mlchaos.versions import installed  # noqa: E402

NAMES = ("load", "overhead", "mttr", "scale", "cached", "parallel", "gallery", "html", "project", "services",
         "gallery-services")
# "project" (bench/project_speed.py, ~30 s), "services" (real S3 and MLflow servers, ~4.5 min) and "gallery-services"
# (a gallery DVC repository against the S3 server, ~1 min) only when asked for
DEFAULT = NAMES[:-3]


def header() -> dict[str, object]:
    versions = installed()
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
            "machine": f"{platform.system()} {platform.machine()} {platform.node()}",
            "python": platform.python_version(), "versions": versions,
            "loadavg_start": round(os.getloadavg()[0], 2)}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed repetitions per figure after the warm-up (default 3; 1 with --smoke)")
    parser.add_argument("--smoke", action="store_true",
                        help="one repetition, small sizes, the slowest parts skipped (about 2 minutes; CI runs it)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help=f"run only these benchmarks (repeatable, or comma-separated): {', '.join(NAMES)}")
    parser.add_argument("--save", action="store_true", help="write the JSON to bench/results/")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    only = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    bad = [n for n in only if n not in NAMES]
    if bad:
        parser.error(f"--only {', '.join(bad)}: unknown benchmark; allowed: {', '.join(NAMES)}")
    if args.repeat is not None and args.repeat < 1:
        parser.error(f"--repeat {args.repeat}: must be >= 1")
    args.only = only or list(DEFAULT)
    args.repeat = args.repeat or (1 if args.smoke else 3)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # see README: pytest must cache its assertion rewrites
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    info = header()
    v = info["versions"]
    print(f"pytest-mlchaos benchmark  {info['date']}  {info['cpus']} CPUs  {info['machine']}  python {info['python']}")
    print("  ".join(f"{dist} {version}" for dist, version in v.items() if version), f" load average {info['loadavg_start']}")
    mode = "smoke" if args.smoke else "full"
    print(f"mode {mode}, {args.repeat} timed repetition(s) per figure after a warm-up; running: {', '.join(args.only)}",
          flush=True)
    n, warmup = args.repeat, (0 if args.smoke else 1)
    figures: list[Figure] = []
    errors: list[str] = []
    skipped: list[str] = []
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="mlchaos-bench-"))
    baseline = None

    def section(name: str, fn) -> None:
        if name not in args.only:
            return
        t = time.perf_counter()
        try:
            figures.extend(fn())
        except Exception as exc:  # one broken benchmark must not hide the others
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
            traceback.print_exc()
        log(f"{name} took {time.perf_counter() - t:.0f} s")

    warm_cache: list[Path] = []

    def need_baseline():
        """The baseline for the in-process benchmarks: the one the cold pytest run built (loaded, not rebuilt)."""
        nonlocal baseline
        if baseline is None:
            import _overhead

            stores = _suite.stores(warm_cache[-1]) if warm_cache else []
            if not stores:
                log("building the reference project's baseline (build_baseline, 5,000 rows)")
            baseline, seconds = _overhead.build(work, stores[0] if stores else None)
            figures.append(Figure("0. set-up", "baseline for the in-process benchmarks"
                                  + (" (loaded from the cold run's cache)" if baseline.cached else " (built)"), [seconds]))
        return baseline

    import _suite

    try:
        import _load
        section("load", lambda: _load.run(n if args.smoke else 2 * n, warmup=0 if args.smoke else 1))  # cheap: more pairs

        def cached():
            figs, cache = _suite.cached(work, n, cold_runs=1 if args.smoke else min(n, 2), warmup=0 if args.smoke else 1)
            warm_cache.append(cache)
            return figs
        section("cached", cached)

        def overhead():
            import _overhead
            return _overhead.run(need_baseline(), work, n, warmup=1)
        section("overhead", overhead)

        def mttr():
            import _mttr
            return _mttr.run(need_baseline().root, work, n, warmup=1 if not args.smoke else 0)
        section("mttr", mttr)

        def scale():
            import _scale
            sizes = (5_000, 100_000) if args.smoke else (5_000, 100_000, 1_000_000)
            if args.smoke:
                skipped.append("scale: 1,000,000 rows (smoke run)")
            return _scale.run(work, sizes, n, warmup=0 if args.smoke else 1)
        section("scale", scale)

        def parallel():
            if not warm_cache:  # --only parallel: warm a cache first with one single-test run
                log("parallel: warming a baseline cache")
                _suite.cached(work, 0, cold_runs=1, warmup=0)
                warm_cache.append(work / "cache-cold-0")
            return _suite.parallel(warm_cache[-1], min(n, 2))
        def html():
            import _html
            return _html.run(n, warmup=0 if args.smoke else 1)
        section("html", html)

        def project():
            import _project
            return _project.run()
        section("project", project)

        def services():
            import _services
            return _services.run(need_baseline(), work, n, warmup=0 if args.smoke else 1)
        section("services", services)

        def gallery_services():
            import _gallery_services
            return _gallery_services.run(work, n, warmup=0 if args.smoke else 1)
        section("gallery-services", gallery_services)

        def gallery():
            import _gallery
            return _gallery.run(work, n, warmup=0 if args.smoke else 1)
        section("gallery", gallery)

        if args.smoke and "parallel" in args.only:
            skipped.append("parallel: the chaos suite twice takes minutes (smoke run)")
        else:
            section("parallel", parallel)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    elapsed = time.perf_counter() - started
    print()
    print(table(figures))
    print()
    missed = [f"{f.group.split('.')[0]}. {f.name.strip()}" for f in figures if f.holds is False]
    held = sum(1 for f in figures if f.holds)
    print(f"{held} target(s) hold, {len(missed)} missed" + (f": {'; '.join(missed)}" if missed else ""))
    for s in skipped:
        print(f"skipped: {s}")
    for e in errors:
        print(f"ERROR {e}")
    print(f"total {elapsed:.0f} s; load average at the end {os.getloadavg()[0]:.2f} (other work on this machine "
          "makes timings noisy; ratios are steadier than seconds)")
    if args.save:
        out = BENCH / "results" / f"bench-{mode}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"schema": "mlchaos-bench/1", **info, "mode": mode, "repeat": n,
                                   "elapsed_s": elapsed, "loadavg_end": round(os.getloadavg()[0], 2),
                                   "figures": [f.to_json() for f in figures], "missed": missed,
                                   "skipped": skipped, "errors": errors}, indent=1))
        print(f"saved {out.relative_to(BENCH.parent)}")
    if errors:
        return 2
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
