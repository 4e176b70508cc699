"""Metrics of a DVC pipeline: read as DVC reads them (JSON, YAML, TOML), computed by re-running the
stage that writes them in a scratch copy of its deps, never taken from the environment's own file."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..digest import md5_file
from .layout import Stage
from .repo import MLFLOW_DIR, hermetic_environ

__all__ = ["MEMO", "METRIC_SUFFIXES", "StageRun", "deps_key", "merge", "numbers", "read_metrics", "run_in_scratch"]

METRIC_SUFFIXES = (".json", ".yaml", ".yml", ".toml")


def read_metrics(path: Path) -> dict[str, float]:
    """The numbers of a metrics file (nested keys joined by ``.``; lists indexed); its format from the suffix,
    YAML for any other suffix (as DVC does)."""
    text = path.read_text()
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = json.loads(text)
    elif suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # Python 3.10
            import tomli as tomllib
        data = tomllib.loads(text)
    else:
        import yaml

        data = yaml.safe_load(text)
    return numbers(data)


def numbers(data: Any, prefix: str = "") -> dict[str, float]:
    """Every number in a nested mapping, keyed by its dotted path (booleans are not metrics)."""
    out: dict[str, float] = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            out.update(numbers(value, f"{prefix}{key}."))
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            out.update(numbers(value, f"{prefix}{i}."))
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        out[prefix.rstrip(".")] = float(data)
    return out


def merge(per_file: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """One flat mapping; a name that two files share is prefixed with its file (``path:name``)."""
    seen: dict[str, int] = {}
    for values in per_file.values():
        for key in values:
            seen[key] = seen.get(key, 0) + 1
    merged: dict[str, float] = {}
    for rel, values in per_file.items():
        for key, value in values.items():
            merged[f"{rel}:{key}" if seen[key] > 1 else key] = value
    return merged


@dataclass(frozen=True)
class StageRun:
    """What one scratch run of a stage gave: the metrics of its metrics files and the md5 of each file it wrote."""

    metrics: dict[str, dict[str, float]]
    written: dict[str, str]


def run_in_scratch(root: Path, stage: Stage, metrics_files: Iterable[str]) -> StageRun:
    """Run ``stage``'s command in a temp copy of its deps (and params files), with ``root``'s hermetic
    environment pointed at the copy: ``root`` is only read. Returns the metrics files' numbers and
    the md5 of every file the stage wrote."""
    root = Path(root)
    with tempfile.TemporaryDirectory(prefix="mlchaos-eval-") as scratch:
        work = Path(scratch) / "repo"
        work.mkdir()
        for rel in dict.fromkeys((*stage.deps, *stage.params_files, "params.yaml")):
            src = root / rel
            if src.is_dir():
                shutil.copytree(src, work / rel, dirs_exist_ok=True)
            elif src.is_file():
                (work / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, work / rel)
            elif rel != "params.yaml":
                raise FileNotFoundError(f"stage {stage.name!r} needs {rel}, which is missing in {root}")
        if (root / MLFLOW_DIR).is_dir():  # a stage that reads or logs to MLflow gets a copy of the env's store
            from .mlflow_store import relocate_store

            shutil.copytree(root / MLFLOW_DIR, work / MLFLOW_DIR)
            relocate_store(work, root)
        (work / stage.wdir).mkdir(parents=True, exist_ok=True)
        for out in stage.outs:  # DVC removes a stage's outs before it runs: so does the scratch run
            if (work / out).is_file():
                (work / out).unlink()
            elif (work / out).is_dir():
                shutil.rmtree(work / out)
        env = hermetic_environ(work, site=Path(scratch) / "site")
        done = subprocess.run(stage.cmd, shell=True, cwd=work / stage.wdir, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise RuntimeError(f"stage {stage.name!r} ({stage.cmd}) failed with exit code {done.returncode}:\n{tail}")
        metrics = {}
        for rel in metrics_files:
            path = work / rel
            if not path.is_file():
                raise FileNotFoundError(f"stage {stage.name!r} ran but did not write its metrics file {rel}")
            metrics[rel] = read_metrics(path)
        written = {}
        for out in stage.outs:
            path = work / out
            files = (
                sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path] if path.is_file() else []
            )
            for file in files:
                written[file.relative_to(work).as_posix()] = md5_file(file)
        return StageRun(metrics, written)


def deps_key(root: Path, stage: Stage, metrics_files: Iterable[str]) -> str | None:
    """md5 of the stage command and all its deps (files, or every file under a dep dir); None if one is missing.

    As DVC's run cache: identical command and inputs give identical metrics, so a run can be reused.
    """
    h = hashlib.sha256(f"{stage.cmd}\0{stage.wdir}\0{sorted(metrics_files)}\0".encode())
    for rel in dict.fromkeys((*stage.deps, *stage.params_files, "params.yaml")):
        path = root / rel
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if not file.is_file():
                if rel == "params.yaml":
                    continue
                return None
            h.update(f"{file.relative_to(root).as_posix()}\0{md5_file(file)}\0".encode())
    return h.hexdigest()


MEMO: dict[str, dict[str, dict[str, float]]] = {}
