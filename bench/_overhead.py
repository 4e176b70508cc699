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
    from pytest_mlchaos.containment import check_contained
    from pytest_mlchaos.env import EnvFactory
    from pytest_mlchaos.evidence import Evidence
    from pytest_mlchaos.incidents import builtin_registry
    from pytest_mlchaos.judge import assess

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
        env.inject(incident)
        t2 = time.perf_counter()
        # the plugin's own evidence, without the project's recovery: the environment read when recovery starts
        # (manifest files, stores, registry), the containment check before and after, the second reading, the
        # comparison with the manifest
        check_contained(env.root, "before recovery")
        before = env.observe()
        check_contained(env.root, "after recovery")
        after = env.observe()
        findings = assess(Evidence("bench", (incident,), baseline.manifest, before=before, after=after))
        assert findings.mismatched and findings.still_damaged, incident  # the damage is there and seen
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
    manifest = baseline.manifest
    return [
        Figure(GROUP, "clone+inject+verify+remove, median", parts["total"], target=0.100,
               note=f"incidents rotate: {', '.join(i.kind + '/' + i.mode for i in incidents)}; "
                    f"baseline {files} files, {size / 1e6:.1f} MB; manifest {len(manifest.files)} artifacts, "
                    f"{len(manifest.stores)} store files, {len(manifest.registries)} registries"),
        Figure(GROUP, "overhead / shutil.copytree of the baseline", ratios, unit="x", target=2.0),
        Figure(GROUP, "  clone (copytree + relocate)", parts["clone"]),
        Figure(GROUP, "  inject", parts["inject"]),
        Figure(GROUP, "  evidence (2 readings + containment + compare)", parts["verify"]),
        Figure(GROUP, "  remove", parts["remove"]),
        Figure(GROUP, "  shutil.copytree alone", parts["copytree"]),
        *recomputation(baseline, work, factory, n),
    ]


def recomputation(baseline, work: Path, factory, n: int) -> list[Figure]:
    """What judging a recovery costs when something differs from the baseline: the plugin evaluates on its own
    copy (the baseline's holdout, metrics files removed), and retrains when a training input changed."""
    from project_under_test.chaos import project
    from pytest_mlchaos.evaluation import judged_evaluations

    cases = {
        "bit-exact: evaluate the environment itself": lambda root: None,
        "metrics file differs: evaluate a judging copy": lambda root: (root / "metrics.json").write_text("{}"),
        "training split differs: judging copy + retrain": lambda root: _drop_last_row(root / "data/processed/train.csv"),
    }
    figures = []
    for name, change in cases.items():
        samples = []
        for i in range(n + 1):
            env = factory(name=f"judge{i}")
            change(env.root)
            after = env.observe()
            start = time.perf_counter()
            evaluations, _ = judged_evaluations(project, env.root, baseline, after, env.root.with_name(env.root.name + ".j"))
            if i:  # the first one warms the project's imports
                samples.append(time.perf_counter() - start)
            env.remove()
        figures.append(Figure(GROUP, f"  judging: {name}", samples,
                              note=f"{len(evaluations)} evaluation(s): " + "; ".join(e.label for e in evaluations)))
    return figures


def _drop_last_row(path: Path) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))
