"""The ``MLProject`` adapter that lets pytest-mlchaos build, break and check this system.

``project`` is what ``mlchaos_project = project_under_test.chaos:project`` names.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

from pytest_mlchaos.artifacts import Artifacts
from pytest_mlchaos.incidents.spec import Incident
from pytest_mlchaos.project import RecoveryResult

from . import layout
from .models import LOWER_IS_BETTER


class ChurnProject:
    """The reference system as an ``MLProject``: one environment per root, built like ``mlops init``."""

    name = "project_under_test"
    lower_is_better = LOWER_IS_BETTER

    def __init__(self) -> None:
        self._metrics: dict[str, dict[str, float]] = {}

    def fingerprint(self) -> str:
        from .config import Config

        h = hashlib.sha256()
        package = Path(__file__).parent
        for path in sorted(package.glob("*.py")) + sorted(package.glob("*.yaml")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
        h.update(json.dumps(Config().to_dict(), sort_keys=True).encode())
        return h.hexdigest()[:16]

    def build(self, root: Path) -> None:
        from pytest_mlchaos.progress import stage

        from .environment import init

        init(Path(root), progress=stage)

    def relocate(self, root: Path, old_root: Path) -> None:
        from .tracking import rewrite_paths

        root = Path(root)
        for db in (root / layout.MLFLOW_DB, root / layout.BACKUPS / layout.MLFLOW_DB):
            rewrite_paths(db, Path(old_root), root)

    def attach_services(self, root: Path, endpoints: dict) -> None:
        """Point the environment's DVC remote at the S3 endpoint the plugin gives (``mlchaos_services = s3``), and
        its registry reads at the MLflow tracking server (``mlchaos_services = mlflow``)."""
        from .dvcops import attach_s3
        from .tracking import attach_tracking

        if "s3" in endpoints:
            attach_s3(Path(root), **endpoints["s3"])
        if "mlflow" in endpoints:
            attach_tracking(Path(root), endpoints["mlflow"]["tracking_uri"])

    def artifacts(self, root: Path) -> Artifacts:
        return Artifacts(
            data=layout.DATA_FILES, models=layout.MODEL_FILES, stages=layout.STAGES,
            stage_outputs=dict(layout.STAGE_OUTPUTS), stage_inputs=dict(layout.STAGE_INPUTS),
            sources=(layout.RAW, layout.PARAMS, layout.DVC_YAML), holdout=(layout.TEST,),
            metrics_file=layout.METRICS, lock_file=layout.LOCK,
            dvc_cache=layout.DVC_CACHE, dvc_remote=layout.DVC_REMOTE, dvc_objects=self._dvc_objects(root),
            backups=layout.BACKUPS,
            snapshots=layout.SNAPSHOTS, mlflow_db=layout.MLFLOW_DB, mlflow_artifacts=layout.MLARTIFACTS,
            registry_model=layout.REGISTERED_MODEL, registry_alias=layout.ALIAS,
        )

    @staticmethod
    def _dvc_objects(root: Path) -> tuple[str, ...] | None:
        """The objects the DVC cache and remote must hold: every locked output but the uncached metrics."""
        from .dvcops import LockError, locked_outs

        try:
            outs = locked_outs(Path(root))
        except (LockError, OSError):
            return None
        return tuple(sorted(out.md5 for rel, out in outs.items() if rel != layout.METRICS))

    def evaluate(self, root: Path) -> dict[str, float]:
        """Metrics of ``models/model.pkl`` on ``data/processed/test.csv`` (raises naming a broken file).

        Memoised by the md5 of the model, the test split and ``params.yaml``: the same bytes give
        the same metrics, so a repeat costs three hashes instead of a model load.
        """
        from .dvcops import md5_file
        from .models import scalar_metrics
        from .stages import compute_metrics

        root = Path(root)
        files = (root / layout.MODEL, root / layout.TEST, root / layout.PARAMS)
        key = "|".join(md5_file(f) if f.is_file() else "-" for f in files)
        if key not in self._metrics:
            self._metrics[key] = scalar_metrics(compute_metrics(root))
            if len(self._metrics) > 64:
                self._metrics.pop(next(iter(self._metrics)))
        return dict(self._metrics[key])

    def detect(self, root: Path) -> list[str]:
        from .health import detect

        return detect(Path(root))

    def recover(self, root: Path, incidents: Sequence[Incident]) -> RecoveryResult:
        from .recovery import RecoveryManager

        return RecoveryManager(Path(root)).recover(incidents)

    def run_stage(self, root: Path, stage: str) -> None:
        from .stages import run_stage

        run_stage(Path(root), stage)

    def check_model(self, root: Path) -> str | None:
        from .health import check_file

        if not (Path(root) / layout.MODEL).is_file():
            return f"{layout.MODEL}: missing"
        why = check_file(Path(root), layout.MODEL, None)
        return f"{layout.MODEL}: {why}" if why else None


project = ChurnProject()
