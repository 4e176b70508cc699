"""``--mlchaos-mlflow``: the chaos run as one MLflow run (params, metrics, the report files, tags for CI).

MLflow is imported only inside ``log_run``, so loading the plugin stays cheap. No pytest import.
"""

from __future__ import annotations

import logging
import math
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "ARTIFACT_NAMES",
    "CI_VARIABLES",
    "DEFAULT_DB",
    "HTTP_ENV",
    "artifact_location",
    "git_facts",
    "log_and_describe",
    "log_run",
    "run_metrics",
    "run_params",
    "run_tags",
    "tracking_uri",
]

#: MLflow's HTTP client retries for minutes by default: a chaos run asks once, briefly.
HTTP_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
DEFAULT_DB = "mlflow.db"
#: CI variables copied to tags (``mlchaos.ci.<lower-case name>``) when they are set.
CI_VARIABLES = (
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_SHA",
    "GITHUB_REPOSITORY",
    "GITHUB_WORKFLOW",
    "GITHUB_JOB",
    "CI_PIPELINE_ID",
    "CI_JOB_ID",
    "CI_COMMIT_SHA",
    "CI_PROJECT_PATH",
    "BUILD_ID",
)
_BRANCH_VARIABLES = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BRANCH_NAME")


def tracking_uri(requested: str, rootdir: Path, environ: Mapping[str, str] = os.environ) -> str:
    """The URI to log to: ``requested``, or for ``default``, ``$MLFLOW_TRACKING_URI``, else ``sqlite:///`` the
    rootdir's ``mlflow.db`` (MLflow's own default file name, anchored at the rootdir, not the current directory)."""
    if requested and requested != "default":
        return requested
    return environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(rootdir).resolve() / DEFAULT_DB}"


def artifact_location(uri: str) -> str | None:
    """For a sqlite store, ``mlruns/`` beside the database file (MLflow's default is the current directory's);
    else None (the server decides)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    database = Path(uri[len(prefix) :].split("?", 1)[0])
    return (database.resolve().parent / "mlruns").as_uri()


@contextmanager
def _scoped_environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """MLflow's INFO lines (creating the database tables, ...) are not for the test run's terminal."""
    loggers = [logging.getLogger(name) for name in names]
    saved = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, saved):
            logger.setLevel(level)


def _git(rootdir: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=rootdir, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and out else None


def git_facts(rootdir: Path, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``commit`` and ``branch`` of the checkout (CI variables first), where there are any."""
    facts: dict[str, str] = {}
    commit = environ.get("GITHUB_SHA") or environ.get("CI_COMMIT_SHA") or _git(rootdir, "rev-parse", "HEAD")
    if commit:
        facts["commit"] = commit
    branch = next((environ[v] for v in _BRANCH_VARIABLES if environ.get(v)), None)
    branch = branch or _git(rootdir, "rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        facts["branch"] = branch
    return facts


def _key(name: str) -> str:
    """A metric name MLflow accepts (letters, digits, ``_ - . /`` and spaces)."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", name)


def run_params(report: Mapping[str, Any], git: Mapping[str, str]) -> dict[str, str]:
    """Seed, thresholds, project, versions and the git commit, as MLflow params (strings)."""
    run = report.get("run", {})
    t = run.get("thresholds", {})
    params = {
        "seed": str(run.get("seed")),
        "warn_drop": str(t.get("warn_drop")),
        "fail_drop": str(t.get("fail_drop")),
        "metrics": ",".join(t.get("metrics") or ()) or "(all)",
        "max_mttr": str(t.get("max_mttr")),
        "strict": str(bool(t.get("strict"))),
        "project": str((run.get("project") or {}).get("name")),
        "project_source": str((run.get("project") or {}).get("source")),
        "workers": str(run.get("workers", 0)),
    }
    for name, version in sorted((run.get("versions") or {}).items()):
        params[f"version.{_key(name)}"] = str(version)
    if "commit" in git:
        params["git_commit"] = git["commit"]
    return params


def run_metrics(report: Mapping[str, Any]) -> dict[str, float]:
    """Score, counts per verdict, MTTR per strategy and the worst metric drop."""
    summary = report.get("summary", {})
    metrics: dict[str, float] = {}
    if summary.get("score") is not None:
        metrics["resilience_score"] = float(summary["score"])
    for key in ("total", "passed", "failed"):
        metrics[f"tests_{key}"] = float(summary.get(key, 0))
    for verdict, count in (summary.get("verdicts") or {}).items():
        metrics[f"verdict.{verdict}"] = float(count)
    for strategy, stats in (summary.get("mttr_by_strategy") or {}).items():
        for stat in ("mean", "median", "max"):
            if stats.get(stat) is not None:
                metrics[f"mttr.{_key(strategy)}.{stat}"] = float(stats[stat])
    drops = [r.get("worst_drop") for r in report.get("incidents", ())]
    finite = [float(d) for d in drops if isinstance(d, (int, float)) and math.isfinite(d)]
    if finite:
        metrics["worst_metric_drop"] = max(finite)
    metrics["missing_metrics"] = float(
        sum(1 for r in report.get("incidents", ()) if r.get("metrics") and r.get("worst_drop") is None)
    )
    return metrics


def run_tags(
    report: Mapping[str, Any], git: Mapping[str, str], environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """Tags to find the run by: ``mlchaos.ci``, the CI run's ids, the branch and commit, seed, project, the gate."""
    summary = report.get("summary", {})
    run = report.get("run", {})
    tags = {
        "mlchaos": "true",
        "mlchaos.ci": "true" if environ.get("CI") or environ.get("GITHUB_ACTIONS") else "false",
        "mlchaos.seed": str(run.get("seed")),
        "mlchaos.project": str((run.get("project") or {}).get("name")),
        "mlchaos.gate": "failed" if summary.get("failed") else "passed",
        "mlchaos.schema": str(report.get("schema")),
    }
    for variable in CI_VARIABLES:
        if environ.get(variable):
            tags[f"mlchaos.ci.{variable.lower()}"] = environ[variable]
    if "branch" in git:
        tags["mlchaos.branch"] = git["branch"]
    if "commit" in git:
        tags["mlflow.source.git.commit"] = git["commit"]
    return tags


def log_run(
    report: Mapping[str, Any],
    uri: str,
    experiment: str,
    files: Mapping[str, Path],
    rootdir: Path,
) -> str:
    """Log the report as one run of ``experiment`` at ``uri``; return the run id. Raises what MLflow raises.

    ``files`` maps an artifact name (``mlchaos-report.json`` ...) to a written file; the JSON, Markdown and HTML
    reports missing from it are rendered into a temp dir first, so the run always holds all three.
    """
    git = git_facts(rootdir)
    with ExitStack() as stack:
        stack.enter_context(_scoped_environ(HTTP_ENV))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="mlchaos-mlflow-"))
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient

        from .report.files import write_html, write_json, write_markdown

        stack.enter_context(_quiet("mlflow", "alembic"))  # after the import, which sets MLflow's logger up

        artifacts = dict(files)
        for name, write in (
            ("mlchaos-report.json", write_json),
            ("mlchaos-report.md", write_markdown),
            ("mlchaos-report.html", write_html),
        ):
            if name not in artifacts:
                artifacts[name] = write(report, Path(tmp) / name)
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        experiment_id = (
            found.experiment_id
            if found is not None
            else client.create_experiment(experiment, artifact_location=artifact_location(uri))
        )
        tags = run_tags(report, git)
        name = f"mlchaos seed {tags['mlchaos.seed']}" + (f" {git['branch']}" if "branch" in git else "")
        run = client.create_run(experiment_id, tags=tags, run_name=name)
        run_id: str = run.info.run_id
        try:
            import time

            now = int(time.time() * 1000)
            client.log_batch(
                run_id,
                metrics=[Metric(k, v, now, 0) for k, v in run_metrics(report).items()],
                params=[Param(k, v) for k, v in run_params(report, git).items()],
            )
            for artifact_name, path in sorted(artifacts.items()):
                staged = Path(tmp) / "stage" / artifact_name
                staged.parent.mkdir(exist_ok=True)
                staged.write_bytes(Path(path).read_bytes())  # logged under its report name, whatever the user's path
                client.log_artifact(run_id, str(staged))
                staged.unlink()
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        client.set_terminated(run_id, "FINISHED")
        return run_id


#: ``written`` keys of the plugin (what was written) -> the artifact names in the MLflow run.
ARTIFACT_NAMES = {"report": "mlchaos-report.json", "summary": "mlchaos-report.md", "html": "mlchaos-report.html"}


def log_and_describe(
    report: Mapping[str, Any], requested: str, experiment: str, written: Mapping[str, Path], rootdir: Path
) -> str:
    """Log the run (``requested`` URI, or ``default``) and return the one line to print. Nothing raises: a
    tracking server that cannot be reached, or any other MLflow failure, is a warning line, never a failed run."""
    uri = tracking_uri(requested, rootdir)
    files = {ARTIFACT_NAMES[key]: path for key, path in written.items() if key in ARTIFACT_NAMES}
    try:
        run_id = log_run(report, uri, experiment, files, rootdir)
    except Exception as exc:  # noqa: BLE001  (whatever MLflow raises, the test run stands)
        message = " ".join(str(exc).split())
        return f"mlchaos mlflow: WARNING: could not log the run to {uri}: {type(exc).__name__}: {message[:300]}"
    return f"mlchaos mlflow: run {run_id} in experiment {experiment!r} at {uri}"
