"""Command-line options and ini keys of the plugin, parsed once into ``Settings``."""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .gate import DEFAULT_FAIL_DROP, DEFAULT_WARN_DROP, ThresholdError, Thresholds, parse_fraction

__all__ = [
    "DEFAULT_MLFLOW_EXPERIMENT",
    "GROUP",
    "INI_LOWER",
    "INI_MLFLOW_EXPERIMENT",
    "INI_MTTR_TOLERANCE",
    "INI_PROJECT",
    "INI_SERVICES",
    "MLFLOW_DEFAULT",
    "OPT_BASELINE_KEY",
    "OPT_COMPARE",
    "OPT_ENABLE",
    "OPT_FAIL",
    "OPT_HTML",
    "OPT_LIST",
    "OPT_MARKDOWN",
    "OPT_MAX_MTTR",
    "OPT_METRICS",
    "OPT_MLFLOW",
    "OPT_REPORT",
    "OPT_SEED",
    "OPT_SHARD",
    "OPT_SHARD_DURATIONS",
    "OPT_STRICT",
    "OPT_WARN",
    "SEED_CACHE_KEY",
    "Settings",
    "add_options",
    "fraction_type",
    "load_settings",
    "mlflow_uri_type",
    "resolve_seed",
    "seconds_type",
    "seed_type",
    "shard_type",
]


GROUP = "mlchaos"
OPT_ENABLE = "--mlchaos"
OPT_SEED = "--mlchaos-seed"
OPT_REPORT = "--mlchaos-report"
OPT_MARKDOWN = "--mlchaos-markdown"
OPT_WARN = "--mlchaos-warn-drop"
OPT_FAIL = "--mlchaos-fail-drop"
OPT_METRICS = "--mlchaos-metrics"
OPT_MAX_MTTR = "--mlchaos-max-mttr"
OPT_STRICT = "--mlchaos-strict"
OPT_LIST = "--mlchaos-incidents"
OPT_HTML = "--mlchaos-html"
OPT_MLFLOW = "--mlchaos-mlflow"
OPT_COMPARE = "--mlchaos-compare"
OPT_SHARD = "--mlchaos-shard"
OPT_SHARD_DURATIONS = "--mlchaos-shard-durations"
OPT_BASELINE_KEY = "--mlchaos-baseline-key"
INI_MLFLOW_EXPERIMENT = "mlchaos_mlflow_experiment"
INI_MTTR_TOLERANCE = "mlchaos_mttr_tolerance"
INI_PROJECT = "mlchaos_project"
INI_LOWER = "mlchaos_lower_is_better"
INI_SERVICES = "mlchaos_services"

DEFAULT_MLFLOW_EXPERIMENT = "mlchaos"
#: ``--mlchaos-mlflow`` given without a URI (the option's ``const``): MLFLOW_TRACKING_URI, else the default file.
MLFLOW_DEFAULT = "default"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")
SEED_CACHE_KEY = "mlchaos/seed"


def seed_type(value: str) -> int | str:
    """``--mlchaos-seed``: a non-negative integer or ``last``."""
    if value == "last":
        return value
    try:
        seed = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer seed or 'last'") from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is negative; use a non-negative integer or 'last'")
    return seed


def fraction_type(value: str) -> float:
    """A drop threshold: a fraction in [0, 1]."""
    try:
        return parse_fraction(None, value)
    except ThresholdError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def seconds_type(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be a positive, finite number of seconds")
    return seconds


def shard_type(value: str) -> tuple[int, int]:
    """``--mlchaos-shard``: ``I/N`` with whole numbers ``1 <= I <= N``."""
    index, sep, count = value.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
        sep = ""
    if not sep:
        raise argparse.ArgumentTypeError(f"{value!r} is not I/N; use whole numbers such as 1/4 (shard 1 of 4)")
    if n < 1 or not 1 <= i <= n:
        raise argparse.ArgumentTypeError(f"{value!r} is out of range; I/N needs 1 <= I <= N, e.g. 1/{max(n, 2)}")
    return i, n


def mlflow_uri_type(value: str) -> str:
    """``--mlchaos-mlflow=URI``: a tracking URI with a scheme (so a test path after the option is not taken for one)."""
    uri = value.strip()
    if ":" in uri or uri == "databricks":
        return uri
    raise argparse.ArgumentTypeError(
        f"{value!r} is not a tracking URI; give one with a scheme, such as sqlite:///mlflow.db or "
        "http://localhost:5000, or use the option without a value (and after any test paths) for the default"
    )


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "chaos testing of ML pipelines (pytest-mlchaos)")
    group.addoption(
        OPT_ENABLE,
        action="store_true",
        dest="mlchaos",
        default=False,
        help="Run tests marked with @pytest.mark.incident (skipped otherwise)",
    )
    group.addoption(
        OPT_SEED,
        dest="mlchaos_seed",
        type=seed_type,
        default=None,
        metavar="N|last",
        help="Seed every incident from N, or reuse the previous run's seed with 'last' (default: random)",
    )
    group.addoption(
        OPT_REPORT,
        dest="mlchaos_report",
        default=None,
        metavar="PATH",
        help="Write the resilience report as JSON to PATH",
    )
    group.addoption(
        OPT_MARKDOWN,
        dest="mlchaos_markdown",
        default=None,
        metavar="PATH",
        help="Write the resilience summary as Markdown to PATH (e.g. $GITHUB_STEP_SUMMARY)",
    )
    group.addoption(
        OPT_WARN,
        dest="mlchaos_warn_drop",
        type=fraction_type,
        default=None,
        metavar="FRACTION",
        help=f"Relative metric drop that makes a recovery degraded (default {DEFAULT_WARN_DROP})",
    )
    group.addoption(
        OPT_FAIL,
        dest="mlchaos_fail_drop",
        type=fraction_type,
        default=None,
        metavar="FRACTION",
        help=f"Relative metric drop that makes a recovery critical (default {DEFAULT_FAIL_DROP})",
    )
    group.addoption(
        OPT_METRICS,
        dest="mlchaos_metrics",
        default=None,
        metavar="NAMES",
        help="Comma-separated metrics to gate on (default: all the project evaluates)",
    )
    group.addoption(
        OPT_MAX_MTTR,
        dest="mlchaos_max_mttr",
        type=seconds_type,
        default=None,
        metavar="SECONDS",
        help="Fail an incident test whose recovery takes longer than SECONDS",
    )
    group.addoption(
        OPT_STRICT,
        dest="mlchaos_strict",
        action="store_true",
        default=None,
        help="Count degraded recoveries as failures",
    )
    group.addoption(
        OPT_LIST,
        dest="mlchaos_list",
        action="store_true",
        default=False,
        help="Show the incident catalogue (kinds, modes, parameters) and exit",
    )
    group.addoption(
        OPT_HTML,
        dest="mlchaos_html",
        default=None,
        metavar="PATH",
        help="Write the resilience report as one self-contained HTML page to PATH",
    )
    group.addoption(
        OPT_MLFLOW,
        dest="mlchaos_mlflow",
        type=mlflow_uri_type,
        nargs="?",
        const=MLFLOW_DEFAULT,
        default=None,
        metavar="TRACKING_URI",
        help="Log the chaos run as one MLflow run (default URI: $MLFLOW_TRACKING_URI, else sqlite:///<rootdir>/mlflow.db)",
    )
    group.addoption(
        OPT_COMPARE,
        dest="mlchaos_compare",
        default=None,
        metavar="PREVIOUS.json",
        help="Fail the run when the score is below PREVIOUS.json's or an incident test that passed there fails now",
    )
    group.addoption(
        OPT_SHARD,
        dest="mlchaos_shard",
        type=shard_type,
        default=None,
        metavar="I/N",
        help="Run only shard I of N of the incident tests (stable across runs)",
    )
    group.addoption(
        OPT_SHARD_DURATIONS,
        dest="mlchaos_shard_durations",
        default=None,
        metavar="REPORT.json",
        help="Balance the shards by the test durations in a previous JSON report",
    )
    group.addoption(
        OPT_BASELINE_KEY,
        dest="mlchaos_baseline_key",
        action="store_true",
        default=False,
        help="Print the cache key of the project's baseline and exit (for CI caches)",
    )
    parser.addini(
        INI_PROJECT,
        "The project under test, as package.module:attr (an MLProject or a callable returning one)",
        default="",
    )
    parser.addini(
        "mlchaos_warn_drop",
        f"Relative metric drop that makes a recovery degraded (default {DEFAULT_WARN_DROP})",
        default="",
    )
    parser.addini(
        "mlchaos_fail_drop",
        f"Relative metric drop that makes a recovery critical (default {DEFAULT_FAIL_DROP})",
        default="",
    )
    parser.addini(
        "mlchaos_metrics",
        "Metrics to gate on, one per line or comma-separated (a prefix selects nested keys)",
        type="linelist",
        default=[],
    )
    parser.addini(
        INI_LOWER,
        "Metrics where lower is better, one per line or comma-separated (added to the project's "
        "and to conventional names such as rmse, loss, error)",
        type="linelist",
        default=[],
    )
    parser.addini(
        "mlchaos_max_mttr", "Fail an incident test whose recovery takes longer than this many seconds", default=""
    )
    parser.addini(
        INI_SERVICES,
        "Real services for every incident test, on loopback, each behind a fault proxy (s3: a moto S3 server as "
        "the DVC remote; mlflow: an MLflow tracking server per environment); default none. The marker "
        "mlchaos_services('s3', 'mlflow') turns them on for one test",
        type="linelist",
        default=[],
    )
    parser.addini("mlchaos_strict", "Count degraded recoveries as failures", type="bool", default=False)
    parser.addini("mlchaos_report", "Write the resilience report as JSON to this path", default="")
    parser.addini("mlchaos_markdown", "Write the resilience summary as Markdown to this path", default="")
    parser.addini("mlchaos_html", "Write the resilience report as an HTML page to this path", default="")
    parser.addini(
        "mlchaos_mlflow", "Log the chaos run to MLflow: a tracking URI, or true for the default URI", default=""
    )
    parser.addini(
        INI_MLFLOW_EXPERIMENT, f"MLflow experiment of the chaos runs (default {DEFAULT_MLFLOW_EXPERIMENT})", default=""
    )
    parser.addini(
        INI_MTTR_TOLERANCE,
        "With --mlchaos-compare: an MTTR change is listed when it grew by more than RELATIVE and SECONDS "
        "(default 0.5,0.5)",
        default="",
    )
    # Zero configuration: with no project configured, the DVC repository pytest runs in (dvc_project.discover).
    parser.addini(
        "mlchaos_dvc_repo",
        "The DVC repository to test when none is configured (default: the nearest "
        "directory holding .dvc/ above the rootdir)",
        type="paths",
        default=[],
    )
    for key, what in (
        ("mlchaos_dvc_metrics", "Metrics files to evaluate (default: those dvc.yaml declares)"),
        ("mlchaos_dvc_models", "Outs that are models (default: dvc.yaml artifacts of type model)"),
        ("mlchaos_dvc_data", "Outs that are data (default: dvc add-ed outs, artifacts of type dataset)"),
        ("mlchaos_dvc_skip_stages", "Stages not to run (their outs come from the workspace or DVC cache)"),
        ("mlchaos_dvc_volatile", "Outs that are not byte-reproducible (declared plots always are)"),
    ):
        parser.addini(key, what + ", one per line or comma-separated", type="linelist", default=[])


@dataclass(frozen=True)
class Settings:
    enabled: bool
    seed: int
    seed_source: str  # "random", "option", "last"
    thresholds: Thresholds
    max_mttr: float | None
    strict: bool
    report_path: str | None
    markdown_path: str | None
    project_spec: str
    discovery: Mapping[str, Any] = field(default_factory=dict)  # what zero configuration needs (dvc_project.discover)
    html_path: str | None = None
    mlflow_uri: str | None = None  # None: off; MLFLOW_DEFAULT: $MLFLOW_TRACKING_URI, else the rootdir's mlflow.db
    mlflow_experiment: str = DEFAULT_MLFLOW_EXPERIMENT
    compare_path: str | None = None
    mttr_tolerance: tuple[float, float] | None = None  # None: report.compare's default
    shard: tuple[int, int] | None = None
    shard_durations: str | None = None
    services: tuple[str, ...] = ()  # mlchaos_services: real services every incident test runs against


def _ini_or_option(config: pytest.Config, dest: str, ini: str, convert: Any, name: str) -> Any:
    value = config.getoption(dest)
    if value is not None:
        return value
    raw = config.getini(ini)
    if raw in ("", None, []):
        return None
    try:
        return convert(raw)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        raise pytest.UsageError(f"ini {ini} = {raw!r}: {exc}") from None


def _names(items: list[Any]) -> tuple[str, ...]:
    """Names from ini lines or an option value, each comma-separated, in order, without repeats."""
    names: list[str] = []
    for item in items:
        names.extend(n.strip() for n in str(item).split(",") if n.strip())
    return tuple(dict.fromkeys(names))


def _metrics(config: pytest.Config) -> tuple[str, ...]:
    option = config.getoption("mlchaos_metrics")
    return _names([option] if option else list(config.getini("mlchaos_metrics")))


def resolve_seed(config: pytest.Config) -> tuple[int, str]:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "mlchaos_seed" in workerinput:
        return int(workerinput["mlchaos_seed"]), str(workerinput.get("mlchaos_seed_source", "option"))
    option = config.getoption("mlchaos_seed")
    cache = getattr(config, "cache", None)
    if option == "last":
        last = cache.get(SEED_CACHE_KEY, None) if cache is not None else None
        if last is None:
            raise pytest.UsageError(f"{OPT_SEED}=last: no previous seed in the pytest cache; pass a number instead")
        return int(last), "last"
    if option is not None:
        return int(option), "option"
    return random.Random().getrandbits(32), "random"


def load_settings(config: pytest.Config) -> Settings:
    """Parse options and ini keys; bad values raise ``pytest.UsageError`` naming them."""
    warn = _ini_or_option(config, "mlchaos_warn_drop", "mlchaos_warn_drop", fraction_type, OPT_WARN)
    fail = _ini_or_option(config, "mlchaos_fail_drop", "mlchaos_fail_drop", fraction_type, OPT_FAIL)
    max_mttr = _ini_or_option(config, "mlchaos_max_mttr", "mlchaos_max_mttr", seconds_type, OPT_MAX_MTTR)
    try:
        thresholds = Thresholds(
            warn_drop=DEFAULT_WARN_DROP if warn is None else warn,
            fail_drop=DEFAULT_FAIL_DROP if fail is None else fail,
            metrics=_metrics(config),
        ).with_directions(lower=_names(list(config.getini(INI_LOWER))))
    except ThresholdError as exc:
        raise pytest.UsageError(f"{OPT_WARN}/{OPT_FAIL}: {exc}") from None
    strict = config.getoption("mlchaos_strict")
    durations = config.getoption("mlchaos_shard_durations")
    if durations and config.getoption("mlchaos_shard") is None:
        raise pytest.UsageError(f"{OPT_SHARD_DURATIONS}={durations}: only balances shards; add {OPT_SHARD}=I/N")
    seed, source = resolve_seed(config)
    return Settings(
        enabled=bool(config.getoption("mlchaos")),
        seed=seed,
        seed_source=source,
        thresholds=thresholds,
        max_mttr=max_mttr,
        strict=bool(config.getini("mlchaos_strict")) if strict is None else True,
        report_path=config.getoption("mlchaos_report") or config.getini("mlchaos_report") or None,
        markdown_path=config.getoption("mlchaos_markdown") or config.getini("mlchaos_markdown") or None,
        project_spec=str(config.getini(INI_PROJECT) or "").strip(),
        discovery=_discovery(config),
        html_path=config.getoption("mlchaos_html") or config.getini("mlchaos_html") or None,
        mlflow_uri=_mlflow_uri(config),
        mlflow_experiment=str(config.getini(INI_MLFLOW_EXPERIMENT) or "").strip() or DEFAULT_MLFLOW_EXPERIMENT,
        compare_path=config.getoption("mlchaos_compare") or None,
        mttr_tolerance=_mttr_tolerance(config),
        shard=config.getoption("mlchaos_shard"),
        shard_durations=config.getoption("mlchaos_shard_durations") or None,
        services=_services(config),
    )


def _mttr_tolerance(config: pytest.Config) -> tuple[float, float] | None:
    raw = str(config.getini(INI_MTTR_TOLERANCE) or "").strip()
    if not raw:
        return None
    from .report.compare import parse_tolerance  # (the report package is imported when a report is made)

    try:
        return parse_tolerance(raw)
    except ValueError as exc:
        raise pytest.UsageError(f"ini {INI_MTTR_TOLERANCE} = {raw!r}: {exc}") from None


def _mlflow_uri(config: pytest.Config) -> str | None:
    """The tracking URI to log to (``MLFLOW_DEFAULT`` for the default one), or None when MLflow logging is off."""
    option = config.getoption("mlchaos_mlflow")
    if option is not None:
        return str(option).strip() or MLFLOW_DEFAULT
    raw = str(config.getini("mlchaos_mlflow") or "").strip()
    if raw.lower() in _FALSE:
        return None
    if raw.lower() in _TRUE:
        return MLFLOW_DEFAULT
    try:
        return mlflow_uri_type(raw)
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"ini mlchaos_mlflow = {raw!r}: {exc} (or true / false)") from None


def _services(config: pytest.Config) -> tuple[str, ...]:
    if not config.getini(INI_SERVICES):
        return ()  # the services' modules (http.client and more) load only when services are asked for
    from .services.lifecycle import ServiceError
    from .services.session import parse_services

    try:
        return parse_services(config.getini(INI_SERVICES), f"ini {INI_SERVICES}")
    except ServiceError as exc:
        raise pytest.UsageError(str(exc)) from None


def _discovery(config: pytest.Config) -> dict[str, Any]:
    """Where pytest runs and the ``mlchaos_dvc_*`` ini values, for finding the DVC repository to test."""
    values: dict[str, Any] = {"rootdir": str(config.rootpath), "invocation_dir": str(config.invocation_params.dir)}
    for key in (
        "mlchaos_dvc_metrics",
        "mlchaos_dvc_models",
        "mlchaos_dvc_data",
        "mlchaos_dvc_skip_stages",
        "mlchaos_dvc_volatile",
    ):
        values[key] = config.getini(key)
    values["lower_is_better"] = config.getini(INI_LOWER)
    repos = config.getini("mlchaos_dvc_repo")
    values["mlchaos_dvc_repo"] = str(repos[0]) if repos else ""
    try:  # the pytest cache, where baselines live: never copied into one
        values["exclude"] = [str(config.rootpath / config.getini("cache_dir"))]
    except ValueError:  # -p no:cacheprovider
        values["exclude"] = []
    if config.option.basetemp:
        values["exclude"].append(str(Path(config.option.basetemp).resolve()))
    return values
