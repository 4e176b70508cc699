"""Benchmark 2: the harness's own cost per incident test (clone, inject, verify, clean up), in-process."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from _common import Figure, log

GROUP = "2. harness overhead per incident test (in-process, 5,000 rows)"


def build(work: Path, store: Path | None = None):
    """The reference project's baseline via the plugin's own ``build_baseline`` (loaded if ``store`` holds it)."""
    from project_under_test.chaos import project
    from pytest_mlchaos.env import build_baseline
    from pytest_mlchaos.session import baseline_key

    start = time.perf_counter()
    baseline = build_baseline(project, store or work / "store", baseline_key(project))
    return baseline, time.perf_counter() - start


def _incidents():
    from pytest_mlchaos.incidents.spec import Incident

    return [Incident("data_corruption", "noise", {"fraction": 0.2}),
            Incident("data_corruption", "missing_values", {"fraction": 0.2}),
            Incident("model_loss", "corrupt")]


def run(baseline, work: Path, n: int, warmup: int) -> list[Figure]:
    from project_under_test.chaos import project
    from pytest_mlchaos.env import HARNESS_DIR, EnvFactory, take_manifest
    from pytest_mlchaos.incidents import builtin_registry

    registry = builtin_registry()
    factory = EnvFactory(project, baseline, registry, work / "envs", seed=1)
    factory.trash = work / "envs" / ".trash"  # as the ml_env_factory fixture: removal is a rename, deletion at the end
    (work / "envs").mkdir(exist_ok=True)
    incidents = _incidents()
    parts: dict[str, list[float]] = {"clone": [], "inject": [], "verify": [], "remove": [], "total": [], "copytree": []}
    samples = 3 * n  # cheap: more samples, steadier median
    log(f"overhead: {warmup} warm-up + {samples} samples")
    for i in range(warmup + samples):
        incident = incidents[i % len(incidents)]
        t0 = time.perf_counter()
        env = factory(name=f"bench{i}")  # copytree + project.relocate (MLflow paths), as ml_env does
        t1 = time.perf_counter()
        injection = env.inject(incident)
        t2 = time.perf_counter()
        # the digest half of ChaosEnv.verify: manifest of the tracked files, mismatches, still-damaged files
        current = env.digests()
        manifest = env.baseline.manifest
        mismatched = [rel for rel in manifest if current.get(rel) != manifest[rel]]
        still = [rel for rel, digest in injection.damaged_digests
                 if not rel.startswith(HARNESS_DIR) and take_manifest(env.root, [rel]).get(rel) == digest]
        assert mismatched, (incident, still)  # the damage is there and seen
        t3 = time.perf_counter()
        env.remove()
        t4 = time.perf_counter()
        copy_dst = work / f"copy{i}"
        t5 = time.perf_counter()
        shutil.copytree(baseline.root, copy_dst, symlinks=True)
        t6 = time.perf_counter()
        shutil.rmtree(copy_dst)
        if i >= warmup:
            for key, value in (("clone", t1 - t0), ("inject", t2 - t1), ("verify", t3 - t2), ("remove", t4 - t3),
                               ("total", t4 - t0), ("copytree", t6 - t5)):
                parts[key].append(value)
    factory.empty_trash()
    ratios = [t / c for t, c in zip(parts["total"], parts["copytree"])]
    size = sum(p.stat().st_size for p in baseline.root.rglob("*") if p.is_file())
    files = sum(1 for p in baseline.root.rglob("*") if p.is_file())
    return [
        Figure(GROUP, "clone+inject+verify+remove, median", parts["total"], target=0.100,
               note=f"incidents rotate: {', '.join(i.kind + '/' + i.mode for i in incidents)}; "
                    f"baseline {files} files, {size / 1e6:.1f} MB"),
        Figure(GROUP, "overhead / shutil.copytree of the baseline", ratios, unit="x", target=2.0),
        Figure(GROUP, "  clone (copytree + relocate)", parts["clone"]),
        Figure(GROUP, "  inject", parts["inject"]),
        Figure(GROUP, "  verify (digests vs manifest)", parts["verify"]),
        Figure(GROUP, "  remove", parts["remove"]),
        Figure(GROUP, "  shutil.copytree alone", parts["copytree"]),
    ]
