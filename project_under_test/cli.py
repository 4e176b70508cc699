"""``mlops``: the command line of the reference MLOps system.

Every command but ``init`` runs in an environment: the current directory or ``-C DIR``.
Exit status: 0 healthy/done, 1 unhealthy or not recovered, 2 bad input (one line on stderr
naming the file or value, and nothing changed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from .log import setup

EXIT_OK, EXIT_UNHEALTHY, EXIT_BAD_INPUT = 0, 1, 2


class CliError(Exception):
    """Bad input: printed as one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlops", description="Churn model MLOps: DVC-versioned data, MLflow registry, snapshots, recovery.")
    p.add_argument("-C", dest="directory", default=".", help="Environment directory (default: the current one)")
    p.add_argument("-v", "--verbose", action="store_true", help="Log what happens to stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    init = sub.add_parser("init", help="Create an environment: git, DVC + remote, MLflow, pipeline, model, snapshot 'baseline'")
    init.add_argument("dir", help="New or empty directory")
    init.add_argument("--rows", type=int, default=None, help="Rows of the generated table (default 5000)")
    init.add_argument("--seed", type=int, default=None, help="Seed of the data and the model (default 42)")
    init.add_argument("--cv", action="store_true", help="Also log k-fold cross-validation scores (slower)")
    train = sub.add_parser("train", help="Retrain (optionally with new train.* params), log, register, promote unless worse")
    train.add_argument("--n-estimators", type=int)
    train.add_argument("--max-depth", type=int)
    train.add_argument("--min-samples-leaf", type=int)
    train.add_argument("--promote", choices=("if_not_worse", "always", "never"), default="if_not_worse",
                       help="When to move the 'production' alias (default: if_not_worse)")
    train.add_argument("--cv", action="store_true", help="Also log k-fold cross-validation scores (slower)")
    train.add_argument("--json", action="store_true")
    snap = sub.add_parser("snapshot", help="Record the current verified state as TAG")
    snap.add_argument("tag")
    snap.add_argument("-m", dest="message", default="", help="Description")
    snap.add_argument("--no-data", action="store_true", help="Keep no extra copy of the data files")
    snap.add_argument("--no-models", action="store_true", help="Keep no extra copy of the model file")
    snaps = sub.add_parser("snapshots", help="List snapshots")
    snaps.add_argument("--json", action="store_true")
    rollback = sub.add_parser("rollback", help="Restore data, model, dvc.lock, params and the alias of snapshot TAG")
    rollback.add_argument("tag")
    rollback.add_argument("--json", action="store_true")
    status = sub.add_parser("status", help="Health: digests vs dvc.lock, stores, model, alias, metrics")
    status.add_argument("--json", action="store_true")
    recover = sub.add_parser("recover", help="Detect problems and let the recovery manager repair them")
    recover.add_argument("--json", action="store_true")
    incident = sub.add_parser("incident", help="Inject an incident (chaos testing by hand)")
    incident.add_argument("kind")
    incident.add_argument("--mode", default=None)
    incident.add_argument("--param", action="append", default=[], metavar="K=V", help="Injector parameter (repeatable)")
    incident.add_argument("--seed", type=int, default=None)
    incident.add_argument("--target", default=None)
    incident.add_argument("--dry-run", action="store_true")
    incident.add_argument("--json", action="store_true")
    return p


def _env(args: argparse.Namespace) -> Path:
    from .environment import require_environment

    return require_environment(Path(args.directory))


def _preflight(root: Path) -> None:
    """Refuse to build on a broken workspace: the first problem, naming its file."""
    from .health import scan

    blocking = [p for p in scan(root) if p.kind in ("lock", "config", "missing", "digest", "invalid", "model", "failed_stage")]
    if blocking:
        more = f" (+{len(blocking) - 1} more; see `mlops status`)" if len(blocking) > 1 else ""
        raise CliError(f"{blocking[0]}{more}; run `mlops recover` or `mlops rollback TAG` first")


def _print(data: Any, as_json: bool, text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str) if as_json else text)


def cmd_init(args: argparse.Namespace) -> int:
    from .environment import init

    start = time.perf_counter()
    result = init(Path(args.dir), rows=args.rows, seed=args.seed, cross_validate=args.cv)
    print(f"initialised {result['root']} in {time.perf_counter() - start:.1f}s: "
          f"model version {result['model_version']} is {'churn-model'}@production, snapshot 'baseline' created")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from .environment import train

    root = _env(args)
    _preflight(root)
    overrides = {k: v for k, v in (("n_estimators", args.n_estimators), ("max_depth", args.max_depth),
                                   ("min_samples_leaf", args.min_samples_leaf)) if v is not None}
    result = train(root, overrides, promote=args.promote, cross_validate=args.cv)
    _print(result, args.json, f"trained version {result['model_version']}; "
           + ("promoted to production" if result["promoted"] else "not promoted (worse than production)"))
    return EXIT_OK


def cmd_snapshot(args: argparse.Namespace) -> int:
    from .versioning import VersionController

    root = _env(args)
    vc = VersionController(root)
    vc.check_tag(args.tag)
    if any(s.tag == args.tag for s in vc.list_snapshots()):
        raise CliError(f"snapshot {args.tag!r} already exists; pick another tag")
    _preflight(root)
    snap = vc.create_snapshot(args.tag, args.message, include_data=not args.no_data, include_models=not args.no_models)
    print(f"snapshot {snap.tag!r}: commit {snap.git_commit[:12]}, model version {snap.model_version}")
    return EXIT_OK


def cmd_snapshots(args: argparse.Namespace) -> int:
    from .versioning import VersionController

    snaps = VersionController(_env(args)).list_snapshots()
    lines = [f"{s.tag:20} {time.strftime('%Y-%m-%d %H:%M', time.gmtime(s.created))}  commit {s.git_commit[:12]}  "
             f"model v{s.model_version}  {s.description}" for s in snaps]
    _print([s.to_dict() for s in snaps], args.json, "\n".join(lines) or "no snapshots")
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    from .versioning import VersionController

    root = _env(args)
    vc = VersionController(root)
    vc.get(args.tag)  # unknown tags fail here, before anything is touched
    report = vc.restore_snapshot(args.tag)
    text = f"rolled back to {args.tag!r} in {report.seconds:.2f}s: restored {', '.join(report.restored)}"
    if report.not_restored:
        text += "\nNOT restored: " + "; ".join(report.not_restored)
    _print(report.to_dict(), args.json, text)
    return EXIT_OK if report.ok else EXIT_UNHEALTHY


def status_data(root: Path) -> dict[str, Any]:
    from . import tracking
    from .dvcops import LockError, locked_outs, md5_file
    from .health import scan
    from .models import scalar_metrics
    from .stages import compute_metrics

    problems = [str(p) for p in scan(root)]
    files: dict[str, Any] = {}
    try:
        for rel, out in locked_outs(root).items():
            actual = md5_file(root / rel) if (root / rel).is_file() else None
            files[rel] = {"locked": out.md5, "actual": actual, "ok": actual == out.md5}
    except LockError:
        pass
    try:
        served = tracking.production_version(root)
        alias: dict[str, Any] | None = {"version": served.version, "run_id": served.run_id}
    except tracking.RegistryError:
        alias = None
    try:
        metrics: dict[str, float] | None = scalar_metrics(compute_metrics(root))
    except Exception:  # broken files are already listed as problems
        metrics = None
    return {"root": str(root), "healthy": not problems, "problems": problems, "files": files,
            "production": alias, "metrics": metrics}


def cmd_status(args: argparse.Namespace) -> int:
    data = status_data(_env(args))
    lines = [f"{'HEALTHY' if data['healthy'] else 'UNHEALTHY'}: {data['root']}"]
    lines += [f"  problem: {p}" for p in data["problems"]]
    if data["production"]:
        lines.append(f"  churn-model@production: version {data['production']['version']}")
    if data["metrics"]:
        m = data["metrics"]
        lines.append(f"  metrics: f1={m['f1']:.4f} roc_auc={m['roc_auc']:.4f} accuracy={m['accuracy']:.4f} net_value={m['net_value']:.0f}")
    _print(data, args.json, "\n".join(lines))
    return EXIT_OK if data["healthy"] else EXIT_UNHEALTHY


def cmd_recover(args: argparse.Namespace) -> int:
    from .health import detect
    from .recovery import RecoveryManager

    root = _env(args)
    before = detect(root)
    result = RecoveryManager(root).recover()
    data = {"problems_before": before, **result.to_dict(), "problems_after": detect(root)}
    lines = [f"{'RECOVERED' if result.recovered else 'NOT RECOVERED'} ({result.strategy}) in {result.seconds:.2f}s: {result.message}"]
    lines += [f"  {'ok  ' if a.succeeded else 'fail'} {a.strategy:16} {a.seconds:.3f}s {a.error or ''}".rstrip() for a in result.attempts]
    _print(data, args.json, "\n".join(lines))
    return EXIT_OK if result.recovered else EXIT_UNHEALTHY


def _param_value(text: str) -> Any:
    """A value for a parameter the injector does not declare (validation then names it as unknown)."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _incident_params(kind: str, mode: str | None, items: Sequence[str]) -> dict[str, Any]:
    """``--param K=V`` items typed by the injector's own schema (``label=0`` stays the text '0' for a str parameter).

    Values are only converted here; ``Param.check`` (the same check markers and ``inject()`` go
    through) refuses what is not allowed, NaN and infinity included.
    """
    from pytest_mlchaos.incidents import builtin_registry

    schema = {p.name: p for p in builtin_registry().get(kind, mode).params}
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--param {item!r} is not of the form KEY=VALUE")
        params[key] = schema[key].from_text(value) if key in schema else _param_value(value)
    return params


def cmd_incident(args: argparse.Namespace) -> int:
    try:
        from pytest_mlchaos.incidents.api import inject
    except ImportError:
        raise CliError("`mlops incident` needs pytest_mlchaos.incidents.api, which this install does not have") from None
    from pytest_mlchaos.incidents.spec import Incident, IncidentError

    from .chaos import project

    root = _env(args)
    try:
        params = _incident_params(args.kind, args.mode, args.param)
        incident = Incident(args.kind, args.mode, params, args.target, args.seed)
        injection = inject(root, incident, artifacts=project.artifacts(root), dry_run=args.dry_run,
                           run_stage=lambda stage: project.run_stage(root, stage))
    except IncidentError as exc:
        raise CliError(str(exc)) from None
    _print(injection.to_dict(), args.json, f"{'would inject' if args.dry_run else 'injected'} {incident.label()}: "
           f"{injection.description} (touched: {', '.join(injection.touched) or 'nothing'})")
    return EXIT_OK


COMMANDS = {"init": cmd_init, "train": cmd_train, "snapshot": cmd_snapshot, "snapshots": cmd_snapshots,
            "rollback": cmd_rollback, "status": cmd_status, "recover": cmd_recover, "incident": cmd_incident}


def main(argv: Sequence[str] | None = None) -> int:
    from .config import ConfigError
    from .data import DataError
    from .dvcops import LockError
    from .environment import EnvironmentError_
    from .gitops import GitError
    from .models import ModelError
    from .stages import StageError
    from .tracking import RegistryError
    from .versioning import SnapshotError

    args = _parser().parse_args(argv)
    setup(args.verbose)
    try:
        return COMMANDS[args.command](args)
    except (CliError, EnvironmentError_, ConfigError, LockError, DataError, ModelError, SnapshotError) as exc:
        print(f"mlops {args.command}: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (StageError, RegistryError, GitError) as exc:
        print(f"mlops {args.command}: failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_UNHEALTHY


if __name__ == "__main__":
    sys.exit(main())
