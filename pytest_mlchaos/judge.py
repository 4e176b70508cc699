"""One place decides: ``judge(evidence, policy)`` turns what the plugin observed into the verdict.

Pure functions, no I/O. The rules, in order:

1. A test that could not be judged (its body, ``detect()``, ``recover()`` or ``evaluate()``
   raised, or a symlink led out of the environment) is an ``error``.
2. A manager that says it could not recover gets ``unrecovered``; so does one cut at the MTTR
   budget because it had not returned (a hang), and that test fails whatever it expected.
3. A manager that says it recovered gets ``false_recovery`` when the evidence disagrees:
   something is still damaged as the incident left it; a source (or the served model) is not
   bit-exact although a good copy survived the incident somewhere; a store (DVC cache, remote,
   backups, snapshots, registry copies) is left damaged although its content survived; a
   derived artifact is missing; the project's own checks still find problems.
4. Otherwise the metrics the plugin computed decide: ``critical``, ``degraded``, ``repaired``,
   or ``restored`` when every artifact, store and registry entry is bit-exact and nothing moved.
5. A passing verdict over the MTTR budget fails; the expectation (``expect=``) and strict mode
   decide pass or fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .evidence import Evidence
from .gate import (
    FALSE_RECOVERY_STILL,
    Thresholds,
    Verdict,
    compare_metrics,
    expectation_met,
    metric_verdict,
    mttr_over_budget,
    worst_changes,
)
from .manifest import Manifest, Observation, Served
from .outcome import IncidentOutcome


@dataclass(frozen=True)
class Policy:
    """How a verdict passes: thresholds (with metric directions), the expectation, strict mode, the MTTR budget."""

    thresholds: Thresholds = Thresholds()
    expect: str = "recovered"
    strict: bool = False
    max_mttr: float | None = None


@dataclass(frozen=True)
class Findings:
    """How the recovered environment compares with the baseline, entry by entry.

    ``mismatched``: everything that differs; ``still_damaged``: differs exactly as it did when
    recovery started; ``replaced``: sources (and the served model) with other content although a
    good copy survived; ``lossy``: sources whose every copy was destroyed, with how they changed;
    ``stores``: store damage left although the content survived; ``missing``: derived artifacts gone.
    """

    mismatched: tuple[str, ...] = ()
    still_damaged: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    lossy: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def blocking(self) -> bool:
        """Whether the findings alone make a claimed recovery false."""
        return bool(self.still_damaged or self.replaced or self.stores or self.missing)


def _copies(digest: str, before: Observation, exclude: str) -> list[str]:
    return [rel for rel in before.holds(digest) if rel != exclude]


def _registry_survived(manifest: Manifest, before: Observation, served: Served) -> bool:
    if any(now.digest == served.digest for now in before.registries.values()):
        return True
    files = manifest.served.files if manifest.served else ()
    return bool(files) and all(before.stores.get(f) == manifest.stores.get(f) is not None for f in files)


def assess(evidence: Evidence) -> Findings:
    """Compare the environment after recovery with the baseline manifest, using what held at recovery start."""
    manifest, before, after = evidence.manifest, evidence.before, evidence.after
    if manifest is None or after is None:
        return Findings()
    before = before or after
    mismatched: list[str] = []
    still: list[str] = []
    replaced: list[str] = []
    lossy: list[str] = []
    stores: list[str] = []
    missing: list[str] = []
    for rel, digest in manifest.files.items():
        now = after.files.get(rel)
        if now == digest:
            continue
        mismatched.append(rel)
        copies = _copies(digest, before, rel) + (["git"] if rel in evidence.git_copies else [])
        was = before.files.get(rel)
        if was != digest and now == was:
            still.append(rel + (" (missing)" if now is None else ""))
        elif rel in manifest.sources:
            change = evidence.changes.get(rel, "missing" if now is None else "content differs")
            if was == digest or copies:
                where = "it was intact" if was == digest else "a good copy survived in " + ", ".join(copies[:3])
                replaced.append(f"{rel} ({change}; {where})")
            else:
                lossy.append(f"{rel}: every copy was destroyed; recovered content: {change}")
        elif now is None:
            missing.append(rel)
    blamed = {r.split(" (")[0] for r in (*still, *replaced)}  # artifacts that did not legitimately move on
    holders: dict[str, list[str]] = {}  # content digest -> the artifacts whose baseline content it is
    for rel, digest in manifest.files.items():
        holders.setdefault(digest, []).append(rel)
    for rel, digest in manifest.stores.items():
        now = after.stores.get(rel)
        if now == digest:
            continue
        mismatched.append(rel)
        state = "missing" if now is None else "content differs"
        held = holders.get(digest, [])
        if held and all(after.files.get(h) != digest and h not in blamed for h in held):
            continue  # a copy of content the artifact itself legitimately moved on from (judged above)
        if before.stores.get(rel) == digest or _copies(digest, before, rel):
            stores.append(f"{rel}: {state} ({manifest.store_kinds.get(rel, 'store')})")
            if now == before.stores.get(rel):
                still.append(rel + (" (missing)" if now is None else ""))
        else:
            lossy.append(f"{rel}: {state}; its content was lost everywhere")
    for db, served in manifest.registries.items():
        serves = after.registries.get(db, Served(problem="not read"))
        if serves.digest == served.digest:
            continue
        mismatched.append(db)
        text = f"{db} serves {serves.describe()} instead of version {served.version} of the baseline"
        served_before = before.registries.get(db)
        if not _registry_survived(manifest, before, served):
            lossy.append(f"{db}: the served model was lost everywhere; {text}")
        elif (
            served_before is not None
            and served_before.digest != served.digest
            and (served_before.digest, served_before.problem) == (serves.digest, serves.problem)
        ):
            still.append(f"{db} (registry: {serves.describe()})")
        elif db == manifest.registry_db:
            replaced.append(f"the served model ({text})")
        else:
            stores.append(f"{text} (registry copy)")
    for rel in after.extra:
        mismatched.append(rel)
        if rel in before.extra:
            still.append(f"{rel} (not in the baseline)")
        elif any(
            rel.startswith(s + "/") for s in manifest.dirs if any(f.startswith(s + "/") for f in manifest.sources)
        ):
            replaced.append(f"{rel} (added to a source directory)")
    return Findings(tuple(mismatched), tuple(still), tuple(replaced), tuple(lossy), tuple(stores), tuple(missing))


def _false_recovery_reason(findings: Findings, problems: tuple[str, ...]) -> str:
    if findings.still_damaged:
        return FALSE_RECOVERY_STILL
    lead = "false recovery: the recovery manager reported success, but"
    if findings.replaced:
        what = ", ".join(r.split(" (")[0] for r in findings.replaced[:3])
        return f"{lead} {what} {'was' if len(findings.replaced) == 1 else 'were'} replaced with different content"
    if findings.stores:
        return (
            f"{lead} its stores are still damaged "
            f"({len(findings.stores)} entr{'y' if len(findings.stores) == 1 else 'ies'})"
        )
    if findings.missing:
        return f"{lead} {', '.join(findings.missing[:3])} {'is' if len(findings.missing) == 1 else 'are'} missing"
    return f"{lead} the damage is still there: {problems[0] if problems else 'see problems'}"


def judge(evidence: Evidence, policy: Policy = Policy()) -> IncidentOutcome:
    """The verdict of one incident test, and whether it passes, from the evidence alone."""
    recovery = evidence.recovery
    fields: dict[str, Any] = dict(
        nodeid=evidence.nodeid,
        incidents=evidence.incidents,
        expect=policy.expect,
        injected=evidence.injected,
        strategy=recovery.strategy if recovery else None,
        attempts=recovery.attempts if recovery else (),
        recovery_claimed=bool(recovery and recovery.recovered),
        problems=evidence.problems,
        time_to_detect=evidence.time_to_detect,
        time_to_recover=evidence.time_to_recover,
        time_to_metrics=evidence.time_to_metrics,
        evaluated=tuple(e.label for e in evidence.evaluations),
    )
    findings = assess(evidence)
    fields.update(
        mismatched=findings.mismatched,
        still_damaged=findings.still_damaged,
        replaced=findings.replaced,
        lossy=findings.lossy,
        stores=findings.stores,
    )
    if evidence.failure is not None:
        return IncidentOutcome(
            verdict=Verdict.ERROR,
            passed=False,
            reason=f"error: {evidence.failure.text()}",
            error=evidence.failure.to_dict(),
            **fields,
        )
    reason = ""
    changes = worst_changes(
        [compare_metrics(evidence.baseline_metrics, e.metrics, policy.thresholds) for e in evidence.evaluations]
    )
    if recovery is None or not recovery.recovered:
        verdict = Verdict.UNRECOVERED
    elif findings.blocking or evidence.problems:
        verdict = Verdict.FALSE_RECOVERY
        reason = _false_recovery_reason(findings, evidence.problems)
    else:
        verdict = metric_verdict(changes, policy.thresholds, bit_exact=not findings.mismatched)
    passed, default_reason = expectation_met(verdict, policy.expect, policy.strict)
    reason = reason or default_reason
    if verdict is Verdict.UNRECOVERED and not passed and recovery is not None and recovery.message:
        reason = f"{reason} ({recovery.message})"
    if passed and (slow := mttr_over_budget(evidence.time_to_recover, fields["strategy"], policy.max_mttr)):
        passed, reason = False, slow
    if evidence.cut_after is not None:  # a hang is never an honest answer, whatever the test expected
        passed = False
        reason = (
            f"recovery cut: it had not returned after {evidence.cut_after:g}s, the MTTR budget "
            f"(--mlchaos-max-mttr), and was stopped there with every process it started; {reason}"
        )
    return IncidentOutcome(verdict=verdict, passed=passed, reason=reason, metrics=tuple(changes), **fields)


__all__ = ["Findings", "Policy", "assess", "judge"]
