"""The metrics that judge a recovery, computed by the plugin on its own copy of the environment.

When every artifact came back bit-exact, the project's ``evaluate()`` runs on the environment
itself. When anything differs, it runs on a scratch copy (a *judging view*) that the recovery
cannot have prepared:

- the metrics files and volatile outputs are deleted first, so nothing the manager wrote about
  itself can be read back;
- the holdout (evaluation data) is the baseline's, so a recovered model is never scored on a
  split the recovery regenerated or chose;
- when a holdout file differs, the recovered model is scored on the recovered holdout too;
- when a derived training input differs (a processed split, features), the pipeline retrains
  from it in the view (the project's ``run_stage``) and that model is scored as well.

Every evaluation is judged; the worst change of each metric counts.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .artifacts import Artifacts
from .evidence import Evaluation
from .manifest import Observation, under
from .project import MLProject

if TYPE_CHECKING:
    from .env import Baseline


def _metrics(project: MLProject, root: Path) -> dict[str, float]:
    return {k: float(v) for k, v in project.evaluate(root).items()}


def _remove(root: Path, rels: Sequence[str]) -> None:
    for rel in rels:
        path = root / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _put(src_root: Path, dst_root: Path, rels: Sequence[str]) -> None:
    """Copy each of ``rels`` (files or directories) from ``src_root`` over ``dst_root``."""
    _remove(dst_root, rels)
    for rel in rels:
        src, dst = src_root / rel, dst_root / rel
        if src.is_dir():
            shutil.copytree(src, dst, symlinks=True)
        elif src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def stages_to_rerun(artifacts: Artifacts, changed: Sequence[str]) -> list[str]:
    """The stages that retrain from the changed derived inputs, in pipeline order (evaluation-only stages left out)."""
    skip = (
        *artifacts.models,
        *artifacts.holdout,
        *artifacts.metrics_paths(),
        *artifacts.volatile,
        *((artifacts.lock_file,) if artifacts.lock_file else ()),
    )
    triggers = [rel for rel in changed if not under(rel, skip)]
    if not triggers or not artifacts.stages:
        return []
    first = len(artifacts.stages)
    for index, stage in enumerate(artifacts.stages):
        inputs = artifacts.stage_inputs.get(stage)
        if inputs is not None:
            reads = any(under(rel, inputs) or under(inp, [rel]) for rel in triggers for inp in inputs)
        else:  # without declared inputs: every stage after the one that writes a trigger (all, for a source)
            writers = [
                i
                for i, s in enumerate(artifacts.stages)
                if any(under(rel, artifacts.stage_outputs.get(s, ())) for rel in triggers)
            ]
            reads = index > min(writers) if writers else True
        if reads:
            first = index
            break
    untrusted = (*artifacts.metrics_paths(), *artifacts.volatile)
    return [
        s
        for s in artifacts.stages[first:]
        if not all(under(out, untrusted) for out in artifacts.stage_outputs.get(s, ()))
    ]


def judged_evaluations(
    project: MLProject, root: Path, baseline: Baseline, after: Observation, scratch: Path
) -> tuple[list[Evaluation], list[str]]:
    """The plugin's evaluations of the recovered environment at ``root``, and the problems found on the way."""
    artifacts, manifest = baseline.artifacts, baseline.manifest
    untrusted = (*artifacts.metrics_paths(), *artifacts.volatile)
    differing = [rel for rel, d in manifest.files.items() if after.files.get(rel) != d] + list(after.extra)
    if not differing:  # nothing evaluation could read differs from the baseline, the metrics files included
        return [Evaluation("the recovered environment (every artifact bit-exact)", _metrics(project, root))], []
    changed = [rel for rel in differing if not under(rel, untrusted)]
    from .env import clone_tree

    holdout = list(artifacts.holdout)
    clone_tree(root, scratch)
    try:
        project.relocate(scratch, root)
        _remove(scratch, untrusted)
        _put(baseline.root, scratch, holdout)
        label = "the recovered model on the baseline's holdout" if holdout else "the recovered environment"
        label += " (metrics files removed)" if untrusted else ""
        results = [Evaluation(label, _metrics(project, scratch))]
        if any(under(rel, holdout) for rel in changed):
            _put(root, scratch, holdout)
            results.append(Evaluation("the recovered model on the recovered holdout", _metrics(project, scratch)))
            _put(baseline.root, scratch, holdout)
        problems: list[str] = []
        rerun = stages_to_rerun(artifacts, changed)
        run_stage = getattr(project, "run_stage", None)
        if rerun and run_stage is not None:
            inputs = ", ".join(rel for rel in changed if not under(rel, (*artifacts.models, *holdout)))
            try:
                for stage in rerun:
                    run_stage(scratch, stage)
            except Exception as exc:  # the pipeline cannot even run on what recovery left
                problems.append(
                    f"the pipeline fails on the recovered {inputs}: stage {stage!r} raised "
                    f"{type(exc).__name__}: {str(exc)[:300]}"
                )
            else:
                _put(baseline.root, scratch, holdout)
                results.append(
                    Evaluation(
                        f"the model the pipeline retrains from the recovered {inputs}", _metrics(project, scratch)
                    )
                )
        return results, problems
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


__all__ = ["judged_evaluations", "stages_to_rerun"]
