"""Zero configuration: ``cd your-repo && pytest --mlchaos`` tests the DVC repository pytest runs in.

The repository is found as ``dvc`` finds it: the nearest ancestor (itself included) of pytest's
rootdir, else of the invocation directory, that holds a ``.dvc/`` directory. A few ini keys
override what ``dvc.yaml`` declares (``KEYS``). Imports nothing heavy: DVC is imported only when
the project is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..project import ProjectError

__all__ = ["KEYS", "REPO_KEY", "discover", "find_repository"]

# ini key -> DVCProject argument
KEYS = {
    "mlchaos_dvc_metrics": "metrics_file",
    "mlchaos_dvc_models": "model_files",
    "mlchaos_dvc_data": "data_files",
    "mlchaos_dvc_skip_stages": "skip_stages",
    "mlchaos_dvc_volatile": "volatile",
}
REPO_KEY = "mlchaos_dvc_repo"


def find_repository(*starts: str | Path) -> tuple[Path, int] | None:
    """The nearest directory at or above a start that holds ``.dvc/``, and which start found it (0, 1, ...);
    the first start that has one wins."""
    for index, start in enumerate(starts):
        if not start:
            continue
        here = Path(start).resolve()
        for candidate in (here, *here.parents):
            if (candidate / ".dvc").is_dir():
                return candidate, index
    return None


def _names(values: Any) -> tuple[str, ...]:
    """An ini list (one per line or comma-separated) as a tuple of stripped names."""
    items = [values] if isinstance(values, str) else list(values or ())
    return tuple(dict.fromkeys(part.strip() for item in items for part in str(item).split(",") if part.strip()))


def discover(values: Mapping[str, Any]) -> tuple[Any, str] | None:
    """The ``DVCProject`` of the repository pytest runs in, with its header label; None outside a DVC repository.

    ``values``: ``rootdir``, ``invocation_dir``, ``exclude`` (directories never copied), ``lower_is_better``,
    ``mlchaos_dvc_repo`` (an explicit repository path) and the keys of ``KEYS``. A bad value or a
    repository the options do not fit raises ``ProjectError`` naming it, before anything is built.
    """
    explicit = values.get(REPO_KEY)
    if explicit:
        repo = Path(explicit).resolve()
        if not (repo / "dvc.yaml").is_file():
            raise ProjectError(f"ini {REPO_KEY} = {str(explicit)!r}: no dvc.yaml there")
        how = f"ini {REPO_KEY}"
    else:
        found = find_repository(values.get("rootdir", ""), values.get("invocation_dir", ""))
        if found is None:
            return None
        repo = found[0]
        how = f"the nearest .dvc/ above the {('rootdir', 'invocation directory')[found[1]]}"
        if not (repo / "dvc.yaml").is_file():
            raise ProjectError(
                f"pytest --mlchaos found the DVC repository {repo} ({how}), but it has no dvc.yaml at its root: "
                f"set the ini key {REPO_KEY} to the directory with the pipeline, or mlchaos_project to a project"
            )
    from .project import DVCProject

    kwargs: dict[str, Any] = {}
    for key, argument in KEYS.items():
        names = _names(values.get(key))
        if names:
            kwargs[argument] = names
    try:
        project = DVCProject(
            repo,
            lower_is_better=_names(values.get("lower_is_better")),
            exclude=[p for p in values.get("exclude", ()) if p],
            **kwargs,
        )
        project.check()
    except ModuleNotFoundError as exc:
        raise ProjectError(
            f"pytest --mlchaos found the DVC repository {repo}, but cannot read it: {exc} "
            "(install dvc in this environment)"
        ) from None
    except ProjectError as exc:
        raise ProjectError(f"{exc} (repository {repo}, {how}; ini keys: {', '.join([REPO_KEY, *KEYS])})") from None
    return project, f"DVC repository {repo} ({how})"
