"""``DVCProject``: builds, clones, evaluates, inspects and recovers a DVC pipeline repository."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import progress
from ..artifacts import Artifacts
from ..incidents.spec import Incident
from ..project import ProjectError, RecoveryResult
from ..retry import DEFAULT_RETRY, RetryPolicy
from . import build as building
from . import roles
from .damage import _dir_entries, needed_objects, scan
from .facts import FACTS_FILE, Facts
from .layout import Layout, read_layout
from .metrics import MEMO, deps_key, merge, run_in_scratch
from .mlflow_store import relocate_store
from .recovery import _Recovery
from .repo import CACHE_DIR, LOCK_FILE, REMOTE_DIR, SITE_DIR, _git, git_env
from .source import SourceTree
from .stagerun import run_stage


def _paths(
    label: str, value: str | Sequence[str] | None, *, single_ok: bool = False, empty_ok: bool = False
) -> tuple[str, ...] | None:
    """A tuple of relative paths (or names), or ProjectError naming ``label`` and what it expects."""
    if value is None:
        return None
    if isinstance(value, str):
        if single_ok and value:
            return (value,)
        raise ProjectError(f"DVCProject {label}={value!r}: expected a list of paths relative to the repo root")
    items = tuple(value)
    if (not items and not empty_ok) or not all(isinstance(v, str) and v for v in items):
        raise ProjectError(
            f"DVCProject {label}={value!r}: expected a non-empty list of paths relative to the repo root"
        )
    return items


class DVCProject:
    """A generic ``MLProject`` for a DVC pipeline repository, taking what ``dvc.yaml`` declares.

    - ``source``: the repository (``dvc.yaml`` required); it is copied, never written.
    - ``metrics_file``: a metrics file, or a list of them (default: every metrics file ``dvc.yaml``
      declares that a stage writes; JSON, YAML or TOML; nested keys joined by ``.``).
    - ``model_files`` / ``data_files``: outs to treat as models / data (default: ``artifacts:`` of type
      model / dataset, ``dvc add``-ed outs, then suffix rules).
    - ``skip_stages``: stages not to run (their outs are taken from the workspace or the user's cache).
    - ``volatile``: outs that are not byte-reproducible (declared plots always are).
    - ``exclude``: directories of the source never to copy (the pytest cache wherever it is).
    - ``lower_is_better``: metric names where a rise is the degradation (e.g. ``("rmse",)``).
    - ``reuse_metrics``: reuse a metrics run for identical inputs (the md5 of the metrics stage's command
      and deps), this process's or the build's, as DVC's run cache does (False: always re-run the stage).

    With services on (``mlchaos_services = s3``), ``attach_services`` makes the environment's bucket its
    default DVC remote, and recovery tries it after the local cache and remote with ``retry`` (a class
    attribute: ``pytest_mlchaos.retry.RetryPolicy``).
    """

    retry: RetryPolicy = DEFAULT_RETRY  # how long recovery keeps trying the S3 remote (services on)

    def __init__(
        self,
        source: str | Path,
        *,
        metrics_file: str | Sequence[str] | None = None,
        model_files: Sequence[str] | None = None,
        data_files: Sequence[str] | None = None,
        name: str | None = None,
        lower_is_better: Iterable[str] = (),
        reuse_metrics: bool = True,
        skip_stages: Sequence[str] = (),
        volatile: Sequence[str] = (),
        exclude: Iterable[str | Path] = (),
    ) -> None:
        src = Path(source).expanduser()
        if not (src / "dvc.yaml").is_file():
            raise ProjectError(f"DVCProject source {str(source)!r} is not a directory with a dvc.yaml")
        self.source = src.resolve()
        self.options = roles.Options(
            metrics_files=_paths("metrics_file", metrics_file, single_ok=True),
            model_files=_paths("model_files", model_files),
            data_files=_paths("data_files", data_files),
            skip_stages=_paths("skip_stages", skip_stages, empty_ok=True) or (),
            volatile=_paths("volatile", volatile, empty_ok=True) or (),
        )
        self.metrics_file = self.options.metrics_files[0] if self.options.metrics_files else None
        self.model_files = self.options.model_files
        self.data_files = self.options.data_files
        self.name = name or self.source.name
        self.lower_is_better = frozenset(lower_is_better)
        self.reuse_metrics = bool(reuse_metrics)
        self.exclude = tuple(Path(p).resolve() for p in exclude)
        self._layouts: dict[str, Layout] = {}
        self._facts: dict[str, Facts] = {}
        self._tree: SourceTree | None = None
        self._source_layout: Layout | None = None

    def __repr__(self) -> str:
        return f"DVCProject({str(self.source)!r}, name={self.name!r})"

    # -- the source ---------------------------------------------------------------------------
    def source_tree(self) -> SourceTree:
        """What of the source is the repository (ignore rules applied, clutter left out)."""
        if self._tree is None:
            self._tree = SourceTree.scan(self.source, self.exclude)
        return self._tree

    def check(self) -> Layout:
        """The source's pipeline as DVC resolves it, every option checked against it (ProjectError naming a bad
        one). Read from a copy of the source's small files: DVC writes into a repository it opens."""
        if self._source_layout is None:
            tree = self.source_tree()
            with tempfile.TemporaryDirectory(prefix="mlchaos-dvc-shadow-") as tmp:
                shadow = Path(tmp) / "repo"
                tree.copy_to(shadow, small_only=True)
                (shadow / ".dvc").mkdir(exist_ok=True)
                (shadow / ".dvc" / "config.local").write_text("[core]\n    no_scm = true\n")
                try:
                    layout = read_layout(shadow, rev=None)
                except ProjectError:
                    raise
                except Exception as exc:  # DVC's own words about a dvc.yaml it cannot read
                    raise ProjectError(
                        f"DVCProject {self.source}: DVC cannot read the pipeline: {type(exc).__name__}: {exc}"
                    ) from None
            roles.check_stages(layout, self.options.skip_stages)
            roles.metrics_files(layout, self.options, self._existing(self.source, self.options.metrics_files))
            roles.models(layout, self.options)
            roles.check_paths(layout, "data_files", self.options.data_files)
            roles.volatile(layout, self.options)
            self._source_layout = layout
        return self._source_layout

    @staticmethod
    def _existing(root: Path, paths: Sequence[str] | None) -> tuple[str, ...]:
        return tuple(p for p in paths or () if (Path(root) / p).is_file())

    # -- baseline -----------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """Changes with what can change the baseline: the pipeline's files (code, params, ``dvc.yaml``,
        ``.dvc`` files), the tracked data, the options and this adapter; not with tests, docs or caches.
        Tool versions are part of the baseline key already (``session.baseline_key``)."""
        layout = self.check()
        tree = self.source_tree()
        taken = [out for out in tree.added_data()]
        skipped = [o for o in layout.outs if o.stage in self.options.skip_stages]
        h = hashlib.sha256()
        for module in sorted(Path(__file__).parent.glob("*.py")):  # this adapter's code, every module of it
            h.update(module.read_bytes())
        extra = repr((self.options, h.hexdigest()))  # tool versions: in the baseline key (session.baseline_key)
        from .source import DataOut

        data = taken + [DataOut(o.path, o.md5, "dvc.lock") for o in skipped]
        return tree.fingerprint(data, extra)[:20]

    def build(self, root: Path) -> None:
        """A real repository of the source in the empty directory ``root`` (see ``build``'s module docstring)."""
        root = Path(root)
        layout = self.check()
        building.empty_target(root)
        progress.stage("copying the sources, git init, DVC config, first commit")
        building.copy_sources(self.source_tree(), layout, root, self.options.skip_stages)
        building.git_init(root)
        building.configure_dvc(root)
        building.first_commit(root, self.name)
        names = [s.name for s in layout.stages if s.name not in self.options.skip_stages]
        progress.stage(f"running the pipeline: dvc repro of {len(names)} stage(s) ({', '.join(names)}), then push")
        building.run_pipeline(root, layout, self.options.skip_stages, self.source)
        built = read_layout(root, rev=None)
        files = roles.metrics_files(built, self.options, self._existing(root, self.options.metrics_files))
        progress.stage("rerunning the metrics stages once, to learn which outputs are not byte-reproducible")
        learned = building.learn_volatile(root, roles.metrics_stages(built, files))
        listings = {
            out.path: [[e["relpath"], e["md5"]] for e in _dir_entries(root, out.md5) or []]
            for out in built.outs
            if out.is_dir and out.md5
        }
        runs = {
            key: MEMO[key]
            for stage, files in roles.metrics_stages(built, files)
            if (key := deps_key(root, stage, files)) is not None and key in MEMO
        }
        facts = Facts(learned, tuple(self.options.skip_stages), building.mlflow_facts(root), listings, runs)
        building.finish(root, self.name, facts)
        damage = scan(
            root,
            self.layout(root, fresh=True),
            volatile=self.volatile(root),
            mlflow=facts.mlflow,
            listings=facts.listings,
        )
        if not damage.clean:
            raise ProjectError(
                f"DVCProject.build of {self.source}: not consistent after repro and push: "
                + "; ".join(damage.problems())
            )

    def relocate(self, root: Path, old_root: Path) -> None:
        """Drop the copied site cache (keyed by the old path), rewrite MLflow's absolute paths, and check that
        nothing else holds ``old_root``."""
        shutil.rmtree(Path(root) / SITE_DIR, ignore_errors=True)
        relocate_store(Path(root), Path(old_root))
        old = str(Path(old_root).resolve()).encode()
        for rel in (".dvc/config", LOCK_FILE, ".git/config"):
            path = Path(root) / rel
            if path.is_file() and old in path.read_bytes():
                raise ProjectError(
                    f"{rel} in {root} holds the absolute path {old_root}; DVCProject keeps paths relative"
                )

    # -- what the environment is ----------------------------------------------------------------
    def _head(self, root: Path) -> str:
        """The commit at HEAD: every clone of one baseline shares it, and so its layout and facts (all relative)."""
        return _git(Path(root), "rev-parse", "HEAD").strip()

    def layout(self, root: Path, *, fresh: bool = False) -> Layout:
        """The pipeline committed at git HEAD of ``root`` (cached by commit)."""
        key = self._head(root)
        if fresh or key not in self._layouts:
            self._layouts[key] = read_layout(Path(root))
        return self._layouts[key]

    def facts(self, root: Path) -> Facts:
        """What the build learned, as committed at HEAD (a damaged workspace copy cannot change it)."""
        key = self._head(root)
        if key not in self._facts:
            done = subprocess.run(
                ["git", "show", f"HEAD:{FACTS_FILE}"],
                cwd=root,
                env=git_env(Path(root)),
                capture_output=True,
                check=False,
            )
            self._facts[key] = Facts.parse(done.stdout) if done.returncode == 0 else Facts()
        return self._facts[key]

    def volatile(self, root: Path) -> tuple[str, ...]:
        """Outs judged by metrics, not bytes: declared plots, the ``volatile`` option, what the build learned."""
        return roles.volatile(self.layout(root), self.options, self.facts(root).learned_volatile)

    def files_of(self, root: Path) -> dict[str, tuple[str, ...]]:
        """Each out as its files (a directory out through its ``.dir`` listing in the cache or the remote)."""
        found: dict[str, tuple[str, ...]] = {}
        for out in self.layout(root).outs:
            if out.is_dir and out.md5:
                listed = self.facts(root).listings.get(out.path)
                entries = (
                    [{"relpath": r} for r, _ in listed]
                    if listed is not None
                    else _dir_entries(Path(root), out.md5) or []
                )
                found[out.path] = tuple(f"{out.path}/{e['relpath']}" for e in entries)
            else:
                found[out.path] = (out.path,)
        return found

    def artifacts(self, root: Path) -> Artifacts:
        layout = self.layout(root)
        facts = self.facts(root)
        files_of = self.files_of(root)
        models = roles.models(layout, self.options)
        metrics_files = roles.metrics_files(layout, self.options, self.options.metrics_files or ())  # checked at build
        metric_stages = [s for s, _ in roles.metrics_stages(layout, metrics_files)]
        sources = (
            [o.path for o in layout.added]
            + list(roles.code_files(layout))
            + list(layout.dvcfiles)
            + list(layout.params)
        )
        mlflow = facts.mlflow
        return Artifacts(
            data=roles.data(layout, self.options, files_of),
            models=models,
            stages=tuple(s.name for s in layout.stages),
            stage_outputs={
                s.name: tuple(f for out in s.outs for f in files_of.get(out, (out,))) for s in layout.stages
            },
            stage_inputs={s.name: s.deps for s in layout.stages},
            sources=tuple(dict.fromkeys(sources)),
            holdout=roles.holdout(layout, metric_stages, models, files_of),
            metrics_file=metrics_files[0],
            metrics_files=metrics_files,
            volatile=self.volatile(root),
            lock_file=LOCK_FILE,
            dvc_cache=CACHE_DIR,
            dvc_remote=REMOTE_DIR,
            dvc_objects=tuple(sorted(needed_objects(Path(root), layout, self.volatile(root), facts.listings))),
            mlflow_db=mlflow.get("mlflow_db"),
            mlflow_artifacts=mlflow.get("mlflow_artifacts"),
            registry_model=mlflow.get("registry_model"),
            registry_alias=mlflow.get("registry_alias"),
            backups=mlflow.get("backups"),
        )

    # -- checks ---------------------------------------------------------------------------------
    def evaluate(self, root: Path) -> dict[str, float]:
        """Re-run the stages that write the metrics files, each in a scratch copy of its deps; read the metrics.

        The environment is not touched. With ``reuse_metrics`` (the default) a result is remembered, keyed
        by the command and the md5 of every dep, as DVC's run cache would: for the process, and the build's
        own runs for every process (committed with the baseline); a dep that differs by one bit re-runs
        the stage.
        """
        root = Path(root)
        layout = self.layout(root)
        known = self.facts(root).runs if self.reuse_metrics else {}
        per_file: dict[str, dict[str, float]] = {}
        files_ok = self.options.metrics_files or ()  # checked at build
        for stage, files in roles.metrics_stages(layout, roles.metrics_files(layout, self.options, files_ok)):
            key = deps_key(root, stage, files) if self.reuse_metrics else None
            if key is not None and (key in MEMO or key in known):
                result = MEMO.get(key) or known[key]
            else:
                result = run_in_scratch(root, stage, files).metrics
                if key is not None:
                    MEMO[key] = result
            per_file.update({rel: dict(values) for rel, values in result.items()})
        return merge(per_file)

    def detect(self, root: Path) -> list[str]:
        """Outs whose md5 differs from dvc.lock or that are missing; missing or corrupt cache/remote objects;
        git-tracked files that differ from HEAD; stale locks. Volatile outs only have to be there."""
        facts = self.facts(root)
        return scan(
            Path(root), self.layout(root), volatile=self.volatile(root), mlflow=facts.mlflow, listings=facts.listings
        ).problems()

    def check_model(self, root: Path) -> str | None:
        """None if every model file loads (in the serialisation it was written in) and, when it can say its
        width, predicts one row of zeros."""
        from ..modelfiles import load_model

        for rel in self.artifacts(root).models:
            path = Path(root) / rel
            try:
                model = load_model(path)
                width = getattr(model, "n_features_in_", None)
                if width is not None and hasattr(model, "predict"):
                    import numpy as np

                    with warnings.catch_warnings():  # e.g. "X does not have valid feature names"
                        warnings.simplefilter("ignore")
                        model.predict(np.zeros((1, int(width))))
            except Exception as exc:  # any failure to load or predict is the answer
                return f"{rel} does not load and predict: {type(exc).__name__}: {exc}"
        return None

    # -- services (mlchaos_services = s3) -----------------------------------------------------------
    def attach_services(self, root: Path, endpoints: Mapping[str, Mapping[str, Any]]) -> None:
        """Make the environment's bucket (``endpoints["s3"]``, given by the plugin) its default DVC remote, in the
        sandbox's ``.dvc/config.local`` with the endpoint's credentials; the user's checkout and remotes are
        never touched. Recovery then tries it after the local cache and remote (``dvc_fetch_s3``)."""
        unknown = sorted(set(endpoints) - {"s3"})
        if unknown:
            raise ProjectError(f"DVCProject.attach_services: no support for {', '.join(unknown)}; supported: s3")
        if "s3" in endpoints:
            from .s3remote import attach

            try:
                attach(Path(root), endpoints["s3"])
            except ValueError as exc:
                raise ProjectError(str(exc)) from None

    # -- acting ---------------------------------------------------------------------------------
    def run_stage(self, root: Path, stage: str) -> None:
        """Run one stage as ``dvc repro`` does (its rwlock taken, its outs removed), through the failpoints:
        a failure at the start leaves what a killed run leaves, one while writing leaves partial outputs."""
        run_stage(Path(root), self.layout(root), stage)

    def recover(self, root: Path, incidents: Sequence[Incident]) -> RecoveryResult:
        """The recovery manager: clear stale locks, restore git-tracked files, checkout from the cache, fetch
        from the remote, repro, re-cache, push; each step verified by md5 (and git blob ids)."""
        facts = self.facts(root)
        return _Recovery(
            Path(root), self.layout(root), self.volatile(root), facts.mlflow, facts.listings, retry=self.retry
        ).run()


__all__ = ["DVCProject"]
