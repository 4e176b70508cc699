"""The tools a chaos run depends on and their installed versions, read from package metadata.

One list serves the baseline cache key (a new DVC or scikit-learn means a new baseline), the
report's ``run.versions`` and the benchmarks' header. Nothing is imported to read a version.
"""

from __future__ import annotations

import platform
from importlib import metadata

__all__ = ["TOOLS", "installed", "pinned", "report_versions"]

#: Distribution names, in the order they are printed.
TOOLS = (
    "pytest",
    "pytest-mlchaos",
    "pytest-xdist",
    "dvc",
    "dvc-data",
    "dvclive",
    "scmrepo",
    "mlflow",
    "mlflow-skinny",
    "scikit-learn",
    "pandas",
    "numpy",
)
#: Report keys that differ from the distribution name (the schema's ``sklearn``).
_REPORT_KEYS = {"scikit-learn": "sklearn"}


def installed(dists: tuple[str, ...] = TOOLS) -> dict[str, str | None]:
    """Distribution -> installed version, None when it is not installed."""
    found: dict[str, str | None] = {}
    for dist in dists:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found


def pinned() -> str:
    """``dist=version;...`` of every tool (``-`` when absent): part of a baseline's cache key."""
    return ";".join(f"{dist}={version or '-'}" for dist, version in installed().items())


def report_versions() -> dict[str, str | None]:
    """The report's ``run.versions``: Python and every tool, under the schema's key names."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for dist, version in installed().items():
        versions[_REPORT_KEYS.get(dist, dist)] = version
    return versions
