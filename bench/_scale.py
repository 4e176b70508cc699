"""Benchmark 4: data corruption + restore + verification of the raw CSV at growing row counts.

What is measured, per size, in a fresh subprocess (so its peak RSS is its own):
the raw table ``data/raw/churn.csv`` is made from the reference project's generator
(``project_under_test.data.generate`` + ``write_csv``, 100,000 rows, written once per run; pandas'
``to_csv`` with ``float_format`` needs minutes for 1 M rows on this machine, so smaller sizes are
its first N rows and 1 M is those 100,000 rows repeated 10 times: the measured path does not look
at row uniqueness) into a directory where DVC tracks it (``dvc add``, copy cache), with a backup
copy beside it (set-up, not timed). Each timed repetition then
(1) injects ``data_corruption/noise`` (fraction 0.1) through ``pytest_mlchaos.incidents.api.inject``,
(2) restores the file the way the recovery manager's ``backup`` strategy does
(``project_under_test.dvcops.place_verified``: copy, md5 checked against the DVC-recorded md5),
(3) verifies independently like the harness does (DVC md5 from the ``.dvc`` file and the BLAKE2b
manifest via ``pytest_mlchaos.manifest.take_manifest``). The full reference pipeline (training a
forest on 1 M rows) is not run: ``mlops init`` at 1 M rows takes minutes, not a benchmark.

    python bench/_scale.py source ROWS FILE   # set-up: the generator's table
    python bench/_scale.py make ROWS DIR FILE # set-up: ROWS rows from FILE, DVC-tracked, backed up
    python bench/_scale.py measure DIR N      # prints one JSON line
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

RAW = "data/raw/churn.csv"


def source(rows: int, path: Path) -> None:
    """The reference project's table of ``rows`` rows (seed 7) as the project writes it."""
    from project_under_test.data import generate, write_csv

    write_csv(generate(rows, 7), path)


def make(rows: int, root: Path, source_csv: Path) -> None:
    """``rows`` rows from ``source_csv`` (its first rows, or it repeated) as a DVC-tracked raw table plus a backup."""
    import shutil

    lines = source_csv.read_bytes().splitlines(keepends=True)
    head, body = lines[0], lines[1:]
    times, rest = divmod(rows, len(body))
    root.mkdir(parents=True, exist_ok=True)
    raw = root / RAW
    raw.parent.mkdir(parents=True, exist_ok=True)
    with open(raw, "wb") as fh:
        fh.write(head)
        for _ in range(times):
            fh.writelines(body)
        fh.writelines(body[:rest])
    os.environ["DVC_NO_ANALYTICS"] = "1"
    os.environ["DVC_SITE_CACHE_DIR"] = str(root / ".dvc-site")
    from dvc.repo import Repo

    Repo.init(str(root), no_scm=True)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        repo = Repo(str(root))
        with repo.config.edit() as conf:
            conf["cache"]["type"] = "copy"
        Repo(str(root)).add(RAW)
    finally:
        os.chdir(cwd)
    backup = root / "backups" / RAW
    backup.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(raw, backup)


def measure(root: Path, n: int) -> dict:
    import yaml

    from project_under_test.dvcops import md5_file, place_verified
    from pytest_mlchaos.artifacts import Artifacts
    from pytest_mlchaos.incidents.api import inject
    from pytest_mlchaos.manifest import DigestCache, observe, take_manifest
    from pytest_mlchaos.incidents.spec import Incident

    meta = yaml.safe_load((root / (RAW + ".dvc")).read_text())
    md5 = meta["outs"][0]["md5"]
    artifacts = Artifacts(data=(RAW,))
    manifest = take_manifest(root, artifacts)  # the baseline manifest (not timed)
    raw, backup = root / RAW, root / "backups" / RAW
    rows: list[dict[str, float]] = []
    for i in range(n):
        t0 = time.perf_counter()
        inject(root, Incident("data_corruption", "noise", {"fraction": 0.1}, seed=i + 1), artifacts=artifacts)
        t1 = time.perf_counter()
        assert md5_file(raw) != md5, "the injection left the file unchanged"
        t1b = time.perf_counter()
        place_verified(backup, raw, md5)
        t2 = time.perf_counter()
        ok = md5_file(raw) == md5 and observe(root, manifest, DigestCache()).files == manifest.files
        t3 = time.perf_counter()
        if not ok:
            raise SystemExit(f"{RAW} not restored bit-exact at repetition {i}")
        rows.append({"inject": t1 - t0, "restore": t2 - t1b, "verify": t3 - t2, "total": (t1 - t0) + (t3 - t1b)})
    return {"rows": rows, "maxrss_mb": peak_rss_mb(), "bytes": raw.stat().st_size}


def peak_rss_mb() -> float:
    """Peak RSS of this process image: ``VmHWM`` (``ru_maxrss`` would carry the parent's peak across fork+exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


GROUP = "4. scale: noise injection + backup restore + digest verification of the raw CSV"


def run(work: Path, sizes: tuple[int, ...], n: int, warmup: int) -> list:
    """One set-up and one measuring subprocess per size; figures of time, peak RSS and growth per 10x rows."""
    import math

    from _common import PYTHON, Figure, clean_env, log, run_timed

    figures = []
    medians: dict[int, float] = {}
    table = work / "scale-source.csv"
    source_rows = min(max(sizes), 100_000)
    log(f"scale: generating {source_rows:,} rows with the project's generator (set-up, not timed)")
    run_timed([PYTHON, __file__, "source", str(source_rows), str(table)], env=clean_env())
    for rows in sizes:
        root = work / f"scale-{rows}"
        log(f"scale: {rows:,} rows, DVC-tracked, backed up (set-up, not timed)")
        run_timed([PYTHON, __file__, "make", str(rows), str(root), str(table)], env=clean_env())
        log(f"scale: measuring {rows:,} rows ({warmup} warm-up + {n})")
        _, proc = run_timed([PYTHON, __file__, "measure", str(root), str(warmup + n)], env=clean_env())
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        samples = result["rows"][warmup:]
        totals = [s["total"] for s in samples]
        big = rows >= 1_000_000
        fig = Figure(GROUP, f"{rows:>9,} rows: inject+restore+verify", totals, target=5.0 if big else None,
                     note=f"{result['bytes'] / 1e6:.1f} MB CSV; median inject "
                          f"{_median([s['inject'] for s in samples]):.3f} s, restore "
                          f"{_median([s['restore'] for s in samples]):.3f} s, verify "
                          f"{_median([s['verify'] for s in samples]):.3f} s",
                     extra={"parts": samples})
        figures.append(fig)
        figures.append(Figure(GROUP, f"{rows:>9,} rows: peak RSS of the measuring process", [result["maxrss_mb"]],
                              unit="MB", target=1536.0 if big else None))
        medians[rows] = fig.median
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    ordered = sorted(medians)
    for small, large in zip(ordered, ordered[1:]):
        per10 = (medians[large] / medians[small]) ** (1 / math.log10(large / small))
        figures.append(Figure(GROUP, f"growth per 10x rows, {small:,} -> {large:,}", [per10], unit="x", target=10.0))
    return figures


def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if sys.argv[1] == "source":
        source(int(sys.argv[2]), Path(sys.argv[3]))
    elif sys.argv[1] == "make":
        make(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    elif sys.argv[1] == "measure":
        print(json.dumps(measure(Path(sys.argv[2]), int(sys.argv[3]))))
    else:
        raise SystemExit(f"unknown mode {sys.argv[1]!r}; allowed: source, make, measure")
