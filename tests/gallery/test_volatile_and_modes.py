"""Outs that are not byte-reproducible are judged by metrics, and no incident mode is vacuous for a DVCProject."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Callable

import pytest
from gallery_helpers import git

from pytest_mlchaos import failpoints
from pytest_mlchaos.dvc_project import CACHE_DIR, REMOTE_DIR, DVCProject
from pytest_mlchaos.incidents import builtin_registry
from pytest_mlchaos.incidents.registry import InjectionContext
from pytest_mlchaos.incidents.spec import Incident, IncidentError

NOISY_DVC_YAML = """
stages:
  train:
    cmd: python train.py
    deps: [train.py, data.csv]
    outs: [model.json]
  evaluate:
    cmd: python evaluate.py
    deps: [evaluate.py, model.json, data.csv]
    outs:
      - report
metrics:
  - report/metrics.json
plots:
  - report/curve.json
"""
TRAIN = """import json
rows = open('data.csv').read().split()
json.dump({'mean': sum(map(float, rows)) / len(rows)}, open('model.json', 'w'))
"""
EVALUATE = """import json, os, random, time
mean = json.load(open('model.json'))['mean']
os.makedirs('report', exist_ok=True)
json.dump({'error': abs(mean - 5.0)}, open('report/metrics.json', 'w'))
json.dump([{'x': i, 'y': i * mean + random.random() * 1e-12} for i in range(5)], open('report/curve.json', 'w'))
open('report/stamp.txt', 'w').write(repr(time.time()))
"""


@pytest.fixture
def noisy(tmp_path: Path) -> tuple[DVCProject, Path]:
    """A repository whose evaluation writes a float-noisy plot and a timestamp next to exact metrics."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "dvc.yaml").write_text(NOISY_DVC_YAML)
    (repo / "train.py").write_text(TRAIN)
    (repo / "evaluate.py").write_text(EVALUATE)
    (repo / "data.csv").write_text("\n".join(str(random.Random(1).uniform(0, 10)) for _ in range(50)) + "\n")
    project = DVCProject(repo)
    project.build(tmp_path / "env")
    return project, tmp_path / "env"


def test_a_noisy_plot_is_declared_and_a_timestamp_is_learned_as_volatile(noisy: tuple[DVCProject, Path]) -> None:
    project, root = noisy
    art = project.artifacts(root)
    assert set(art.volatile) == {"report/curve.json", "report/stamp.txt"}
    assert "report/metrics.json" not in art.volatile
    assert "report/stamp.txt" in json.loads(git(root, "show", "HEAD:.dvc/mlchaos.json"))["learned_volatile"]


def test_a_full_rebuild_that_reproduces_the_metrics_is_recovered_not_unrecovered(
        noisy: tuple[DVCProject, Path]) -> None:
    project, root = noisy
    metrics = project.evaluate(root)
    shutil.rmtree(root / CACHE_DIR)
    shutil.rmtree(root / REMOTE_DIR)
    shutil.rmtree(root / "report")
    (root / "model.json").unlink()
    result = project.recover(root, [])
    assert result.recovered, result.message
    assert result.strategy == "dvc_repro+dvc_push"
    assert project.detect(root) == []
    assert json.loads((root / "report/metrics.json").read_text()) == {"error": pytest.approx(metrics["error"])}


def test_a_damaged_exact_metrics_file_in_the_same_directory_is_still_damage(noisy: tuple[DVCProject, Path]) -> None:
    project, root = noisy
    (root / "report/metrics.json").write_text('{"error": 99}')
    (root / "report/curve.json").write_text("[]")  # volatile: its bytes are not judged
    assert project.detect(root) == ["report/metrics.json: md5 differs from dvc.lock"]
    assert project.recover(root, []).recovered
    assert json.loads((root / "report/metrics.json").read_text())["error"] != 99
    assert json.loads((root / "report/curve.json").read_text()) != []  # the checked-out directory, whole


def test_a_crashed_stage_leaves_its_outputs_gone_and_its_lock_held(
        env_of: Callable[[str], tuple[DVCProject, Path]]) -> None:
    project, root = env_of("get-started")
    failpoints.arm(root, "featurize", "raise")
    with pytest.raises(failpoints.StageFailure):
        project.run_stage(root, "featurize")
    problems = project.detect(root)
    assert problems[0].startswith(".dvc/tmp/rwlock: stale DVC rwlock held by PID")
    assert {"data/features/train.pkl: missing", "data/features/test.pkl: missing"} <= set(problems)
    result = project.recover(root, [])
    assert result.recovered and result.strategy == "clear_stale_locks+dvc_checkout"
    assert project.detect(root) == []


def test_a_stage_out_of_disk_leaves_partial_outputs(env_of: Callable[[str], tuple[DVCProject, Path]]) -> None:
    project, root = env_of("regression")
    failpoints.arm(root, "split", "enospc", point="write")
    with pytest.raises(OSError, match="No space left"):
        project.run_stage(root, "split")
    problems = project.detect(root)
    assert "data/split/train.csv: md5 differs from dvc.lock" in problems  # written up to the middle of it
    assert (root / "data/split").is_dir() and not any(p.startswith(".dvc/tmp/rwlock") for p in problems)
    assert project.recover(root, []).recovered and project.detect(root) == []


def test_every_incident_mode_is_observable_or_refused(env_of: Callable[[str], tuple[DVCProject, Path]]) -> None:
    project, template = env_of("mlflow-registry")
    registry = builtin_registry()
    refused, seen = {}, {}
    for n, injector in enumerate(registry):
        label = f"{injector.kind}/{injector.mode}"
        root = template.parent / f"mode-{n}"
        shutil.copytree(template, root, symlinks=True)
        project.relocate(root, template)
        incident = registry.validate(Incident(injector.kind, injector.mode, seed=n), project.artifacts(root).available())
        ctx = InjectionContext(root, project.artifacts(root), random.Random(n),
                               run_stage=lambda stage, root=root: project.run_stage(root, stage))
        try:
            injector.inject(ctx, incident)
        except IncidentError as exc:
            refused[label] = str(exc)
            continue
        seen[label] = project.detect(root)
        assert seen[label], f"{label} did nothing a DVCProject can see"
        result = project.recover(root, [incident])
        assert result.recovered and project.detect(root) == [], (label, result.message)
        shutil.rmtree(root)
    assert set(refused) | set(seen) == {f"{i.kind}/{i.mode}" for i in registry}
    assert {"pipeline_failure/crash", "pipeline_failure/hang", "pipeline_failure/disk_full",
            "model_loss/registry_alias_lost", "model_loss/registry_version_deleted",
            "storage_loss/mlflow_store_corruption", "storage_loss/backup_loss"} <= set(seen)
    for label, why in refused.items():
        assert why.startswith(f"incident {label}"), why
