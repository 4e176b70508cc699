"""``ChaosMachine``: a Hypothesis state machine that interleaves incidents, recoveries, snapshots and rollbacks.

>>> from pytest_mlchaos.stateful import ChaosMachine
>>> def test_recovery_survives_interleavings(ml_env_factory):
...     ChaosMachine.run(ml_env_factory, thresholds=None, incident_options={"max_severity": 0.5})

Rules: ``inject`` a generated incident; ``recover`` (the project's recovery manager, then
the plugin's own verdict); ``inject_during_recovery`` (a second incident strikes as the
first recovery attempt returns, and the manager must recover again); and, when the
project has them, ``snapshot``/``rollback``/``retrain`` (optional project methods
``snapshot(root, tag)``, ``rollback(root, tag)``, ``retrain(root)``).

Invariants: a finished recovery is restored, or a repair within the thresholds (an
honest "cannot recover" is accepted unless ``accept_unrecovered = False``; the machine
then continues on a fresh environment); nothing outside the environment root changed
(the baseline template, the environment's siblings and any ``sentinels``); with no
incident pending, the served model loads (``project.check_model``).

Subclass it to add rules and invariants (``self.env`` is the current ``ChaosEnv``).
A falsifying run prints, besides the steps, the ``@pytest.mark.incident`` lines of the
round that failed. They replay that round on a fresh environment; the steps before it
(snapshots, rollbacks, retrains, earlier rounds) are in Hypothesis's step listing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import note
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from hypothesis.strategies import SearchStrategy

from .env import ChaosEnv
from .gate import Thresholds, Verdict, compare_metrics, metric_verdict
from .incidents.spec import Incident, IncidentError
from .outcome import IncidentOutcome
from .strategies import _incident_strategy, replay_lines

__all__ = ["ChaosMachine", "tree_fingerprint"]

EnvMaker = Callable[[], ChaosEnv]


def tree_fingerprint(path: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under ``path`` with its type, size, mode, inode, mtime and ctime.

    Any write changes ``ctime``, which no one can set back (unlike ``mtime``, which a
    bitflip injector restores), so this sees every change without hashing content.
    """
    result: dict[str, tuple[Any, ...]] = {}
    root = Path(path)
    if not root.exists():
        return result
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            full = os.path.join(dirpath, name)
            st_ = os.lstat(full)
            link = os.readlink(full) if os.path.islink(full) else None
            result[os.path.relpath(full, root)] = (
                st_.st_mode,
                st_.st_size,
                st_.st_ino,
                st_.st_mtime_ns,
                st_.st_ctime_ns,
                link,
            )
    return result


def reset_round(env: ChaosEnv) -> None:
    """Forget the finished round (incidents, recovery, evidence, outcome) so the environment can go again."""
    env.reset_round()


_STRATEGIES: dict[tuple[type, int], tuple[Any, SearchStrategy[Incident]]] = {}


class ChaosMachine(RuleBasedStateMachine):
    """Interleave incidents, recoveries, snapshots, rollbacks and retraining on one environment.

    Configure with ``ChaosMachine.configure(factory, ...)`` (a subclass) or subclass and set
    the class attributes (or override ``make_env``). ``factory`` is any zero-argument
    callable returning a fresh ``ChaosEnv``, such as the ``ml_env_factory`` fixture.
    """

    env_factory: ClassVar[EnvMaker | None] = None
    thresholds: ClassVar[Thresholds | None] = None
    incident_options: ClassVar[Mapping[str, Any]] = {}  # keyword arguments of strategies.incidents()
    max_pending: ClassVar[int] = 2  # incidents injected before a recovery must run
    max_snapshots: ClassVar[int] = 3
    accept_unrecovered: ClassVar[bool] = True
    strict: ClassVar[bool] = False  # True: a degraded recovery breaks the invariant too
    sentinels: ClassVar[Sequence[Path]] = ()  # more directories that must not change

    # -- configuration ---------------------------------------------------------------
    @classmethod
    def configure(
        cls, factory: EnvMaker | None = None, *, name: str | None = None, **attributes: Any
    ) -> type[ChaosMachine]:
        """A subclass bound to ``factory``, with class attributes overridden (``thresholds=...``, ...)."""
        unknown = sorted(a for a in attributes if a not in _CONFIGURABLE)
        if unknown:
            raise TypeError(
                f"ChaosMachine.configure: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(_CONFIGURABLE)}"
            )
        if factory is not None and not callable(factory):
            raise TypeError(f"ChaosMachine.configure: factory={factory!r} is not callable; pass e.g. ml_env_factory")
        body: dict[str, Any] = dict(attributes)
        if "sentinels" in body:
            body["sentinels"] = tuple(Path(p) for p in body["sentinels"])
        if factory is not None:
            body["env_factory"] = staticmethod(factory)
        return type(name or cls.__name__, (cls,), body)

    @classmethod
    def run(cls, factory: EnvMaker | None = None, *, settings: Settings | None = None, **attributes: Any) -> None:
        """Run the machine as a test (``configure`` first when given a factory or options)."""
        machine = cls.configure(factory, **attributes) if factory is not None or attributes else cls
        run_state_machine_as_test(machine, settings=settings)

    def make_env(self) -> ChaosEnv:
        """A fresh environment; override it, or configure ``env_factory``."""
        factory = type(self).env_factory
        if factory is None:
            raise TypeError(
                f"{type(self).__name__} has no environment factory: use "
                f"{type(self).__name__}.configure(ml_env_factory) or override make_env()"
            )
        env = factory()
        if not isinstance(env, ChaosEnv):
            raise TypeError(f"the environment factory returned {env!r}, not a ChaosEnv")
        return env

    def incident_strategy(self) -> SearchStrategy[Incident]:
        """Incidents for the current environment (its registry and stages), built once per class and registry."""
        key = (type(self), id(self.env.registry))
        if key not in _STRATEGIES:
            options = {
                "registry": self.env.registry,
                "available": self.env.artifacts.available(),
                **self.incident_options,
            }
            _STRATEGIES[key] = (self.env.registry, _incident_strategy(**options))
        return _STRATEGIES[key][1]

    # -- lifetime ------------------------------------------------------------------------
    def __init__(self) -> None:
        super().__init__()
        self._envs: list[ChaosEnv] = []
        self.tags: list[str] = []
        self.last_outcome: IncidentOutcome | None = None
        self.last_round: list[Incident] = []
        self.env = self._fresh_env()
        self._watched = [self.env.baseline.root, *(Path(p) for p in self.sentinels)]
        self._before = {str(p): tree_fingerprint(p) for p in self._watched}
        self._siblings = self._sibling_names()

    def _fresh_env(self) -> ChaosEnv:
        env = self.make_env()
        self._envs.append(env)
        self.tags = []
        return env

    def _sibling_names(self) -> set[str]:
        mine = {e.root.name for e in self._envs}
        return {p.name for p in self.env.root.parent.iterdir() if p.name not in mine}

    def teardown(self) -> None:
        for env in self._envs:
            env.remove()

    @property
    def project(self) -> Any:
        return self.env.project

    def _has(self, operation: str) -> bool:
        return callable(getattr(self.env.project, operation, None))

    # -- rules -------------------------------------------------------------------------------
    @precondition(lambda self: len(self.env.incidents) < self.max_pending)
    @rule(data=st.data())
    def inject(self, data: st.DataObject) -> None:
        incident = data.draw(self.incident_strategy(), label="incident")
        self._inject(incident)

    @precondition(lambda self: bool(self.env.incidents))
    @rule()
    def recover(self) -> None:
        self._finish_round()

    @precondition(lambda self: bool(self.env.incidents) and len(self.env.incidents) < self.max_pending)
    @rule(data=st.data())
    def inject_during_recovery(self, data: st.DataObject) -> None:
        """The first recovery attempt returns, a second incident strikes at once, the manager must go again."""
        second = data.draw(self.incident_strategy(), label="incident striking during recovery")
        env = self.env
        struck: list[Incident] = []

        def strike(env_: ChaosEnv, result: object) -> None:
            if not struck:
                struck.append(second)
                self._inject(second)

        env.on_recovered.append(strike)
        try:
            env.recover()
        finally:
            env.on_recovered.remove(strike)
        env.recovery = None  # the second attempt sees every incident of the round
        self._finish_round()

    @precondition(lambda self: self._has("snapshot") and not self.env.incidents and len(self.tags) < self.max_snapshots)
    @rule()
    def snapshot(self) -> None:
        tag = f"mlchaos-{len(self.tags) + 1}"
        self.project.snapshot(self.env.root, tag)
        self.tags.append(tag)

    @precondition(lambda self: self._has("rollback") and bool(self.tags))
    @rule(data=st.data())
    def rollback(self, data: st.DataObject) -> None:
        """Roll back to a snapshot; pending incidents stay for ``recover`` to judge, else metrics must hold."""
        tag = data.draw(st.sampled_from(self.tags), label="snapshot")
        self.project.rollback(self.env.root, tag)
        if not self.env.incidents:
            self._assert_metrics_hold(f"rollback to {tag}")

    @precondition(lambda self: self._has("retrain") and not self.env.incidents)
    @rule()
    def retrain(self) -> None:
        self.project.retrain(self.env.root)
        self._assert_metrics_hold("retrain")

    # -- invariants --------------------------------------------------------------------------
    @invariant()
    def recovery_holds(self) -> None:
        outcome = self.last_outcome
        if outcome is None:
            return
        ok = outcome.verdict.passed and not (self.strict and outcome.verdict is Verdict.DEGRADED)
        ok = ok or (outcome.verdict is Verdict.UNRECOVERED and self.accept_unrecovered)
        assert ok, (
            f"recovery verdict {outcome.verdict.value}: {outcome.reason}"
            + (f"; problems: {'; '.join(outcome.problems)}" if outcome.problems else "")
            + "\n"
            + replay_lines(self.last_round)
        )

    @invariant()
    def nothing_outside_the_root_changed(self) -> None:
        for path in self._watched:
            before, after = self._before[str(path)], tree_fingerprint(path)
            changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
            assert not changed, f"changed outside the environment root, under {path}: {', '.join(changed[:10])}"
        new = self._sibling_names() - self._siblings
        assert not new, f"created beside the environment root {self.env.root}: {', '.join(sorted(new))}"

    @invariant()
    def served_model_loads(self) -> None:
        if self.env.incidents or not self._has("check_model"):
            return
        problem = self.project.check_model(self.env.root)
        assert problem is None, f"the served model does not load: {problem}"

    # -- helpers -------------------------------------------------------------------------------
    def _inject(self, incident: Incident) -> None:
        """Inject, unless the injector refuses a drawn value that does not fit this environment.

        A refusal (``IncidentError``, e.g. more flips than the file has bytes) is raised before
        anything is touched, so the round simply goes on without that incident.
        """
        try:
            self.env.inject(incident)
        except IncidentError as exc:
            note(f"skipped {incident.label()}: {exc}")

    def _finish_round(self) -> None:
        self.last_round = list(self.env.incidents)
        outcome = self.env.verify(self.thresholds)
        self.last_outcome = outcome
        note(f"recovery verdict {outcome.verdict.value} ({outcome.strategy}) for:\n{replay_lines(self.last_round)}")
        reset_round(self.env)
        if outcome.verdict is Verdict.UNRECOVERED and self.accept_unrecovered:
            self.env.remove()  # honest, but broken: carry on with a fresh environment
            self.env = self._fresh_env()

    def _assert_metrics_hold(self, what: str) -> None:
        thresholds = self.thresholds or self.env.policy.thresholds
        changes = compare_metrics(self.env.baseline.metrics, self.env.evaluate(), thresholds)
        verdict = metric_verdict(changes, thresholds, bit_exact=False)
        assert verdict.passed and not (self.strict and verdict is Verdict.DEGRADED), (
            f"after {what} the metrics are {verdict.value}: "
            + ", ".join(f"{c.name} {c.baseline:.4g} -> {c.after}" for c in changes)
        )


_CONFIGURABLE = (
    "thresholds",
    "incident_options",
    "max_pending",
    "max_snapshots",
    "accept_unrecovered",
    "strict",
    "sentinels",
)
