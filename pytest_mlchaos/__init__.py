"""pytest-mlchaos: chaos testing for ML pipelines.

The names below are the public API; import them from here::

    from pytest_mlchaos import Artifacts, Attempt, Incident, MLProject, RecoveryResult, inject

Public submodules, each with its own ``__all__``: ``pytest_mlchaos.incidents`` (the registry,
``Injector`` and ``Param`` for incidents of your own), ``pytest_mlchaos.strategies``,
``pytest_mlchaos.stateful``, ``pytest_mlchaos.severity`` and ``pytest_mlchaos.profiles``
(Hypothesis), ``pytest_mlchaos.hooks`` (the hook specifications) and ``pytest_mlchaos.report``
(``comparable``). Every other module is internal and may change without notice.

``DVCProject`` is loaded on first use, so importing the plugin loads none of DVC, MLflow,
scikit-learn or pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .artifacts import Artifacts
from .gate import Thresholds, Verdict
from .incidents import Incident, IncidentError, inject
from .project import Attempt, MLProject, RecoveryResult

if TYPE_CHECKING:
    from .dvc_project import DVCProject

__version__ = "0.1.0"

__all__ = [
    "Artifacts",
    "Attempt",
    "DVCProject",
    "Incident",
    "IncidentError",
    "MLProject",
    "RecoveryResult",
    "Thresholds",
    "Verdict",
    "__version__",
    "inject",
]


def __getattr__(name: str) -> Any:
    if name == "DVCProject":
        from .dvc_project import DVCProject

        return DVCProject
    raise AttributeError(f"module 'pytest_mlchaos' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
