"""Deliberately broken recovery managers around the reference project, and the verdict each must get.

Each manager wraps the real system (same build, same data, same stores) and replaces only its
recovery, the way a buggy or dishonest one would behave: it lies, gives up, fixes sizes not
content, fixes the data but not the model, puts back a stale version, launders the damage by
re-saving and re-locking it, empties a store while its health check stays silent, or forges
the metrics file. The plugin must judge each on evidence it gathers itself; the real manager
must pass.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import pytest

from project_under_test import backups, layout
from project_under_test.chaos import ChurnProject
from project_under_test.dvcops import commit_stages, locked_outs, push
from project_under_test.stages import run_pipeline
from pytest_mlchaos.env import EnvFactory
from pytest_mlchaos.gate import Thresholds, Verdict
from pytest_mlchaos.incidents import Incident, builtin_registry
from pytest_mlchaos.judge import Policy
from pytest_mlchaos.project import RecoveryResult

RAW, MODEL, METRICS = layout.RAW, layout.MODEL, layout.METRICS
SUITE_POLICY = Policy(Thresholds(metrics=("f1", "roc_auc", "accuracy")))  # what scenarios/pytest.ini gates on


class Manager(ChurnProject):
    """The reference project with another recovery manager (``repair(root)``, then a claim)."""

    claim = True
    silent = False  # a project whose own health check finds nothing (many real projects have none)

    def repair(self, root: Path) -> None:
        pass

    def recover(self, root: Path, incidents: Sequence[Incident]) -> RecoveryResult:
        self.repair(Path(root))
        return RecoveryResult(self.claim, self.name_of_strategy if self.claim else None,
                              message="" if self.claim else "no strategy could repair it")

    @property
    def name_of_strategy(self) -> str:
        return type(self).__name__.lower()

    def detect(self, root: Path) -> list[str]:
        return [] if self.silent else super().detect(root)

    def check_model(self, root: Path) -> str | None:
        return None if self.silent else super().check_model(root)


class Liar(Manager):
    """Says "recovered" and does nothing."""


class HonestFailure(Manager):
    """Says it could not recover."""

    claim = False


class SizeOnly(Manager):
    """Makes every locked output the size ``dvc.lock`` records, padding or cutting what is there."""

    def repair(self, root: Path) -> None:
        for rel, out in locked_outs(root).items():
            path = root / rel
            data = path.read_bytes() if path.is_file() else b""
            path.write_bytes((data + b"\n" * out.size)[:out.size])


class DataNotModel(Manager):
    """Puts the data files back from the backups and leaves the model as the incident left it."""

    def repair(self, root: Path) -> None:
        for rel in layout.DATA_FILES:
            shutil.copyfile(backups.path_of(root, rel), root / rel)


class StaleVersion(Manager):
    """Puts back an older, self-consistent version of the raw data (5% of its rows missing), locks it,
    reruns the pipeline, pushes and rebuilds the backups: every check of its own then agrees."""

    def repair(self, root: Path) -> None:
        lines = backups.path_of(root, RAW).read_bytes().splitlines(keepends=True)
        (root / RAW).write_bytes(b"".join(lines[: int(len(lines) * 0.95)]))
        commit_stages(root, ["generate"])
        run_pipeline(root, "process")
        push(root)
        backups.rebuild(root)


class Launderer(Manager):
    """Re-saves the damaged raw CSV through pandas, re-locks it (``dvc commit -f``), pushes and rebuilds the
    backups: the damaged bytes are gone, the damage is not, and nothing downstream reads the raw data."""

    def repair(self, root: Path) -> None:
        import pandas as pd

        pd.read_csv(root / RAW).to_csv(root / RAW, index=False)
        commit_stages(root, ["generate"])
        push(root)
        backups.rebuild(root)


class SilentStoreLiar(Manager):
    """Does nothing, with a health check that sees nothing: an emptied store must still be caught."""

    silent = True


class MetricsForger(Manager):
    """Trains a much worse model, writes the baseline's numbers into ``metrics.json`` and re-locks both;
    its health check is silent. Only metrics the plugin computes itself can tell."""

    silent = True

    def repair(self, root: Path) -> None:
        import joblib
        from sklearn.dummy import DummyClassifier

        from project_under_test import data

        features, target = data.features_and_target(data.read_csv(root / layout.TRAIN))
        joblib.dump(DummyClassifier(strategy="stratified", random_state=0).fit(features, target), root / MODEL)
        shutil.copyfile(backups.path_of(root, METRICS), root / METRICS)  # the baseline's own numbers
        commit_stages(root, ["train", "evaluate"])


@dataclass(frozen=True)
class Case:
    manager: type[ChurnProject]
    incidents: tuple[Incident, ...]
    verdict: Verdict
    evidence: Callable[[object], bool]  # what the outcome must show, beyond the verdict
    id: str


MISSING = Incident("data_corruption", "missing_values", {"fraction": 0.2})
BITFLIP = Incident("data_corruption", "bitflip", {"flips": 3})
NOISE = Incident("data_corruption", "noise", {"fraction": 0.3})
TRUNCATE = Incident("data_corruption", "truncate", {"fraction": 0.5})
CORRUPT_MODEL = Incident("model_loss", "corrupt")
WRONG_MODEL = Incident("model_loss", "wrong_model")
CACHE_LOSS = Incident("storage_loss", "dvc_cache_loss")
REMOTE_LOSS = Incident("storage_loss", "dvc_remote_loss")
BACKUP_LOSS = Incident("storage_loss", "backup_loss")

CASES = [
    Case(Liar, (MISSING,), Verdict.FALSE_RECOVERY, lambda o: RAW in o.still_damaged, "liar"),
    Case(HonestFailure, (MISSING,), Verdict.UNRECOVERED, lambda o: RAW in o.still_damaged, "honest-failure"),
    Case(SizeOnly, (TRUNCATE,), Verdict.FALSE_RECOVERY, lambda o: o.replaced[0].startswith(RAW), "size-only"),
    Case(DataNotModel, (MISSING, CORRUPT_MODEL), Verdict.FALSE_RECOVERY, lambda o: MODEL in o.still_damaged,
         "data-not-model"),
    Case(StaleVersion, (MISSING,), Verdict.FALSE_RECOVERY,
         lambda o: o.replaced[0].startswith(RAW) and "lost" in o.replaced[0], "stale-version"),
    *[Case(Launderer, (incident,), Verdict.FALSE_RECOVERY,
           lambda o: o.replaced[0].startswith(RAW) and "a good copy survived" in o.replaced[0],
           f"launder-{incident.mode}") for incident in (BITFLIP, MISSING, NOISE)],
    *[Case(SilentStoreLiar, (incident,), Verdict.FALSE_RECOVERY, lambda o: bool(o.stores) and not o.problems,
           f"silent-store-liar-{incident.mode}") for incident in (CACHE_LOSS, REMOTE_LOSS, BACKUP_LOSS)],
    Case(MetricsForger, (WRONG_MODEL,), Verdict.CRITICAL,
         lambda o: any("metrics files removed" in e for e in o.evaluated), "metrics-forger"),
    *[Case(ChurnProject, incidents, Verdict.RESTORED, lambda o: not o.mismatched, f"correct-{name}")
      for name, incidents in (("missing", (MISSING,)), ("launderable", (BITFLIP,)), ("wrong-model", (WRONG_MODEL,)),
                              ("stores", (CACHE_LOSS, REMOTE_LOSS, BACKUP_LOSS)), ("data-and-model", (MISSING, CORRUPT_MODEL)))],
]


@pytest.fixture
def make_env(churn_baseline, tmp_path: Path):
    def make(project: ChurnProject, incidents: Sequence[Incident], policy: Policy = SUITE_POLICY):
        factory = EnvFactory(project, churn_baseline, builtin_registry(), tmp_path / "envs", seed=7, policy=policy)
        return factory(incidents)

    return make


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_recovery_manager_gets_the_verdict_its_work_deserves(case: Case, make_env) -> None:
    env = make_env(case.manager(), case.incidents)
    outcome = env.verify(nodeid=case.id)
    assert outcome.verdict is case.verdict, (outcome.reason, outcome.replaced, outcome.stores, outcome.problems)
    assert outcome.passed is (case.verdict is Verdict.RESTORED)
    assert case.evidence(outcome), outcome


def test_a_laundered_source_is_named_in_the_headline(make_env) -> None:
    outcome = make_env(Launderer(), (MISSING,)).verify()
    assert outcome.reason == ("false recovery: the recovery manager reported success, but data/raw/churn.csv "
                              "was replaced with different content")


def test_the_forged_metrics_file_is_never_read(make_env) -> None:
    """The forger's metrics.json repeats the baseline; the plugin's own evaluation shows the drop."""
    env = make_env(MetricsForger(), (WRONG_MODEL,))
    outcome = env.verify()
    assert json.loads((env.root / METRICS).read_text())["f1"] == pytest.approx(env.baseline.metrics["f1"])
    f1 = next(m for m in outcome.metrics if m.name == "f1")
    assert f1.after < 0.7 * f1.baseline and f1.drop > 0.10


def test_a_source_destroyed_everywhere_comes_back_lossy_and_is_scored_on_the_baseline_holdout(make_env) -> None:
    """With every copy of the raw data gone, the real manager's last resort drops the damaged rows: a
    lossy recovery, judged by metrics on the baseline's test split, never on the one it regenerated."""
    env = make_env(ChurnProject(), (MISSING, BACKUP_LOSS, CACHE_LOSS, REMOTE_LOSS))
    shutil.rmtree(env.root / layout.SNAPSHOTS)  # the last place a copy of the raw data survived
    outcome = env.verify()
    assert outcome.verdict in (Verdict.REPAIRED, Verdict.DEGRADED), outcome.reason
    assert outcome.strategy and "repair" in outcome.strategy
    assert any(item.startswith(f"{RAW}: every copy was destroyed") and "lost" in item for item in outcome.lossy)
    assert any("baseline's holdout" in label for label in outcome.evaluated)
    assert any("retrains" in label for label in outcome.evaluated)
