"""Which outs of a DVC pipeline are data, models, metrics, plots: what ``dvc.yaml`` declares, then the user's word.

Every function here takes the ``Layout`` and the user's options and either answers or raises
``ProjectError`` naming the bad value and what ``dvc.yaml`` allows. Nothing is read from disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..project import ProjectError
from .layout import Layout, Stage
from .repo import DATA_SUFFIXES, MODEL_SUFFIXES

__all__ = [
    "CODE_SUFFIXES",
    "Options",
    "check_paths",
    "check_stages",
    "code_files",
    "data",
    "holdout",
    "metrics_files",
    "metrics_stages",
    "models",
    "volatile",
]

CODE_SUFFIXES = (".py", ".r", ".R", ".sh", ".ipynb", ".jl", ".scala", ".java", ".js", ".ts", ".sql")


@dataclass(frozen=True)
class Options:
    """What the user said (each None or empty: take what ``dvc.yaml`` declares)."""

    metrics_files: tuple[str, ...] | None = None
    model_files: tuple[str, ...] | None = None
    data_files: tuple[str, ...] | None = None
    skip_stages: tuple[str, ...] = ()
    volatile: tuple[str, ...] = ()


def _within(rel: str, paths: Sequence[str]) -> bool:
    return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in paths)


def _norm(rel: str) -> str:
    return PurePosixPath(rel.replace("\\", "/")).as_posix().removeprefix("./")


def metrics_files(layout: Layout, options: Options, undeclared_ok: Sequence[str] = ()) -> tuple[str, ...]:
    """The metrics files evaluation reads: those given, else every metrics file ``dvc.yaml`` declares that a
    stage writes. A given one must be declared, or be a file out of a stage, or (``undeclared_ok``: seen in
    a directory out of the user's workspace or of the built environment) a file inside a directory out."""
    writable = [m for m in layout.metrics if layout.writer(m) is not None]
    if options.metrics_files is None:
        if not writable:
            declared = ", ".join(layout.metrics) or "none"
            raise ProjectError(
                "DVCProject: no stage of dvc.yaml writes a metrics file (metrics declared: " + declared + "); "
                "declare one under `metrics:` in dvc.yaml or pass metrics_file=<path> (ini mlchaos_dvc_metrics)"
            )
        return tuple(writable)
    chosen = []
    file_outs = [o.path for o in layout.outs if o.stage is not None and not o.is_dir]
    for rel in (_norm(r) for r in options.metrics_files):
        writer = layout.writer(rel)
        inside_dir = writer is not None and rel not in file_outs
        if writer is None or (inside_dir and rel not in layout.metrics and rel not in undeclared_ok):
            outs = ", ".join(o.path for o in layout.outs if o.stage) or "none"
            raise ProjectError(
                f"DVCProject metrics_file={rel!r}: no stage of dvc.yaml writes it; metrics files dvc.yaml declares: "
                f"{', '.join(writable) or 'none'}; stage outs: {outs}"
                + (
                    " (a file inside a directory out counts once declared under `metrics:` in dvc.yaml, or once it "
                    "exists in the workspace)"
                    if inside_dir
                    else ""
                )
            )
        chosen.append(rel)
    return tuple(dict.fromkeys(chosen))


def metrics_stages(layout: Layout, files: Sequence[str]) -> list[tuple[Stage, tuple[str, ...]]]:
    """The stages that write ``files``, in run order, each with the files it writes."""
    by_stage: dict[str, list[str]] = {}
    for rel in files:
        stage = layout.writer(rel)
        assert stage is not None
        by_stage.setdefault(stage.name, []).append(rel)
    return [(s, tuple(by_stage[s.name])) for s in layout.stages if s.name in by_stage]


def check_paths(layout: Layout, label: str, paths: Sequence[str] | None) -> tuple[str, ...] | None:
    """``paths`` normalised, each an out of the pipeline or a file inside a directory out."""
    if paths is None:
        return None
    outs = [o.path for o in layout.outs]
    for rel in (_norm(p) for p in paths):
        if not _within(rel, outs):
            raise ProjectError(f"DVCProject {label}: {rel!r} is not an out of the pipeline; outs: {', '.join(outs)}")
    return tuple(dict.fromkeys(_norm(p) for p in paths))


def check_stages(layout: Layout, names: Sequence[str]) -> tuple[str, ...]:
    known = [s.name for s in layout.stages]
    for name in names:
        if name not in known:
            raise ProjectError(
                f"DVCProject skip_stages: {name!r} is not a stage of dvc.yaml; stages: {', '.join(known)}"
            )
    return tuple(names)


def models(layout: Layout, options: Options) -> tuple[str, ...]:
    """Given model files, else ``artifacts:`` of ``type: model``, else file outs ending in a model suffix."""
    given = check_paths(layout, "model_files", options.model_files)
    if given is not None:
        return given
    declared = [a.path for a in layout.artifacts if a.type == "model"]
    if declared:
        return tuple(dict.fromkeys(declared))
    return tuple(o.path for o in layout.outs if not o.is_dir and o.path.endswith(MODEL_SUFFIXES))


def data(layout: Layout, options: Options, files_of: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Data files, the raw data first: given ones, else every ``dvc add``-ed out (whatever its extension; a
    directory as its files), ``artifacts:`` of ``type: dataset``, then stage outs (and files inside directory
    outs, from ``files_of``) with a data suffix. Models are never data."""
    given = check_paths(layout, "data_files", options.data_files)
    if given is not None:
        return tuple(f for rel in given for f in files_of.get(rel, (rel,)))
    model_paths = models(layout, options)
    found: list[str] = []
    for out in layout.added:
        found.extend(files_of.get(out.path, (out.path,)))
    for artifact in layout.artifacts:
        if artifact.type == "dataset":
            found.extend(files_of.get(artifact.path, (artifact.path,)))
    for out in layout.outs:
        if out.stage is None:
            continue
        for rel in files_of.get(out.path, (out.path,)):
            if rel.endswith(DATA_SUFFIXES) and not out.metric and not out.plot:
                found.append(rel)
    return tuple(
        rel
        for rel in dict.fromkeys(found)
        if not _within(rel, model_paths) and not _within(rel, layout.metrics) and not _within(rel, layout.plots)
    )


def volatile(layout: Layout, options: Options, learned: Sequence[str] = ()) -> tuple[str, ...]:
    """Outs judged by metrics, never by bytes: every plot ``dvc.yaml`` declares, those the user names, those a
    second run at baseline time wrote differently."""
    named = check_paths(layout, "volatile", options.volatile) or ()
    return tuple(dict.fromkeys((*layout.plots, *named, *learned)))


def code_files(layout: Layout) -> tuple[str, ...]:
    """Git-tracked inputs of the stages: deps that no stage writes and that are not ``dvc add``-ed data."""
    outs = [o.path for o in layout.outs]
    found = []
    for stage in layout.stages:
        for dep in stage.deps:
            if not _within(dep, outs):
                found.append(dep)
    return tuple(dict.fromkeys(found))


def holdout(
    layout: Layout, stages: Sequence[Stage], model_paths: Sequence[str], files_of: dict[str, tuple[str, ...]]
) -> tuple[str, ...]:
    """The data the metrics stages read but do not write, that are not models, code or params: DVC outs only."""
    outs = [o.path for o in layout.outs]
    written = [o for s in stages for o in s.outs]
    found = []
    for stage in stages:
        for dep in stage.deps:
            if dep in stage.params_files or not _within(dep, outs) or _within(dep, written):
                continue
            for rel in files_of.get(dep, (dep,)):
                if not _within(rel, model_paths):
                    found.append(rel)
    return tuple(dict.fromkeys(found))
