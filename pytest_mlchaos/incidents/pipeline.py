"""Pipeline failure injectors: a stage crashes, hangs, dies mid-write, leaves a lock behind, or runs out of disk.

``crash``, ``hang`` and ``disk_full`` arm a failpoint (see :mod:`pytest_mlchaos.failpoints`) and run
the stage for real through ``ctx.run_stage``, so the project's own stage runner fails; a
``persistent`` failpoint stays armed and keeps failing on rerun. ``partial_write`` and
``stale_lock`` leave on disk what a killed job leaves.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

from .. import failpoints
from ._files import cut_point, require_files, write_atomic
from .registry import IncidentRegistry, InjectionContext, Injector
from .spec import Incident, IncidentError, Injection, Param

__all__ = ["Crash", "DiskFull", "Hang", "INJECTORS", "PERSISTENT", "PartialWrite", "STAGE", "StaleLock", "register"]

STAGE = Param("stage", str, None, doc="the stage hit (default: one chosen by the seed)", choices_from="stages")
PERSISTENT = Param("persistent", bool, False, doc="keep failing on every rerun (recovery must report failure)")


class _StageInjector(Injector):
    """Resolves the stage once (recorded in the injection's incident, so it replays) and checks it."""

    needs_runner = False
    needs_stage = True

    def where(self) -> str:
        return f"incident {self.kind}/{self.mode}"

    def inject(self, ctx: InjectionContext, incident: Incident) -> Injection:
        stages = list(ctx.artifacts.stages)
        if self.needs_runner and ctx.run_stage is None:
            raise IncidentError(
                f"{self.where()}: this project does not support running stages "
                "(it has no run_stage), so a stage cannot be made to fail"
            )
        stage = incident.param("stage")
        if stage is None and (self.needs_stage or stages):
            if not stages:
                raise IncidentError(f"{self.where()}: this environment lists no pipeline stages")
            stage = ctx.rng.choice(stages)
            incident = incident.replace(params={**incident.param_dict, "stage": stage})
        elif stage is not None and stage not in stages:
            raise IncidentError(
                f"{self.where()}: parameter stage={stage!r} is not one of the project's stages: "
                + ", ".join(repr(s) for s in stages)
            )
        return super().inject(ctx, incident)

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        stage = incident.param("stage")
        outs = list(ctx.artifacts.stage_outputs.get(stage, ())) if stage else []
        return outs + [failpoints.FAILPOINTS_FILE]


class _FailpointInjector(_StageInjector):
    needs_runner = True
    action = "raise"
    point = "start"

    def arm(self, ctx: InjectionContext, incident: Incident, stage: str) -> None:
        failpoints.arm(
            ctx.root,
            stage,
            self.action,
            point=self.point,
            persistent=incident.param("persistent", False),
            seconds=incident.param("seconds", 0.0) or 0.0,
            message=f"stage {stage!r} crashed (injected by mlchaos)",
        )

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        stage = incident.param("stage")
        self.arm(ctx, incident, stage)
        assert ctx.run_stage is not None
        try:
            ctx.run_stage(stage)
        except Exception as exc:  # the failure we armed, or whatever the stage raised because of it
            kept = " (persistent: it fails again on every rerun)" if incident.param("persistent") else ""
            return f"{self.outcome(stage)}: {type(exc).__name__}: {exc}{kept}"
        failpoints.disarm(ctx.root, stage)
        raise IncidentError(
            f"{self.where()}: stage {stage!r} ran to the end without failing: the project's stage "
            "runner must call pytest_mlchaos.failpoints.hit(root, stage) at the start and hit(root, "
            "stage, 'write') before writing"
        )

    def outcome(self, stage: str) -> str:
        return f"stage {stage!r} crashed"


class Crash(_FailpointInjector):
    """A pipeline stage raises (a bug, a bad input, an OOM kill) and leaves its outputs as the failure did."""

    kind, mode = "pipeline_failure", "crash"
    params = (STAGE, PERSISTENT)


class Hang(_FailpointInjector):
    """A stage hangs past its timeout (a stuck download, a deadlock) and the watchdog stops it."""

    kind, mode = "pipeline_failure", "hang"
    params = (
        STAGE,
        Param(
            "seconds",
            float,
            0.2,
            doc="how long the stage hangs before its timeout fires",
            low=0.0,
            low_open=True,
            high=600.0,
            severity=True,
        ),
        PERSISTENT,
    )
    action = "hang"

    def outcome(self, stage: str) -> str:
        return f"stage {stage!r} hung and was stopped by its timeout"


class DiskFull(_FailpointInjector):
    """Writes fail with ENOSPC while a stage writes its outputs (the disk filled up)."""

    kind, mode = "pipeline_failure", "disk_full"
    params = (STAGE, PERSISTENT)
    action, point = "enospc", "write"

    def outcome(self, stage: str) -> str:
        return f"stage {stage!r} could not write its output ({errno.errorcode[errno.ENOSPC]})"


class PartialWrite(_StageInjector):
    """A stage killed after writing part of its outputs: each output cut mid-row, no newline at the end."""

    kind, mode = "pipeline_failure", "partial_write"
    params = (
        STAGE,
        Param(
            "fraction",
            float,
            0.5,
            doc="share of each output's bytes written before the kill",
            low=0.0,
            low_open=True,
            high=1.0,
            high_open=True,
        ),
    )

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        stage = incident.param("stage")
        outs = list(ctx.artifacts.stage_outputs.get(stage, ()))
        if not outs:
            raise IncidentError(f"{self.where()}: stage {stage!r} lists no outputs (artifacts.stage_outputs) to cut")
        return outs

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        require_files(self.where(), targets, ctx.root)
        notes = []
        for path in targets:
            data = path.read_bytes()
            if len(data) < 2:
                raise IncidentError(f"{self.where()}: output {ctx.rel(path)!r} has {len(data)} byte(s); nothing to cut")
        for path in targets:
            data = path.read_bytes()
            cut = cut_point(data, incident.param("fraction"))
            write_atomic(path, data[:cut])
            notes.append(f"{ctx.rel(path)} cut at byte {cut} of {len(data)}")
        return f"stage {incident.param('stage')!r} was killed mid-write: " + ", ".join(notes)


class StaleLock(_StageInjector):
    """A lock left behind by a killed run: DVC's .dvc/tmp/rwlock or .dvc/tmp/lock, or a half-written dvc.lock."""

    kind, mode = "pipeline_failure", "stale_lock"
    params = (
        Param(
            "lock",
            str,
            "rwlock",
            doc="rwlock: stage outputs write-locked; lock: the repo lock file (DVC ignores a "
            "stale one unless core.hardlink_lock is set); "
            "dvc_lock: dvc.lock cut mid-line",
            choices=("rwlock", "lock", "dvc_lock"),
        ),
        Param(
            "stage",
            str,
            None,
            doc="rwlock: the stage whose outputs stay locked (default: chosen by the seed)",
            choices_from="stages",
        ),
        Param(
            "blocking",
            bool,
            True,
            doc="rwlock: the dead run's PID now belongs to a live process (PID 1, as in a "
            "restarted container), so DVC refuses to proceed; false: a dead PID, which DVC clears with a warning",
        ),
    )
    needs_stage = False

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        lock = incident.param("lock")
        if lock == "dvc_lock":
            if not ctx.artifacts.lock_file:
                raise IncidentError(
                    f"{self.where()}: lock='dvc_lock' needs artifacts.lock_file; allowed here: rwlock, lock"
                )
            return [ctx.artifacts.lock_file]
        return [f".dvc/tmp/{lock}"]

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        root = Path(ctx.root).resolve()
        lock = incident.param("lock")
        path = targets[0]
        if lock == "dvc_lock":
            require_files(self.where(), targets, root)
            data = path.read_bytes()
            cut = cut_point(data, 0.5 + 0.4 * ctx.rng.random())
            write_atomic(path, data[:cut])
            return (
                f"left {ctx.rel(path)} half-written (cut at byte {cut} of {len(data)}), "
                "as a run killed while saving it does"
            )
        if not (root / ".dvc").is_dir():
            raise IncidentError(
                f"{self.where()}: {root} is not a DVC repository (no .dvc directory); allowed lock: dvc_lock"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        pid = 1 if incident.param("blocking") else _dead_pid(ctx)
        if lock == "lock":
            path.write_text(f" {pid}\n")  # what zc.lockfile writes
            return f"left a stale repository lock {ctx.rel(path)} (PID {pid})"
        stage = incident.param("stage")
        outs = ctx.artifacts.stage_outputs.get(stage, ()) if stage else ctx.artifacts.data
        info = {"pid": pid, "cmd": "dvc repro" + (f" {stage}" if stage else "")}
        state = {"read": {}, "write": {str(root / out): info for out in outs}}
        path.write_text(json.dumps(state))
        owner = "a live process" if incident.param("blocking") else "a dead process"
        return f"left a stale {ctx.rel(path)} write-locking {', '.join(outs) or 'nothing'} for PID {pid} ({owner})"


def _dead_pid(ctx: InjectionContext) -> int:
    import os

    for _ in range(1000):
        pid = ctx.rng.randrange(100_000, 4_000_000)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    raise IncidentError("could not find a free PID for a dead lock owner")


INJECTORS = (Crash, Hang, PartialWrite, StaleLock, DiskFull)


def register(registry: IncidentRegistry) -> None:
    for injector in INJECTORS:
        registry.register(injector)
