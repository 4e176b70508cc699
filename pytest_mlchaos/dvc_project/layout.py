"""What a DVC repository declares: stages, their deps and outs, metrics, plots, params and artifacts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..project import ProjectError
from .repo import open_repo

__all__ = ["Artifact", "Layout", "Out", "Stage", "read_layout"]


@dataclass(frozen=True)
class Out:
    """One DVC-tracked output: path relative to the root, its stage (None for ``dvc add`` data), lock md5."""

    path: str
    stage: str | None
    md5: str | None
    cached: bool
    is_dir: bool = False
    metric: bool = False
    plot: bool = False


@dataclass(frozen=True)
class Stage:
    """One pipeline stage with a command: ``target`` is what ``repro`` takes; deps relative to the root."""

    name: str
    target: str
    cmd: str
    wdir: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    params_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Artifact:
    """An entry of a ``dvc.yaml`` ``artifacts:`` section: name, path relative to the root, type."""

    name: str
    path: str
    type: str | None


@dataclass(frozen=True)
class Layout:
    """The pipeline as DVC resolves it (templating, ``foreach``/``matrix``, ``wdir``, ``.dvc`` files).

    Stages are in run order. ``metrics`` and ``plots`` are every file (or directory) that
    ``dvc.yaml`` declares as such, at top level or in a stage; ``params`` the params files.
    """

    stages: tuple[Stage, ...]
    outs: tuple[Out, ...]
    metrics: tuple[str, ...] = ()
    plots: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    artifacts: tuple[Artifact, ...] = ()
    dvcfiles: tuple[str, ...] = field(default=())

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise ProjectError(f"unknown stage {name!r}; stages: {', '.join(s.name for s in self.stages)}")

    def writer(self, rel: str) -> Stage | None:
        """The stage whose outs hold ``rel`` (an out itself, or a file inside a directory out)."""
        for stage in self.stages:
            if any(rel == out or rel.startswith(out.rstrip("/") + "/") for out in stage.outs):
                return stage
        return None

    def out_of(self, rel: str) -> Out | None:
        """The out that is ``rel`` or holds it."""
        for out in self.outs:
            if rel == out.path or rel.startswith(out.path.rstrip("/") + "/"):
                return out
        return None

    @property
    def added(self) -> tuple[Out, ...]:
        """Outs of ``.dvc`` files (``dvc add``): the raw data no stage makes."""
        return tuple(out for out in self.outs if out.stage is None)


def read_layout(root: Path, rev: str | None = "HEAD") -> Layout:
    """Stages in execution order and every out with the md5 its ``dvc.lock`` / ``.dvc`` file records.

    Read from the git revision ``rev`` (the committed baseline, so a damaged ``dvc.lock`` in the
    workspace cannot change what recovery aims for); ``rev=None`` reads the workspace.
    """
    import networkx as nx

    with open_repo(root, rev=rev) as repo:
        index = repo.index
        stages = list(index.stages)
        position = {stage: i for i, stage in enumerate(stages)}
        ordered = list(nx.lexicographical_topological_sort(index.graph.reverse(copy=True), key=lambda s: position[s]))
        base = Path(repo.root_dir).resolve()
        pipeline: list[Stage] = []
        outs: list[Out] = []
        metrics: list[str] = []
        plots: list[str] = []
        for stage in ordered:
            named = getattr(stage, "name", None) if stage.cmd else None
            out_paths = []
            for out in stage.outs:
                rel = Path(out.fs_path).resolve().relative_to(base).as_posix()
                out_paths.append(rel)
                md5 = out.hash_info.value if out.hash_info and out.hash_info.name in ("md5", "md5-dos2unix") else None
                is_dir = bool(out.hash_info and out.hash_info.isdir) or bool(md5 and md5.endswith(".dir"))
                outs.append(Out(rel, named, md5, bool(out.use_cache), is_dir, bool(out.metric), bool(out.plot)))
                if out.metric:
                    metrics.append(rel)
                if out.plot:
                    plots.append(rel)
            if named:
                deps = tuple(Path(d.fs_path).resolve().relative_to(base).as_posix() for d in stage.deps)
                params = tuple(
                    Path(d.fs_path).resolve().relative_to(base).as_posix()
                    for d in stage.deps
                    if type(d).__name__ == "ParamsDependency"
                )
                target = f"{Path(stage.path).resolve().relative_to(base).as_posix()}:{named}"
                cmd = stage.cmd if isinstance(stage.cmd, str) else " && ".join(stage.cmd)
                pipeline.append(
                    Stage(
                        named,
                        target,
                        cmd,
                        Path(stage.wdir).resolve().relative_to(base).as_posix(),
                        deps,
                        tuple(out_paths),
                        params,
                    )
                )
        metrics.extend(_top_level(repo, base, index._metrics))
        plots.extend(_plot_sources(repo, base, index))
        params_files = [p for s in pipeline for p in s.params_files] + list(_top_level(repo, base, index._params))
        artifacts = [
            Artifact(name, _under(repo, base, dvcfile, spec.get("path", "")), spec.get("type"))
            for dvcfile, entries in index._artifacts.items()
            for name, spec in (entries or {}).items()
            if isinstance(spec, dict) and spec.get("path")
        ]
        dvcfiles = sorted({Path(s.path).resolve().relative_to(base).as_posix() for s in stages})
    return Layout(
        tuple(pipeline),
        tuple(outs),
        tuple(dict.fromkeys(metrics)),
        tuple(dict.fromkeys(plots)),
        tuple(dict.fromkeys(params_files)),
        tuple(artifacts),
        tuple(dvcfiles),
    )


def _under(repo: Any, base: Path, dvcfile: str, rel: str) -> str:
    """``rel`` (relative to the directory of ``dvcfile``) relative to the repository root."""
    directory = Path(repo.fs.parent(dvcfile))
    if not directory.is_absolute():
        directory = base / directory
    return Path(os.path.normpath(directory / rel)).resolve().relative_to(base).as_posix()


def _top_level(repo: Any, base: Path, section: dict[str, list[Any]]) -> list[str]:
    found = []
    for dvcfile, entries in section.items():
        for entry in entries or ():
            if isinstance(entry, str):
                found.append(_under(repo, base, dvcfile, entry))
    return found


def _plot_sources(repo: Any, base: Path, index: Any) -> list[str]:
    """The data files of top-level ``plots:`` (a plot id that is a path, or the keys of ``x``/``y``)."""
    found: list[str] = []
    for dvcfile, entries in index._plots.items():
        for entry in entries or ():
            items = entry.items() if isinstance(entry, dict) else [(entry, None)]
            for plot_id, props in items:
                files: list[str] = []
                if isinstance(props, dict) and isinstance(props.get("y"), dict):
                    files.extend(props["y"])
                    if isinstance(props.get("x"), dict):
                        files.extend(props["x"])
                else:
                    files.append(plot_id)
                found.extend(_under(repo, base, dvcfile, f) for f in files if isinstance(f, str))
    return found
