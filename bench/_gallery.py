"""The gallery benchmark: a real-shaped DVC repository (fixtures/gallery), as a user runs it.

Measured in the same run, on clean clones of one gallery repository:

- its plain ``dvc repro`` (the CLI, as the user types it), the baseline reference;
- the plugin's baseline: ``DVCProject.build`` plus the first ``evaluate`` (what a new fingerprint costs);
  target: at most the repro time plus 2 s;
- restores from the environment's own stores (a deleted model, a bitflip in the raw data, a crashed stage);
  target: at most 0.3 s each;
- the whole chaos suite of the repository (``pytest --mlchaos``), cold (baseline built) and warm (cached).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from _common import PYTHON, REPO, Figure, clean_env, log, repeat

GALLERY = REPO / "fixtures" / "gallery"
GROUP = "7. gallery"


def _clone(name: str, dest: Path) -> Path:
    shutil.copytree(GALLERY / name, dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    env = {**clean_env(), "GIT_AUTHOR_NAME": "u", "GIT_AUTHOR_EMAIL": "u@x", "GIT_COMMITTER_NAME": "u",
           "GIT_COMMITTER_EMAIL": "u@x"}
    for args in (["init", "-q"], ["add", "-A"], ["-c", "commit.gpgsign=false", "commit", "-qm", "clone"]):
        subprocess.run(["git", *args], cwd=dest, env=env, check=True)
    return dest


def _timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    path = f"{Path(PYTHON).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # stage `cmd: python ...` as under pytest
    done = subprocess.run(args, cwd=cwd, env=clean_env(DVC_NO_ANALYTICS="1", PATH=path), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed in {cwd}: {(done.stdout + done.stderr)[-800:]}")
    return time.perf_counter() - start


def run(work: Path, n: int, warmup: int = 0, name: str = "get-started") -> list[Figure]:
    from pytest_mlchaos import failpoints
    from pytest_mlchaos.dvc_project import DVCProject
    from pytest_mlchaos.dvc_project.metrics import MEMO

    base = work / f"gallery-{name}"
    count = [0]

    def fresh() -> Path:
        count[0] += 1
        return _clone(name, base / f"clone-{count[0]}")

    dvc = str(Path(PYTHON).with_name("dvc"))
    log(f"gallery: plain `dvc repro` of {name} in clean clones")
    repro = repeat(lambda: _timed([dvc, "repro", "-q"], fresh()), n, warmup)

    log(f"gallery: DVCProject baseline (build + first evaluate) of {name}")
    built: list[tuple[DVCProject, Path]] = []

    def baseline() -> float:
        src = fresh()
        project = DVCProject(src)
        root = src.parent / f"env-{count[0]}"
        start = time.perf_counter()
        project.fingerprint()
        project.build(root)
        project.evaluate(root)
        project.artifacts(root)
        seconds = time.perf_counter() - start
        built.append((project, root))
        return seconds

    MEMO.clear()
    build = repeat(baseline, n, warmup)
    overhead = [b - r for b, r in zip(build, repro)]
    ratio = [b / r for b, r in zip(build, repro)]

    project, template = built[-1]
    art = project.artifacts(template)

    def restore(damage) -> float:
        count[0] += 1
        root = base / f"restore-{count[0]}"
        shutil.copytree(template, root, symlinks=True)
        project.relocate(root, template)
        damage(root)
        start = time.perf_counter()
        result = project.recover(root, [])
        seconds = time.perf_counter() - start
        if not result.recovered:
            raise RuntimeError(f"gallery restore failed: {result.message}")
        return seconds

    def lose_model(root: Path) -> None:
        (root / art.models[0]).unlink()

    def flip_raw(root: Path) -> None:
        path = root / art.data[0]
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 1
        path.write_bytes(bytes(data))

    def crash(root: Path) -> None:
        stage = art.stages[-1]
        failpoints.arm(root, stage, "raise")
        try:
            project.run_stage(root, stage)
        except failpoints.StageFailure:
            return
        raise RuntimeError("the armed failpoint did not fire")

    figures = [
        Figure(GROUP, f"{name}: plain dvc repro (CLI, clean clone)", repro),
        Figure(GROUP, f"{name}: baseline build + first evaluate", build),
        Figure(GROUP, f"{name}: baseline minus dvc repro", overhead, target=2.0,
               note="git, DVC set-up, push, the second metrics run that learns volatile outs"),
        Figure(GROUP, f"{name}: baseline / dvc repro", ratio, unit="x"),
    ]
    for label, damage in (("model deleted (dvc_checkout)", lose_model), ("raw data bitflip (dvc_checkout)", flip_raw),
                          ("last stage crashed (clear_stale_locks+dvc_checkout)", crash)):
        log(f"gallery: restore, {label}")
        figures.append(Figure(GROUP, f"{name}: restore, {label}", repeat(lambda d=damage: restore(d), max(n, 3), 1),
                              target=0.3))

    log(f"gallery: the chaos suite of {name} (pytest --mlchaos), cold then warm")
    suite_repo = fresh()
    cold = _timed([PYTHON, "-m", "pytest", "--mlchaos", "-q", "-p", "no:randomly"], suite_repo)
    warm = repeat(lambda: _timed([PYTHON, "-m", "pytest", "--mlchaos", "-q", "-p", "no:randomly"], suite_repo), n, 0)
    figures += [Figure(GROUP, f"{name}: chaos suite, cold (baseline built)", [cold]),
                Figure(GROUP, f"{name}: chaos suite, warm (cached baseline)", warm)]
    shutil.rmtree(base, ignore_errors=True)
    return figures
