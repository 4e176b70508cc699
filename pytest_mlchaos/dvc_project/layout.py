"""What a DVC repository declares: its stages, their outs, and which outs are data or models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..project import ProjectError
from .repo import open_repo


# -- what the repo declares ---------------------------------------------------------------------
@dataclass(frozen=True)
class Out:
    """One DVC-tracked output: path relative to the root, its stage (None for ``dvc add`` data), lock md5."""

    path: str
    stage: str | None
    md5: str | None
    cached: bool
    is_dir: bool = False


@dataclass(frozen=True)
class Stage:
    """One pipeline stage with a command: ``target`` is what ``repro`` takes; deps relative to the root."""

    name: str
    target: str
    cmd: str
    wdir: str
    deps: tuple[str, ...]
    outs: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """The pipeline as DVC resolves it (templating, ``wdir``, ``.dvc`` files), stages in run order."""

    stages: tuple[Stage, ...]
    outs: tuple[Out, ...]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise ProjectError(f"unknown stage {name!r}; stages: {', '.join(s.name for s in self.stages)}")


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
        graph = index.graph
        ordered = list(nx.lexicographical_topological_sort(graph.reverse(copy=True), key=lambda s: position[s]))
        base = Path(repo.root_dir)
        pipeline: list[Stage] = []
        outs: list[Out] = []
        for stage in ordered:
            named = getattr(stage, "name", None) if stage.cmd else None
            out_paths = []
            for out in stage.outs:
                rel = Path(out.fs_path).relative_to(base).as_posix()
                out_paths.append(rel)
                md5 = out.hash_info.value if out.hash_info and out.hash_info.name in ("md5", "md5-dos2unix") else None
                outs.append(Out(rel, named, md5, bool(out.use_cache), bool(out.hash_info and out.hash_info.isdir)))
            if named:
                deps = tuple(Path(d.fs_path).relative_to(base).as_posix() for d in stage.deps)
                target = f"{Path(stage.path).relative_to(base).as_posix()}:{named}"
                pipeline.append(Stage(named, target, stage.cmd if isinstance(stage.cmd, str)
                                      else " && ".join(stage.cmd), Path(stage.wdir).relative_to(base).as_posix(),
                                      deps, tuple(out_paths)))
    return Layout(tuple(pipeline), tuple(outs))
