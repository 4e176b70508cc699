"""The pytest plugin: options, marker, gating on ``--mlchaos``, the inject-recover-verify wrapper, reports.

Thin by design: every decision is made in the modules it calls. Loading it imports no
DVC, MLflow, scikit-learn or pandas.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .env import BASELINE_FILE
from .evidence import Evidence, Failure
from .fixtures import (
    CALL_REPORT_KEY,
    ENV_KEY,
    PLAN_KEY,
    SERVICES_MARKER,
    SESSION_KEY,
    chaos_session,
    metrics_problem,
    ml_baseline,
    ml_env,
    ml_env_factory,
    mlchaos_project,
    services_wanted,
    stop_services,
    store_root,
)
from .gate import Verdict
from .incidents.spec import IncidentError
from .judge import Policy, judge
from .markers import MARKER_HELP, IncidentPlan, ordered_marks, parse_marks
from .outcome import IncidentOutcome
from .project import ProjectError
from .session import ChaosSession
from .settings import (
    OPT_COMPARE,
    OPT_ENABLE,
    OPT_HTML,
    OPT_MARKDOWN,
    OPT_REPORT,
    OPT_SHARD_DURATIONS,
    add_options,
    load_settings,
)

if TYPE_CHECKING:
    from .report.document import RunInfo

__all__ = ["MLChaosDegradedWarning", "ml_baseline", "ml_env", "ml_env_factory", "mlchaos_project"]

OUTCOME_KEY = pytest.StashKey[IncidentOutcome]()
DURATIONS_KEY = pytest.StashKey[dict[str, float]]()  # --mlchaos-shard-durations
SHARD_KEY = pytest.StashKey[tuple[int, int]]()  # (incident tests this shard runs, incident tests collected)
SKIP_REASON = f"incident test: run with {OPT_ENABLE} to inject incidents and verify recovery"


class MLChaosDegradedWarning(pytest.PytestWarning):
    """A recovery whose metrics dropped beyond the warn threshold but within the fail threshold."""


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    config.addinivalue_line(
        "markers",
        f"{SERVICES_MARKER}(*names): run this incident test against real services on loopback, behind fault "
        "proxies (s3: a moto S3 server as the DVC remote; mlflow: an MLflow tracking server of the environment's "
        "own), as the ini key mlchaos_services does for every test",
    )
    session = _new_session(config)
    settings = session.settings
    config.stash[SESSION_KEY] = session
    controller = not hasattr(config, "workerinput")
    if settings.enabled and controller:
        if getattr(config, "cache", None) is not None:
            config.cache.set("mlchaos/seed", settings.seed)
        _check_report_paths(
            ((OPT_REPORT, settings.report_path), (OPT_MARKDOWN, settings.markdown_path), (OPT_HTML, settings.html_path))
        )
    if settings.enabled:  # the hook first, then the ini key; a bad one stops the run before any test
        try:
            session.resolve_project(config.hook.pytest_mlchaos_make_project(config=config))
        except ProjectError as exc:
            raise pytest.UsageError(str(exc)) from None
    reporter = ChaosReporter(config, session)
    if settings.enabled and controller and settings.compare_path:
        reporter.previous = _load_previous(OPT_COMPARE, settings.compare_path)
    if settings.shard_durations:
        from .shards import durations_from_report

        config.stash[DURATIONS_KEY] = durations_from_report(
            _load_previous(OPT_SHARD_DURATIONS, settings.shard_durations)
        )
    config.pluginmanager.register(reporter, "mlchaos-reporter")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(session), "mlchaos-xdist")


def _new_session(config: pytest.Config) -> ChaosSession:
    """The run's settings, and a registry that plugins fill through ``pytest_mlchaos_register_incidents``."""
    return ChaosSession(
        load_settings(config),
        register_hook=lambda registry: config.hook.pytest_mlchaos_register_incidents(registry=registry),
    )


def _check_report_paths(paths: tuple[tuple[str, str | None], ...]) -> None:
    from .report.files import ReportPathError, check_writable

    for option, path in paths:
        if path:
            try:
                check_writable(path, option)
            except ReportPathError as exc:
                raise pytest.UsageError(str(exc)) from None


def _load_previous(option: str, path: str) -> dict[str, Any]:
    """A previous report named by ``option``; a usage error naming the file when it is not one."""
    from .report.load import ReportFileError, load_report

    try:
        return load_report(path)
    except ReportFileError as exc:
        raise pytest.UsageError(f"{option}: {exc}") from None


def pytest_unconfigure(config: pytest.Config) -> None:
    stop_services(config)
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.close()


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if config.option.mlchaos_baseline_key:
        return _print_baseline_key(config)
    if not config.option.mlchaos_list:
        return None
    from .incidents.catalogue import describe

    # Plugins and initial conftests are registered by now, so their incidents are listed too. No
    # pytest_configure has run (as for --version), so there is no terminal reporter yet: plain stdout.
    sys.stdout.write(describe(_new_session(config).registry))
    sys.stdout.flush()
    return 0


def _print_baseline_key(config: pytest.Config) -> int:
    """``--mlchaos-baseline-key``: print the cache key of the project's baseline (what a CI cache is keyed by)."""
    from .session import baseline_store_name

    config._do_configure()
    try:
        chaos = chaos_session(config)
        try:
            project = chaos.resolve_project(config.hook.pytest_mlchaos_make_project(config=config))
        except ProjectError as exc:
            raise pytest.UsageError(str(exc)) from None
        if project is None:
            raise pytest.UsageError(
                "--mlchaos-baseline-key: no project to key; set mlchaos_project = package.module:attr, implement "
                "pytest_mlchaos_make_project, or run inside a DVC repository"
            )
        config.get_terminal_writer().line(f"mlchaos-baseline-{baseline_store_name(project)}")
    finally:
        config._ensure_unconfigure()
    return 0


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Build (or verify the cached) baseline before any test, on the controller, so a damaged cache is
    rebuilt and a gated metric name that matches nothing stops the run as a usage error."""
    config = session.config
    chaos = chaos_session(config)
    if (
        not chaos.settings.enabled
        or chaos.project is None
        or hasattr(config, "workerinput")
        or config.option.collectonly
        or _fixture_overridden(config)
    ):
        return
    root = store_root(config)
    if root is None:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if not any(root.glob(f"*/{BASELINE_FILE}")) and reporter is not None:
        reporter.write_line(
            f"mlchaos: building the baseline of {chaos.project.name} (once; later runs verify and reuse it) ..."
        )
    from . import progress

    def announce(stage: str, seconds: float) -> None:
        if reporter is not None and config.get_verbosity() >= 0:  # quiet under -q
            reporter.write_line(f"mlchaos: baseline [{seconds:5.1f}s]: {stage}")

    try:
        with warnings.catch_warnings(), progress.listening(announce):  # a build's DeprecationWarnings (MLflow,
            warnings.simplefilter("ignore", DeprecationWarning)  # SQLAlchemy) are not the user's to fix
            baseline = chaos.get_baseline(chaos.project, root)
    except Exception as exc:
        raise pytest.UsageError(
            f"mlchaos: could not build the baseline of {chaos.project.name}: {type(exc).__name__}: {exc}"
        ) from None
    problem = metrics_problem(chaos, baseline)
    if problem:
        raise pytest.UsageError(problem)


def _fixture_overridden(config: pytest.Config) -> bool:
    """Whether a conftest loaded so far overrides the ``mlchaos_project`` fixture (then it, not this project,
    is tested)."""
    return any(
        getattr(plugin, "mlchaos_project", None) is not None
        and not getattr(plugin, "__name__", "").startswith("pytest_mlchaos")
        for plugin in config.pluginmanager.get_plugins()
    )


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    session = chaos_session(config)
    settings = session.settings
    if not settings.enabled:
        return None
    t = settings.thresholds
    project = session.project_source or settings.project_spec or "the mlchaos_project fixture"
    lines = [
        f"mlchaos: seed={settings.seed} ({settings.seed_source}), project={project}, "
        f"warn-drop={t.warn_drop:g}, fail-drop={t.fail_drop:g}"
        + (f", max-mttr={settings.max_mttr:g}s" if settings.max_mttr else "")
        + (", strict" if settings.strict else "")
    ]
    baseline = session.baseline
    if baseline is not None:
        if baseline.cached:
            lines.append(f"mlchaos: baseline cached, verified against its manifest in {baseline.verify_seconds:.2f}s")
        elif baseline.rebuilt_because:
            lines.append(
                f"mlchaos: baseline rebuilt in {baseline.build_seconds:.1f}s: the cached one was not "
                f"trusted: {baseline.rebuilt_because}"
            )
        else:
            lines.append(f"mlchaos: baseline built in {baseline.build_seconds:.1f}s")
        directions = session.thresholds.directions
        gated = session.gated_metrics(baseline)
        lines.append("mlchaos: gating on " + (", ".join(f"{m} {directions.arrow(m)}" for m in gated) or "no metrics"))
    return lines


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from .services.lifecycle import ServiceError

    session = chaos_session(config)
    errors = []
    for item in items:
        marks = ordered_marks(item)
        if not marks:
            continue
        try:
            plan = parse_marks(marks, session.registry, session.settings.seed, item.nodeid)
        except IncidentError as exc:
            errors.append(f"{item.nodeid}: {exc}")
            continue
        try:
            services_wanted(item, session)
        except ServiceError as exc:  # an unknown service name in the marker
            errors.append(f"{item.nodeid}: {exc}")
            continue
        if "ml_env" not in getattr(item, "fixturenames", ()):
            errors.append(f"{item.nodeid}: has an incident marker but does not use the ml_env fixture")
            continue
        item.stash[PLAN_KEY] = plan
        if not session.settings.enabled:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
    if errors:
        raise pytest.UsageError("bad incident marker(s):\n  " + "\n  ".join(errors))
    if session.settings.shard is not None:
        _keep_shard(config, items, session.settings.shard)


def _keep_shard(config: pytest.Config, items: list[pytest.Item], shard: tuple[int, int]) -> None:
    """Deselect the incident tests of the other shards; tests without an incident marker run in shard 1 only."""
    from .shards import select

    incident = [item.nodeid for item in items if PLAN_KEY in item.stash]
    chosen = select(incident, shard, config.stash.get(DURATIONS_KEY, None))
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        runs = item.nodeid in chosen if PLAN_KEY in item.stash else shard[0] == 1
        (keep if runs else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    config.stash[SHARD_KEY] = (len(chosen), len(incident))


def pytest_report_collectionfinish(config: pytest.Config) -> list[str] | None:
    counts = config.stash.get(SHARD_KEY, None)
    shard = chaos_session(config).settings.shard
    if counts is None or shard is None:
        return None
    durations = chaos_session(config).settings.shard_durations
    how = f"balanced by the durations in {durations}" if durations else "by a hash of the node id"
    others = "run here" if shard[0] == 1 else "run in shard 1 only"
    return [
        f"mlchaos: shard {shard[0]}/{shard[1]}: {counts[0]} of {counts[1]} incident tests ({how}); "
        f"tests without an incident marker {others}"
    ]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    env = item.stash.get(ENV_KEY, None)
    plan: IncidentPlan | None = item.stash.get(PLAN_KEY, None)
    if env is None or plan is None or not plan.incidents:
        return (yield)
    session = chaos_session(item.config)
    try:
        result = yield
    except BaseException as exc:
        if _is_test_failure(exc):  # the body (or detect()/recover() called in it) raised: record it as an error
            env._note_failure("body", exc)
            _record(item, env.verify(nodeid=item.nodeid))
        raise
    outcome = env.verify(nodeid=item.nodeid)
    _record(item, outcome)
    if outcome.verdict is Verdict.DEGRADED and outcome.passed:
        warnings.warn(MLChaosDegradedWarning(f"{item.nodeid}: {_headline(outcome)}"), stacklevel=1)
    if not outcome.passed:
        pytest.fail(failure_text(outcome, session.settings.seed), pytrace=False)
    return result


def _is_test_failure(exc: BaseException) -> bool:
    """An exception that fails a test (not a skip, an xfail, an exit or an interrupt)."""
    if isinstance(exc, (pytest.skip.Exception, pytest.xfail.Exception, pytest.exit.Exception)):
        return False
    return isinstance(exc, (Exception, pytest.fail.Exception))


def _record(item: pytest.Item, outcome: IncidentOutcome) -> None:
    from .report.render import junit_properties

    item.stash[OUTCOME_KEY] = outcome
    item.user_properties.extend(junit_properties(outcome))


def _headline(outcome: IncidentOutcome) -> str:
    worst = max(outcome.metrics, key=lambda m: m.drop, default=None)
    metric = f", worst metric {worst.name} {worst.baseline:.4g} -> {worst.after} ({-worst.drop:+.1%})" if worst else ""
    return f"{outcome.verdict.value} after {outcome.strategy or 'no strategy'}{metric}"


def failure_text(outcome: IncidentOutcome, seed: int) -> str:
    """The short report of a failed incident test: what broke, what was tried, the evidence, how to replay it."""
    lines = [f"mlchaos: {outcome.reason}"]
    for incident in outcome.incidents:
        params = ", ".join(f"{k}={v!r}" for k, v in incident.params)
        lines.append(f"  incident: {incident.label()}" + (f" ({params})" if params else "") + f" seed={incident.seed}")
    for text in outcome.injected:
        lines.append(f"    injected: {text}")
    if outcome.attempts:
        tried = "; ".join(
            f"{a.strategy} {'ok' if a.succeeded else 'failed'} {a.seconds:.2f}s" + (f" ({a.error})" if a.error else "")
            for a in outcome.attempts
        )
        lines.append(f"  strategies tried: {tried}")
    if outcome.verdict is not Verdict.ERROR or outcome.strategy or outcome.attempts:
        lines.append(
            f"  recovery manager said: {'recovered' if outcome.recovery_claimed else 'not recovered'}"
            + (f" via {outcome.strategy}" if outcome.strategy else "")
        )
    evidence = (
        ("still damaged (as the incident left it)", outcome.still_damaged),
        ("replaced with different content", outcome.replaced),
        ("stores left damaged", outcome.stores),
        ("lossy (no good copy survived)", outcome.lossy),
    )
    for label, items in evidence:
        if items:
            lines.append(
                f"  {label}: {'; '.join(items[:8])}" + (f" (+{len(items) - 8} more)" if len(items) > 8 else "")
            )
    for problem in outcome.problems[:8]:
        lines.append(f"  problem: {problem}")
    if outcome.mismatched and outcome.verdict is not Verdict.RESTORED:
        lines.append(
            f"  differs from the baseline manifest: {', '.join(outcome.mismatched[:8])}"
            + (f" (+{len(outcome.mismatched) - 8} more)" if len(outcome.mismatched) > 8 else "")
        )
    if outcome.evaluated:
        lines.append(f"  metrics computed by the plugin on: {'; '.join(outcome.evaluated)}")
    for change in outcome.metrics:
        after = "missing" if change.after is None else f"{change.after:.4f}"
        arrow = "lower is better" if change.lower_is_better else "higher is better"
        lines.append(f"  metric {change.name} ({arrow}): {change.baseline:.4f} -> {after} (drop {change.drop:.1%})")
    lines.append("  replay with:")
    lines.extend(f"    {line}" for line in outcome.replay_lines())
    lines.append(f"  (this run: --mlchaos-seed={seed})")
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT_KEY] = report
        outcome = item.stash.get(OUTCOME_KEY, None)
        if outcome is not None:
            report.mlchaos = outcome.to_dict()  # travels to the xdist controller with the report
    elif report.when == "setup" and report.failed and call.excinfo is not None:
        plan = item.stash.get(PLAN_KEY, None)
        if plan is not None and plan.incidents and chaos_session(item.config).settings.enabled:
            from .report.render import junit_properties

            evidence = Evidence(item.nodeid, plan.incidents, failure=Failure.of("setup", call.excinfo.value))
            outcome = judge(evidence, Policy(expect=plan.expect))
            report.mlchaos = outcome.to_dict()
            item.user_properties.extend(junit_properties(outcome))  # --junitxml reads the teardown report's
    return report


class ChaosReporter:
    """Collects outcomes from test reports (on the xdist controller too) and writes the reports at the end."""

    def __init__(self, config: pytest.Config, session: ChaosSession) -> None:
        self.config = config
        self.session = session
        self.previous: dict[str, Any] | None = None  # --mlchaos-compare's report
        self.pytest_session: pytest.Session | None = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.pytest_session = session
        self.session.outcomes.clear()
        self.session.started_perf = time.perf_counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "mlchaos", None)
        if report.when in ("setup", "call") and data:
            self.session.outcomes.append(IncidentOutcome.from_dict(data))

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        config, session = self.config, self.session
        settings = session.settings
        if hasattr(config, "workerinput") or (not session.outcomes and not settings.enabled):
            return
        from .report.document import build_report
        from .report.files import write_html, write_json, write_markdown
        from .report.render import terminal_lines

        document = build_report(run_info(config, session), list(session.outcomes))
        config.hook.pytest_mlchaos_report(report=document)
        comparison = self._compare(document)
        terminalreporter.section("mlchaos")
        width = min(config.get_terminal_writer().fullwidth, 100)
        for line in terminal_lines(document, width=width):
            terminalreporter.write_line(line)
        if comparison is not None:
            from .report.compare import comparison_lines

            terminalreporter.write_line("")
            for line in comparison_lines(comparison, width=width):
                terminalreporter.write_line(line, red=bool(comparison["failed"]) and line.startswith("mlchaos"))
        written: dict[str, Path] = {}
        for path, write, what in (
            (settings.report_path, write_json, "report"),
            (settings.markdown_path, write_markdown, "summary"),
            (settings.html_path, write_html, "html"),
        ):
            if not path:
                continue
            try:
                written[what] = write(document, path)
            except OSError as exc:  # the verdicts stand in the exit status; say why the file is missing
                terminalreporter.write_line(f"mlchaos {what}: could not write {path}: {exc}", red=True)
            else:
                terminalreporter.write_line(f"mlchaos {what}: {path}")
        if settings.mlflow_uri is not None:
            from .mlflow_run import log_and_describe

            with warnings.catch_warnings():  # MLflow's and SQLAlchemy's own deprecations are not the user's to fix
                warnings.simplefilter("ignore")
                line = log_and_describe(
                    document, settings.mlflow_uri, settings.mlflow_experiment, written, config.rootpath
                )
            terminalreporter.write_line(line, yellow="WARNING" in line)

    def _compare(self, document: dict[str, Any]) -> dict[str, Any] | None:
        """With ``--mlchaos-compare``: the comparison, added to the report; a worse run fails (exit status 1)."""
        if self.previous is None:
            return None
        from .report.compare import compare

        settings = self.session.settings
        comparison = compare(
            self.previous, document, tolerance=settings.mttr_tolerance, previous_name=settings.compare_path
        )
        document["comparison"] = comparison
        session = self.pytest_session
        if comparison["failed"] and session is not None and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return comparison


def run_info(config: pytest.Config, session: ChaosSession) -> RunInfo:
    from .report.document import RunInfo, collect_versions

    settings = session.settings
    t = settings.thresholds
    project = session.project.name if session.project is not None else None
    workers = getattr(config.option, "numprocesses", None) or 0
    baseline = session.baseline
    directions = session.thresholds.directions
    gated = session.gated_metrics(baseline) if baseline is not None else list(t.metrics)
    return RunInfo(
        seed=settings.seed,
        project={"name": project, "source": session.project_source or settings.project_spec or None},
        versions=collect_versions(),
        thresholds={
            "warn_drop": t.warn_drop,
            "fail_drop": t.fail_drop,
            "metrics": list(t.metrics),
            "max_mttr": settings.max_mttr,
            "strict": settings.strict,
            "directions": {
                name: "lower_is_better" if directions.lower_is_better(name) else "higher_is_better" for name in gated
            },
        },
        started=session.started,
        duration=time.perf_counter() - session.started_perf,
        workers=int(workers) if isinstance(workers, int) else 0,
        baseline=None
        if baseline is None
        else {
            "cached": baseline.cached,
            "rebuilt_because": baseline.rebuilt_because,
            "build_seconds": baseline.build_seconds,
            "verify_seconds": baseline.verify_seconds,
        },
    )


class XdistHooks:
    """Hooks that exist only with pytest-xdist: hand the controller's seed to every worker."""

    def __init__(self, session: ChaosSession) -> None:
        self.session = session

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["mlchaos_seed"] = self.session.settings.seed
        node.workerinput["mlchaos_seed_source"] = self.session.settings.seed_source
