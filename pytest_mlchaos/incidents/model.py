"""Model loss injectors: model files deleted, overwritten, cut short or swapped, and MLflow registry damage.

File modes target the first file of ``artifacts.models`` by default; registry modes edit
``artifacts.mlflow_db`` with ``sqlite3`` directly (MLflow 3.x tables ``registered_model_aliases``
and ``model_versions``), as a person or a script using the MLflow API would leave it.
"""

from __future__ import annotations

import pickletools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..modelfiles import load_model, model_format, save_model
from ._files import RoleInjector, require_files, write_atomic
from .registry import IncidentRegistry, InjectionContext, Injector
from .spec import Incident, IncidentError, Param

__all__ = [
    "Corrupt",
    "Delete",
    "INJECTORS",
    "MODEL_FILES",
    "RegistryAliasLost",
    "RegistryVersionDeleted",
    "STAGE_DELETED_INTERNAL",
    "Truncate",
    "WrongModel",
    "register",
]

STAGE_DELETED_INTERNAL = "Deleted_Internal"  # what MlflowClient.delete_model_version leaves in model_versions
MODEL_FILES = "any model file as bytes: pickle, joblib, skops or opaque"


class _ModelFile(RoleInjector):
    role = "models"

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        require_files(self.where(), targets, ctx.root)
        return "; ".join(self.damage(ctx, incident, p) for p in targets)

    def damage(self, ctx: InjectionContext, incident: Incident, path: Path) -> str:
        raise NotImplementedError


class Delete(_ModelFile):
    """The model file deleted (a cleanup job, a lost volume, an overwritten deploy directory)."""

    kind, mode = "model_loss", "delete"
    formats = MODEL_FILES

    def damage(self, ctx: InjectionContext, incident: Incident, path: Path) -> str:
        path.unlink()
        return f"deleted {ctx.rel(path)}"


class Corrupt(_ModelFile):
    """Bytes of the model file overwritten with garbage (a torn write, a bad block); same size.

    ``where='header'`` hits what a loader reads first, so a pickle, joblib or skops file fails to load:
    byte 0 of a pickle stream (made an invalid opcode), the end-of-central-directory record of a skops
    zip. Opaque files are overwritten from byte 0.
    """

    kind, mode = "model_loss", "corrupt"
    params = (
        Param("nbytes", int, 64, doc="how many bytes are overwritten", low=1, high=1 << 30, severity=True),
        Param(
            "where",
            str,
            "header",
            doc="header: where loading starts (byte 0; a skops zip's directory record at its "
            "end), so loading fails; random: at a seeded offset, may load silently",
            choices=("header", "random"),
        ),
    )
    formats = MODEL_FILES

    def damage(self, ctx: InjectionContext, incident: Incident, path: Path) -> str:
        data = bytearray(path.read_bytes())
        n = min(incident.param("nbytes"), len(data))
        if n == 0:
            raise IncidentError(f"{self.where()}: {path.name} is empty; nothing to overwrite")
        fmt = model_format(path)
        header = incident.param("where") == "header"
        start = _header_start(data, fmt, n) if header else ctx.rng.randrange(0, len(data) - n + 1)
        garbage = bytearray(ctx.rng.randbytes(n))
        if garbage == data[start : start + n]:
            garbage = bytearray(b ^ 0xFF for b in garbage)
        if header:
            _make_unloadable(garbage, data, start, fmt, ctx.rng)
        data[start : start + n] = garbage
        write_atomic(path, bytes(data))
        return f"overwrote {n} bytes of {ctx.rel(path)} ({fmt}) at offset {start} (size unchanged)"


# Bytes that start no pickle opcode nor a compressed joblib file: a stream starting with one cannot load.
_NOT_A_PICKLE_START = sorted(
    set(range(256)) - {ord(op.code) for op in pickletools.opcodes} - {0x1F, 0x42, 0xFD, 0x04, 0x5A, 0x78}
)
_ZIP_END = b"PK\x05\x06"  # signature of a zip's end-of-central-directory record


def _header_start(data: bytearray, fmt: str, n: int) -> int:
    """Where ``where='header'`` overwrites: byte 0, or (skops) at or before the zip's end record, within the file."""
    if fmt != "skops":
        return 0
    end = data.rfind(_ZIP_END)
    return max(0, min(end, len(data) - n))


def _make_unloadable(garbage: bytearray, data: bytearray, start: int, fmt: str, rng: Any) -> None:
    """Make sure the overwritten bytes break loading, not merely probably (random bytes may be valid opcodes)."""
    if fmt in ("pickle", "joblib"):
        garbage[0] = rng.choice(_NOT_A_PICKLE_START)
    elif fmt == "skops":
        at = data.rfind(_ZIP_END) - start
        if 0 <= at < len(garbage) and garbage[at] == _ZIP_END[0]:
            garbage[at] ^= 0xFF


class Truncate(_ModelFile):
    """The model file cut short, as a copy or upload interrupted halfway leaves it."""

    kind, mode = "model_loss", "truncate"
    params = (
        Param("fraction", float, 0.5, doc="share of the bytes kept", low=0.0, low_open=True, high=1.0, high_open=True),
    )
    formats = MODEL_FILES

    def damage(self, ctx: InjectionContext, incident: Incident, path: Path) -> str:
        data = path.read_bytes()
        if len(data) < 2:
            raise IncidentError(f"{self.where()}: {path.name} has {len(data)} byte(s); nothing to cut")
        cut = min(max(1, int(len(data) * incident.param("fraction"))), len(data) - 1)
        write_atomic(path, data[:cut])
        return f"cut {ctx.rel(path)} to {cut} of {len(data)} bytes"


class WrongModel(_ModelFile):
    """A valid but worse model swapped in (a bad merge, a mixed-up artifact): it loads and predicts, metrics drop.

    Written in the serialisation the original uses (pickle, joblib with its compressor, skops), so the
    project's own loader reads it. Opaque files are refused. A skops file takes ``pruned`` only: the
    ``degraded`` wrapper is a type its loader does not trust.
    """

    kind, mode = "model_loss", "wrong_model"
    params = (
        Param(
            "variant",
            str,
            "auto",
            doc="pruned: a forest cut to a few trees; degraded: predictions wrong on a "
            "fraction of rows; auto: pruned for forests, else degraded",
            choices=("auto", "pruned", "degraded"),
        ),
        Param(
            "fraction",
            float,
            0.3,
            doc="degraded: share of predictions made wrong",
            severity=True,
            low=0.0,
            low_open=True,
            high=1.0,
        ),
        Param("trees", int, 1, doc="pruned: trees kept", low=1),
    )
    formats = "pickle, joblib, skops model files (written back in the same serialisation); not opaque files"

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        chosen = super().targets(ctx, incident)
        for rel in chosen:
            path = ctx.path(rel)
            if path.is_file() and model_format(path) == "opaque":
                raise IncidentError(
                    f"{self.where()}: {rel} is not a pickle, joblib or skops file (opaque bytes that "
                    "only the project's own code reads), so no worse model can be written in its "
                    "format; modes that apply to it as bytes: corrupt, truncate, delete"
                )
        return chosen

    def damage(self, ctx: InjectionContext, incident: Incident, path: Path) -> str:
        fmt = model_format(path)
        try:
            model = load_model(path, fmt)
        except Exception as exc:
            raise IncidentError(
                f"{self.where()}: {ctx.rel(path)} does not load as {fmt} ({type(exc).__name__}: {exc})"
            ) from exc
        model, how = self.worsen(ctx, incident, model, fmt, ctx.rel(path))
        tmp = path.with_name(f".{path.name}.mlchaos-model")
        try:
            save_model(model, tmp, fmt, like=path)
            write_atomic(path, tmp.read_bytes())
        finally:
            tmp.unlink(missing_ok=True)
        return f"swapped {ctx.rel(path)} for a worse model ({fmt}): {how}"

    def worsen(self, ctx: InjectionContext, incident: Incident, model: Any, fmt: str, rel: str) -> tuple[Any, str]:
        """The worse model and how it is worse: a pruned forest, else (not skops) the degraded wrapper."""
        variant = incident.param("variant")
        forest = _forest(model)
        if variant == "pruned" and forest is None:
            raise IncidentError(
                f"{self.where()}: variant='pruned' needs a forest (an estimator with estimators_), "
                f"{rel} holds {type(model).__name__}; allowed variants: auto, degraded"
            )
        trees = incident.param("trees")
        if variant == "pruned" and len(forest.estimators_) <= trees:
            raise IncidentError(
                f"{self.where()}: parameter trees={trees} must be below the forest's "
                f"{len(forest.estimators_)} trees for variant='pruned'"
            )
        if variant in ("auto", "pruned") and forest is not None and len(forest.estimators_) > trees:
            kept = sorted(ctx.rng.sample(range(len(forest.estimators_)), trees))
            forest.estimators_ = [forest.estimators_[i] for i in kept]
            forest.n_estimators = trees
            return model, f"{type(model).__name__} with its forest cut to {trees} tree(s) (trees {kept})"
        if fmt == "skops":
            raise IncidentError(
                f"{self.where()}: {rel} is a skops file; variant {variant!r} would wrap "
                f"{type(model).__name__} in a class its skops loader does not trust, so it would fail "
                "to load instead of scoring worse; a skops model takes variant='pruned' (a forest "
                "with more trees than trees=), or use mode 'corrupt'"
            )
        from ._degraded import DegradedModel

        fraction = incident.param("fraction")
        return DegradedModel(
            model, fraction, ctx.rng.getrandbits(32)
        ), f"{type(model).__name__} wrapped so that {fraction:.0%} of its predictions are wrong"


def _forest(model: Any) -> Any:
    """The ensemble inside ``model`` (itself, or a Pipeline's last step) when it has a list of trees."""
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    trees = getattr(final, "estimators_", None)
    return final if isinstance(trees, list) and trees else None


class _Registry(Injector):
    """Shared part of the MLflow registry modes: the database target and the model's versions."""

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        where = f"incident {self.kind}/{self.mode}"
        if not ctx.artifacts.registry_model:
            raise IncidentError(
                f"{where}: this environment names no registered model (artifacts.registry_model is not set)"
            )
        if incident.target is not None:
            return [incident.target]
        if not ctx.artifacts.mlflow_db:
            raise IncidentError(f"{where}: this environment has no MLflow database (artifacts.mlflow_db is not set)")
        return [ctx.artifacts.mlflow_db]

    @contextmanager
    def session(self, path: Path) -> Iterator[sqlite3.Connection]:
        """One transaction on the MLflow database: committed if the block succeeds, rolled back otherwise."""
        if not path.is_file():
            raise IncidentError(f"incident {self.kind}/{self.mode}: MLflow database {path.name!r} does not exist")
        con = sqlite3.connect(path, timeout=30)
        try:
            with con:
                yield con
        except sqlite3.DatabaseError as exc:
            raise IncidentError(
                f"incident {self.kind}/{self.mode}: {path.name} is not a readable MLflow database ({exc})"
            ) from exc
        finally:
            con.close()

    def aliased_version(self, con: sqlite3.Connection, name: str, alias: str | None) -> int | None:
        row = con.execute(
            "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", (name, alias)
        ).fetchone()
        return None if row is None else int(row[0])


class RegistryAliasLost(_Registry):
    """The serving alias (``production``) removed from the registered model, as a mistaken API call or UI click does."""

    kind, mode = "model_loss", "registry_alias_lost"

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        name, alias = ctx.artifacts.registry_model, ctx.artifacts.registry_alias
        assert name is not None  # targets() refused an environment that names no registered model
        with self.session(targets[0]) as con:
            version = self.aliased_version(con, name, alias)
            if version is None:
                raise IncidentError(
                    f"incident {self.kind}/{self.mode}: model {name!r} has no alias {alias!r} to remove"
                )
            con.execute("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?", (name, alias))
            con.execute("UPDATE registered_models SET last_updated_time = ? WHERE name = ?", (_later(con, name), name))
        return f"removed alias {alias!r} (version {version}) from registered model {name!r} in {ctx.rel(targets[0])}"


class RegistryVersionDeleted(_Registry):
    """A registered model version deleted, as MlflowClient.delete_model_version leaves it (its aliases go too)."""

    kind, mode = "model_loss", "registry_version_deleted"
    params = (
        Param(
            "version", int, None, doc="the version deleted (default: the one the alias serves, else the latest)", low=1
        ),
    )

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        name, alias = ctx.artifacts.registry_model, ctx.artifacts.registry_alias
        assert name is not None  # targets() refused an environment that names no registered model
        with self.session(targets[0]) as con:
            live = [
                int(v)
                for (v,) in con.execute(
                    "SELECT version FROM model_versions WHERE name = ? AND current_stage != ? ORDER BY version",
                    (name, STAGE_DELETED_INTERNAL),
                )
            ]
            version = (
                incident.param("version") or self.aliased_version(con, name, alias) or (live[-1] if live else None)
            )
            if version not in live:
                raise IncidentError(
                    f"incident {self.kind}/{self.mode}: parameter version={version!r} is not a live "
                    f"version of {name!r}; versions: {', '.join(map(str, live)) or 'none'}"
                )
            now = _later(con, name)
            lost = [
                a
                for (a,) in con.execute(
                    "SELECT alias FROM registered_model_aliases WHERE name = ? AND version = ?", (name, version)
                )
            ]
            con.execute("DELETE FROM registered_model_aliases WHERE name = ? AND version = ?", (name, version))
            con.execute(
                "UPDATE model_versions SET current_stage = ?, last_updated_time = ?, description = NULL, "
                "user_id = NULL, source = 'REDACTED-SOURCE-PATH', run_id = 'REDACTED-RUN-ID', "
                "run_link = 'REDACTED-RUN-LINK', status_message = NULL WHERE name = ? AND version = ?",
                (STAGE_DELETED_INTERNAL, now, name, version),
            )
            con.execute("UPDATE registered_models SET last_updated_time = ? WHERE name = ?", (now, name))
        gone = f" and its alias(es) {', '.join(lost)}" if lost else ""
        return f"deleted version {version} of registered model {name!r}{gone} in {ctx.rel(targets[0])}"


def _later(con: sqlite3.Connection, name: str) -> int:
    """A timestamp just after the model's last update: deterministic, so one seed gives one database."""
    row = con.execute(
        "SELECT MAX(COALESCE(last_updated_time, creation_time, 0)) FROM registered_models WHERE name = ?", (name,)
    ).fetchone()
    return int(row[0] or 0) + 1


INJECTORS = (Delete, Corrupt, Truncate, WrongModel, RegistryAliasLost, RegistryVersionDeleted)


def register(registry: IncidentRegistry) -> None:
    for injector in INJECTORS:
        registry.register(injector)
