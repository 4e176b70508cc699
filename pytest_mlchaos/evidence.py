"""What the plugin observed of one incident test: the record ``judge`` turns into a verdict.

Everything here is gathered by the plugin itself (digests it computed, metrics it had the
project's code compute on its own copies); the recovery manager's word is kept only as its
claim (``recovery``), never as evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .incidents.spec import Incident
from .manifest import Manifest, Observation
from .project import RecoveryResult

#: Where a test can break before it is judged, in the order a test runs.
FAILURE_STAGES = ("setup", "body", "containment", "recover", "detect", "evaluate")


@dataclass(frozen=True)
class Failure:
    """An exception that stopped an incident test before it could be judged: where, its type, its message."""

    where: str
    type: str
    message: str

    @classmethod
    def of(cls, where: str, exc: BaseException) -> Failure:
        message = str(exc).strip() or repr(exc)
        return cls(where, type(exc).__name__, message[:2000])

    def text(self) -> str:
        if self.where == "containment":
            return self.message
        subject = {"body": "the test body", "setup": "setting up the environment"}.get(self.where, f"{self.where}()")
        return f"{subject} raised {self.type}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"where": self.where, "type": self.type, "message": self.message}


@dataclass(frozen=True)
class Evaluation:
    """Metrics the plugin had the project's own evaluation compute, and on what."""

    label: str
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class Evidence:
    """Everything observed of one incident test, from injection to the last evaluation.

    - ``manifest``: what the baseline held; ``before``/``after``: the environment read when
      recovery started and after it ended; ``git_copies``: sources whose baseline content git
      still held when recovery started;
    - ``recovery``: the manager's own account (its claim); ``failure``: what stopped the test;
      ``cut_after``: the budget at which a recovery that had not returned was cut;
    - ``problems``: what the project's ``detect()``/``check_model()`` and the plugin's own
      re-run of the pipeline still found after recovery;
    - ``evaluations``: metrics computed by the plugin (each of them is judged, the worst counts);
      ``changes``: how a differing source's content changed (rows kept, bytes).
    """

    nodeid: str
    incidents: tuple[Incident, ...]
    manifest: Manifest | None = None
    baseline_metrics: Mapping[str, float] = field(default_factory=dict)
    injected: tuple[str, ...] = ()
    recovery: RecoveryResult | None = None
    before: Observation | None = None
    after: Observation | None = None
    git_copies: frozenset[str] = frozenset()
    problems: tuple[str, ...] = ()
    evaluations: tuple[Evaluation, ...] = ()
    changes: Mapping[str, str] = field(default_factory=dict)
    failure: Failure | None = None
    time_to_detect: float | None = None
    time_to_recover: float | None = None
    time_to_metrics: float | None = None
    cut_after: float | None = None  # the recovery had not returned at the MTTR budget and was cut there


__all__ = ["FAILURE_STAGES", "Evaluation", "Evidence", "Failure"]
