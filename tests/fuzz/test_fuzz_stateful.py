"""ChaosMachine on the toy project: it passes on a correct system, and finds combination and containment bugs."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from pytest_mlchaos.env import EnvFactory
from pytest_mlchaos.incidents import Incident, InjectionContext
from pytest_mlchaos.profiles import PHASES
from pytest_mlchaos.stateful import ChaosMachine, tree_fingerprint

from . import toyproject
from .toyincidents import toy_registry

SETTINGS = settings(max_examples=15, stateful_step_count=10, deadline=None, derandomize=True, phases=PHASES,
                    report_multiple_bugs=False, suppress_health_check=[HealthCheck.too_slow])


class CountingToy(toyproject.ToyProject):
    """The toy project, counting the operations the machine drives."""

    def __init__(self, recovery: toyproject.Recovery) -> None:
        super().__init__(recovery)
        self.calls: Counter[str] = Counter()

    def recover(self, root, incidents):
        self.calls["recover"] += 1
        self.calls[f"recover-{len(incidents)}-incidents"] += 1
        return super().recover(root, incidents)

    def snapshot(self, root, tag):
        self.calls["snapshot"] += 1
        super().snapshot(root, tag)

    def rollback(self, root, tag):
        self.calls["rollback"] += 1
        super().rollback(root, tag)

    def retrain(self, root):
        self.calls["retrain"] += 1
        super().retrain(root)


def test_the_machine_passes_on_a_correct_system_and_drives_every_operation(toy_baseline, tmp_path: Path) -> None:
    project = CountingToy(toyproject.backup_recovery)
    factory = EnvFactory(project, toy_baseline, toy_registry(), tmp_path / "envs", seed=5)
    machine = ChaosMachine.configure(factory, name="ToyMachine")

    machine.run(settings=SETTINGS)

    assert {"recover", "snapshot", "rollback", "retrain"} <= set(project.calls)
    assert project.calls["recover-2-incidents"] > 0  # compound rounds, including incidents striking during recovery
    assert list((tmp_path / "envs").iterdir()) == []  # teardown removed every environment


class IncidentsOnlyToy(toyproject.ToyProject):
    """The toy without snapshot, rollback and retrain: the machine only injects and recovers."""

    snapshot = rollback = retrain = None  # type: ignore[assignment]


def test_the_machine_finds_a_recovery_that_fails_when_two_incidents_combine(toy_baseline, tmp_path: Path) -> None:
    factory = EnvFactory(IncidentsOnlyToy(toyproject.first_only_recovery), toy_baseline, toy_registry(), tmp_path, seed=5)
    machine = ChaosMachine.configure(factory, incident_options={"kinds": ["toy_data", "toy_model"]})

    # No shrinking here: it costs ~20 s of rounds, and the claim is that the machine finds the bug.
    # A round has at most max_pending=2 incidents and one alone is recovered, so the failing
    # round is two incidents either way.
    with pytest.raises(AssertionError) as failure:
        machine.run(settings=settings(SETTINGS, max_examples=30, stateful_step_count=6, phases=[Phase.generate]))

    message = str(failure.value)
    assert message.startswith("recovery verdict false_recovery")
    markers = [line for line in message.splitlines() if line.startswith("@pytest.mark.incident(")]
    assert len(markers) == 2 and {"'toy_data'", "'toy_model'"} == {m.split("(")[1].split(",")[0] for m in markers}
    steps = [n for n in failure.value.__notes__ if n in ("state.inject(data=data(...))", "state.recover()")]
    assert steps[-3:] == ["state.inject(data=data(...))", "state.inject(data=data(...))", "state.recover()"]


def escape(ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
    """A badly written injector: it writes beside the environment root instead of inside it."""
    (Path(ctx.root).parent / f"{Path(ctx.root).name}-leak.txt").write_text("oops")
    return "leaked"


def test_the_machine_notices_an_injector_writing_outside_the_root(make_factory) -> None:
    registry = toy_registry()
    registry.register_function("leaky", "escape", escape)
    machine = ChaosMachine.configure(make_factory(registry=registry), incident_options={"kinds": ["leaky"]})

    with pytest.raises(AssertionError, match=r"created beside the environment root .*: env\d+-leak.txt"):
        machine.run(settings=SETTINGS)


def test_the_machine_needs_a_factory_and_known_options() -> None:
    with pytest.raises(TypeError, match=r"ChaosMachine has no environment factory: use ChaosMachine.configure\(ml_env_factory\)"):
        ChaosMachine.run(settings=SETTINGS)
    with pytest.raises(TypeError, match=r"unknown option\(s\) treshold; allowed: thresholds"):
        ChaosMachine.configure(lambda: None, treshold=0.1)
    with pytest.raises(TypeError, match=r"factory=42 is not callable"):
        ChaosMachine.configure(42)


def test_the_tree_fingerprint_sees_a_same_size_write_with_the_mtime_put_back(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"abcd")
    before = tree_fingerprint(tmp_path)
    stat = path.stat()
    path.write_bytes(b"abce")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert tree_fingerprint(tmp_path) != before
