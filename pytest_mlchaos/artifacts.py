"""What an ML environment is made of, as paths relative to its root."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Artifacts"]


@dataclass(frozen=True)
class Artifacts:
    """The parts of one environment that incidents hit and verification checks.

    Every path is relative to the environment root (posix separators), so the same
    ``Artifacts`` describes the template and each of its clones. A path may name a
    directory (a DVC directory out): the manifest then covers every file under it.

    What the pipeline makes and reads:

    - ``data``: data files, the raw dataset first.
    - ``models``: serialised model files.
    - ``stages``: pipeline stage names in execution order; ``stage_outputs`` maps a stage
      to the files it writes; ``stage_inputs`` (optional) maps a stage to the files it reads.
    - ``tracked``: every file whose content digest the baseline manifest records and
      verification compares (defaults to sources + data + models + stage outputs + metrics).
    - ``sources``: the inputs no stage makes (raw data added with ``dvc add``, params,
      code): they must come back bit-exact whenever a good copy survived. Default: the
      ``data`` files no stage writes.
    - ``holdout``: the evaluation data; when the plugin re-evaluates a recovery, it puts
      these back from the baseline first, so a recovered model is never scored on a split
      the recovery made.
    - ``metrics_file`` (and ``metrics_files``): what the pipeline writes about itself;
      ``volatile``: outputs that are not byte-reproducible (plots, logs with timestamps).
      Neither is ever trusted: both are removed before the plugin re-evaluates, and
      volatile files are left out of the manifest.

    The stores recovery reads from (their content is part of the manifest):

    - ``dvc_cache``, ``dvc_remote``: DVC cache and local remote directories (their
      ``files/`` objects); ``dvc_objects``: the object names (md5, ``.dir`` included) that
      ``dvc.lock`` and the ``.dvc`` files reference for cached outs, which both must hold
      (None: every object there at baseline); ``backups``, ``snapshots``: directories of copies.
    - ``mlflow_db``: the MLflow sqlite database; ``mlflow_artifacts``: its artifact store;
      ``registry_model``/``registry_alias``: the registered model and the alias serving it
      (``registry_alias=None``: the latest version is the served one).
    - ``lock_file``: the pipeline lock (``dvc.lock``).
    """

    data: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    stage_outputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    stage_inputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tracked: tuple[str, ...] = ()
    sources: tuple[str, ...] | None = None
    holdout: tuple[str, ...] = ()
    metrics_file: str | None = None
    metrics_files: tuple[str, ...] = ()
    volatile: tuple[str, ...] = ()
    lock_file: str | None = None
    dvc_cache: str | None = None
    dvc_remote: str | None = None
    dvc_objects: tuple[str, ...] | None = None
    backups: str | None = None
    snapshots: str | None = None
    mlflow_db: str | None = None
    mlflow_artifacts: str | None = None
    registry_model: str | None = None
    registry_alias: str | None = "production"

    def source_files(self) -> tuple[str, ...]:
        """Sources as declared, else the data files no stage writes."""
        if self.sources is not None:
            return self.sources
        written = {p for outs in self.stage_outputs.values() for p in outs}
        return tuple(p for p in self.data if p not in written)

    def metrics_paths(self) -> tuple[str, ...]:
        """Every metrics file the pipeline writes (``metrics_file`` first)."""
        first = (self.metrics_file,) if self.metrics_file else ()
        return tuple(dict.fromkeys((*first, *self.metrics_files)))

    def tracked_files(self) -> tuple[str, ...]:
        """The paths the manifest covers: ``tracked`` if given, else sources, data, models, stage outputs and
        metrics; volatile paths are never in it."""
        if self.tracked:
            paths: tuple[str, ...] = self.tracked
        else:
            seen: dict[str, None] = {}
            for group in (
                self.source_files(),
                self.data,
                self.models,
                *self.stage_outputs.values(),
                self.metrics_paths(),
            ):
                for path in group:
                    seen.setdefault(path, None)
            paths = tuple(seen)
        return tuple(p for p in paths if not self.is_volatile(p))

    def is_volatile(self, rel: str) -> bool:
        return any(rel == v or rel.startswith(v.rstrip("/") + "/") for v in self.volatile)

    def store_dirs(self) -> dict[str, str]:
        """Store kind -> directory, for the stores this environment has."""
        stores = {
            "dvc_cache": self.dvc_cache,
            "dvc_remote": self.dvc_remote,
            "backups": self.backups,
            "snapshots": self.snapshots,
            "mlflow_artifacts": self.mlflow_artifacts,
        }
        return {kind: path for kind, path in stores.items() if path}

    def role_paths(self, role: str) -> tuple[str, ...]:
        """Paths for a role name usable as an incident ``target``: ``data``, ``models``, or a stage name."""
        if role == "data":
            return self.data
        if role in ("model", "models"):
            return self.models
        if role in self.stage_outputs:
            return tuple(self.stage_outputs[role])
        return ()

    def available(self) -> dict[str, tuple[str, ...]]:
        """Named lists that parameter schemas can draw choices from (``choices_from``)."""
        return {"stages": self.stages, "data": self.data, "models": self.models}

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": list(self.data),
            "models": list(self.models),
            "stages": list(self.stages),
            "stage_outputs": {k: list(v) for k, v in self.stage_outputs.items()},
            "stage_inputs": {k: list(v) for k, v in self.stage_inputs.items()},
            "tracked": list(self.tracked_files()),
            "sources": list(self.source_files()),
            "holdout": list(self.holdout),
            "metrics_file": self.metrics_file,
            "metrics_files": list(self.metrics_paths()),
            "volatile": list(self.volatile),
            "lock_file": self.lock_file,
            "dvc_cache": self.dvc_cache,
            "dvc_remote": self.dvc_remote,
            "dvc_objects": None if self.dvc_objects is None else list(self.dvc_objects),
            "backups": self.backups,
            "snapshots": self.snapshots,
            "mlflow_db": self.mlflow_db,
            "mlflow_artifacts": self.mlflow_artifacts,
            "registry_model": self.registry_model,
            "registry_alias": self.registry_alias,
        }
