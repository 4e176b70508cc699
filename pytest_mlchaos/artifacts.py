"""What an ML environment is made of, as paths relative to its root."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Artifacts:
    """The parts of one environment that incidents hit and verification checks.

    Every path is relative to the environment root (posix separators), so the same
    ``Artifacts`` describes the template and each of its clones.

    - ``data``: data files, the raw dataset first.
    - ``models``: serialised model files.
    - ``stages``: pipeline stage names in execution order; ``stage_outputs`` maps a stage
      to the files it writes.
    - ``tracked``: every file whose content digest the baseline manifest records and
      verification compares (defaults to data + models + stage outputs + metrics).
    - ``dvc_cache``, ``dvc_remote``, ``backups``: directories of the stores recovery reads from.
    - ``lock_file``: the pipeline lock (``dvc.lock``); ``metrics_file``: the metrics the pipeline writes.
    - ``mlflow_db``: the MLflow sqlite database; ``registry_model``/``registry_alias``:
      the registered model and the alias serving it.
    """

    data: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    stage_outputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tracked: tuple[str, ...] = ()
    metrics_file: str | None = None
    lock_file: str | None = None
    dvc_cache: str | None = None
    dvc_remote: str | None = None
    backups: str | None = None
    mlflow_db: str | None = None
    registry_model: str | None = None
    registry_alias: str = "production"

    def tracked_files(self) -> tuple[str, ...]:
        """The files the manifest covers: ``tracked`` if given, else data, models, stage outputs and metrics."""
        if self.tracked:
            return self.tracked
        seen: dict[str, None] = {}
        for group in (self.data, self.models, *self.stage_outputs.values()):
            for path in group:
                seen.setdefault(path, None)
        if self.metrics_file:
            seen.setdefault(self.metrics_file, None)
        return tuple(seen)

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
            "tracked": list(self.tracked_files()),
            "metrics_file": self.metrics_file,
            "lock_file": self.lock_file,
            "dvc_cache": self.dvc_cache,
            "dvc_remote": self.dvc_remote,
            "backups": self.backups,
            "mlflow_db": self.mlflow_db,
            "registry_model": self.registry_model,
            "registry_alias": self.registry_alias,
        }
