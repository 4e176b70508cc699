"""Data corruption injectors: what disks, people, upstream exports and half-finished jobs do to a dataset.

Default target: the first file of ``artifacts.data`` (the raw dataset); ``target=`` may name a
role (``data``, a stage name), a path relative to the environment root, or a directory (a DVC
directory output): byte-level modes then hit one file in it, chosen by the seed.

Value-level modes (``noise``, ``missing_values``, ``duplicates``, ``label_flip``, ``schema_drift``)
edit the cells of a table and write it back in its own format: CSV/TSV (any of ``, \t ; |``, with
or without a header row), Parquet (pyarrow, imported only then) and JSON Lines. Which column is
the label and which are ids is decided in ``_tables`` (a headerless table's label is its last
column, or ``label='<index>'``). Any other file (XML, images, archives, binary) is refused before
anything is touched, naming the byte-level modes that do apply: ``bitflip``, ``truncate``,
``delete``, ``stale_version``. The CSV path is stdlib only and fast enough for a million rows
(only the rows that are hit are split into fields).
"""

from __future__ import annotations

import random
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from ._files import (
    RoleInjector,
    count_for,
    cut_point,
    flip_bytes_in_place,
    pick,
    require_files,
    restore_times,
    write_atomic,
)
from ._formats import DataFormat, sniff, sniff_once
from ._tables import Table, read_table
from .registry import IncidentRegistry, InjectionContext
from .spec import Incident, IncidentError, Param

__all__ = [
    "ANY_FILE",
    "Bitflip",
    "Delete",
    "Duplicates",
    "FRACTION",
    "INJECTORS",
    "LABEL",
    "LabelFlip",
    "MissingValues",
    "Noise",
    "SchemaDrift",
    "StaleVersion",
    "TABLES",
    "TABLE_SUFFIXES",
    "Truncate",
    "byte_modes",
    "refuse_format",
    "register",
    "standard_normals",
]

FRACTION: dict[str, Any] = dict(low=0.0, low_open=True, high=1.0)
LABEL = Param(
    "label",
    str,
    None,
    doc="the label column, left alone by feature damage: a header name or a 0-based "
    "index ('-1': the last); default: 'churn' if the header has it, else the last column",
)
TABLES = "CSV/TSV (with or without a header row), Parquet and JSON Lines tables, each written back in its own format"
ANY_FILE = "any file; a directory target: one file in it, chosen by the seed"
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".jsonl", ".ndjson")


class _DataInjector(RoleInjector):
    role = "data"
    value_level: ClassVar[bool] = False  # edits a table's cells (else it works on the file's bytes)
    formats = ANY_FILE

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        """The files hit: directories resolved to one file by the seed; value-level modes refuse what is not a table."""
        chosen = []
        for rel in super().targets(ctx, incident):
            path = ctx.path(rel)  # contained before anything is read
            if path.is_dir():
                rel = self.pick_in_directory(ctx, ctx.rel(path), path)
                path = ctx.path(rel)
            if self.value_level and path.is_file():
                self.table_format(ctx, path)
            chosen.append(rel)
        return chosen

    def pick_in_directory(self, ctx: InjectionContext, rel: str, path: Path) -> str:
        """One file of a directory target, chosen by the seed (hidden files left out); value-level modes refuse."""
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if self.value_level:
            tables = [ctx.rel(p) for p in files if p.suffix.lower() in TABLE_SUFFIXES][:3]
            kinds = Counter(p.suffix.lower() or "no suffix" for p in files)
            held = ", ".join(f"{n} {suffix}" for suffix, n in kinds.most_common()) or "no files"
            hint = f" (e.g. {', '.join(map(repr, tables))})" if tables else ""
            raise IncidentError(
                f"{self.where()}: target {rel!r} is a directory ({held}); {self.mode} edits the cells "
                f"of one table: pass target=<a table file in it>{hint}. Modes that pick a file in a "
                "directory by the seed: bitflip, truncate, delete, stale_version"
            )
        if not files:
            raise IncidentError(f"{self.where()}: target {rel!r} is a directory with no files to damage")
        return ctx.rel(ctx.rng.choice(files))

    def table_format(self, ctx: InjectionContext, path: Path) -> DataFormat:
        """The file's format when it is a table; else IncidentError naming the file, its format and the modes that
        apply."""
        fmt = sniff_once(path)
        if not fmt.is_table:
            refuse_format(ctx, self.where(), self.mode, path, fmt)
        return fmt

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        require_files(self.where(), targets, ctx.root)
        if not self.value_level:
            return "; ".join(self.damage(ctx, incident, path) for path in targets)
        tables = [read_table(p, self.where(), self.table_format(ctx, p)) for p in targets]
        notes = [self.edit(ctx, incident, table) for table in tables]  # in memory: a refusal here writes nothing
        contents = [table.to_bytes() for table in tables]
        for table, data in zip(tables, contents):
            write_atomic(table.path, data)
        return "; ".join(notes)

    def damage(self, ctx: InjectionContext, incident: Incident, path: Path) -> str:
        """Byte-level modes: damage the file at ``path``."""
        raise NotImplementedError

    def edit(self, ctx: InjectionContext, incident: Incident, table: Table) -> str:
        """Value-level modes: change ``table`` in memory (the caller writes it back); return what was done."""
        raise NotImplementedError

    @staticmethod
    def name(ctx: InjectionContext, path: Path) -> str:
        return ctx.rel(path)


def refuse_format(ctx: InjectionContext, where: str, mode: str, path: Path, fmt: DataFormat) -> NoReturn:
    raise IncidentError(
        f"{where}: {ctx.rel(path)} is {fmt.describe()}; {mode} edits the cells of CSV/TSV, Parquet and "
        f"JSON Lines tables only. Modes that apply to it as bytes: {', '.join(byte_modes(ctx, path))}"
    )


def byte_modes(ctx: InjectionContext, path: Path) -> list[str]:
    """The byte-level data modes that can damage this file as it is."""
    size = path.stat().st_size
    modes = (["bitflip"] if size >= 1 else []) + (["truncate"] if size >= 2 else []) + ["delete"]
    if _previous_dvc_version(ctx, ctx.rel(path), path) is not None:
        modes.append("stale_version (source='cache')")
    return modes


def standard_normals(rng: random.Random, count: int) -> list[float]:
    """``count`` standard normal draws seeded from ``rng``: one numpy call when numpy is there (1.7 M draws in
    tens of milliseconds instead of seconds), else ``rng.gauss``."""
    try:
        import numpy as np
    except ImportError:
        return [rng.gauss(0.0, 1.0) for _ in range(count)]
    draws: list[float] = np.random.default_rng(rng.getrandbits(64)).standard_normal(count).tolist()
    return draws


class _TableInjector(_DataInjector):
    value_level = True
    formats = TABLES


class Noise(_TableInjector):
    """Gaussian noise added to the numeric features of a fraction of the rows (a miscalibrated sensor, a bad join).

    Label and id-like columns are left alone; integers stay integers, decimals keep their count.
    """

    kind, mode = "data_corruption", "noise"
    params = (
        Param("fraction", float, 0.1, doc="share of rows hit", severity=True, **FRACTION),
        Param(
            "scale", float, 0.5, doc="noise standard deviation, in units of each column's std", low=0.0, low_open=True
        ),
        LABEL,
    )

    def edit(self, ctx: InjectionContext, incident: Incident, table: Table) -> str:
        features = set(table.feature_columns(table.label_column(incident.param("label"), self.where())))
        numeric = {c: v for c, v in table.numeric_columns().items() if c in features}
        if not numeric or not table.n_rows:
            raise IncidentError(
                f"{self.where()}: {table.path.name} has no numeric feature columns (and rows) to add noise to"
            )
        n = table.n_rows
        rows = pick(ctx.rng, range(n), count_for(incident.param("fraction"), n))
        scale = incident.param("scale")
        plan = [
            (c, table.number_writer(is_int, decimals), scale * std) for c, (is_int, decimals, std) in numeric.items()
        ]
        draws = iter(standard_normals(ctx.rng, len(rows) * len(plan)))
        changed = 0
        for i in rows:  # the hot loop of a large table: kept to the bare operations
            fields = table.fields(i)
            width = len(fields)
            for c, fmt, sigma in plan:
                z = next(draws)
                if c < width:  # (a short row lacks the column)
                    old = fields[c]
                    try:
                        new = fmt(float(old) + sigma * z)
                    except (ValueError, OverflowError, TypeError):  # a blank, a word or an infinity stays as it is
                        continue
                    if new != old:
                        changed += 1
                        fields[c] = new
            table.set_fields(i, fields, plain=True)
        cols = ", ".join(table.names[c] for c in numeric)
        return (
            f"added noise (scale {scale} std) to {changed} values in {len(rows)} of {n} rows of "
            f"{self.name(ctx, table.path)} (columns {cols})"
        )


class MissingValues(_TableInjector):
    """Feature values blanked in a fraction of the rows (a failed upstream join, a dropped sensor feed).

    One feature cell per hit row becomes empty (``""`` in CSV/TSV, ``null`` in Parquet and JSON Lines);
    the label and id-like columns are never blanked.
    """

    kind, mode = "data_corruption", "missing_values"
    params = (Param("fraction", float, 0.1, doc="share of rows with a blanked value", severity=True, **FRACTION), LABEL)

    def edit(self, ctx: InjectionContext, incident: Incident, table: Table) -> str:
        cols = table.feature_columns(table.label_column(incident.param("label"), self.where()))
        if not cols or not table.n_rows:
            raise IncidentError(
                f"{self.where()}: {table.path.name} has no feature columns (and rows) to blank "
                f"(label and id-like columns are left alone)"
            )
        n = table.n_rows
        rows = pick(ctx.rng, range(n), count_for(incident.param("fraction"), n))
        blanked = 0
        for i in rows:
            fields = table.fields(i)
            present = [c for c in cols if c < len(fields) and not table.is_blank(fields[c])]
            if present:
                fields[ctx.rng.choice(present)] = table.blank
                blanked += 1
                table.set_fields(i, fields)
        names = ", ".join(table.names[c] for c in cols)
        return (
            f"blanked {blanked} feature values in {len(rows)} of {n} rows of {self.name(ctx, table.path)} "
            f"(columns {names})"
        )


class Duplicates(_TableInjector):
    """A fraction of the rows written twice, next to the original (a retried batch that had in fact succeeded)."""

    kind, mode = "data_corruption", "duplicates"
    params = (Param("fraction", float, 0.1, doc="share of rows duplicated", severity=True, **FRACTION),)

    def edit(self, ctx: InjectionContext, incident: Incident, table: Table) -> str:
        n = table.n_rows
        if not n:
            raise IncidentError(f"{self.where()}: {table.path.name} has no rows to duplicate")
        chosen = set(pick(ctx.rng, range(n), count_for(incident.param("fraction"), n)))
        table.duplicate(chosen)
        return f"duplicated {len(chosen)} of {n} rows of {self.name(ctx, table.path)} (now {table.n_rows} rows)"


class LabelFlip(_TableInjector):
    """The label of a fraction of the rows changed to another class (a labelling bug, a swapped mapping)."""

    kind, mode = "data_corruption", "label_flip"
    params = (
        Param("fraction", float, 0.1, doc="share of rows whose label is flipped", severity=True, **FRACTION),
        Param("label", str, None, doc=LABEL.doc.replace(", left alone by feature damage", "")),
    )

    def edit(self, ctx: InjectionContext, incident: Incident, table: Table) -> str:
        col = table.label_column(incident.param("label"), self.where())
        n = table.n_rows
        classes = sorted({_hashable(v) for v in table.column_values(col) if not table.is_blank(v)}, key=_class_order)
        if len(classes) < 2:
            raise IncidentError(
                f"{self.where()}: label column {table.col_name(col)} of {table.path.name} has fewer "
                f"than 2 classes: {classes}"
            )
        rows = pick(ctx.rng, range(n), count_for(incident.param("fraction"), n))
        for i in rows:
            fields = table.fields(i)
            if col < len(fields):
                others = [c for c in classes if c != _hashable(fields[col])]
                fields[col] = others[0] if len(others) == 1 else ctx.rng.choice(others)
                table.set_fields(i, fields, plain=True)
        return (
            f"flipped the {table.col_name(col)} label of {len(rows)} of {n} rows of {self.name(ctx, table.path)} "
            f"(classes {classes})"
        )


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def _class_order(value: Any) -> tuple[str, str]:
    return (type(value).__name__, str(value))


class SchemaDrift(_TableInjector):
    """The schema changed upstream: a column dropped, renamed, reordered, or written with another dtype.

    A headerless table has no names to rename; its columns are named by index (``column='2'``).
    """

    kind, mode = "data_corruption", "schema_drift"
    params = (
        Param("change", str, "drop", doc="what changed", choices=("drop", "rename", "reorder", "dtype")),
        Param(
            "column",
            str,
            None,
            doc="the column hit, a name or a 0-based index (default: a feature column chosen by the seed)",
        ),
        LABEL,
    )

    def edit(self, ctx: InjectionContext, incident: Incident, table: Table) -> str:
        change = incident.param("change")
        where = self.name(ctx, table.path)
        if change == "rename" and table.header is None:
            raise IncidentError(
                f"{self.where()}: change='rename' needs column names and {where} has no header row; "
                "changes that apply to it: drop, reorder, dtype"
            )
        if change in ("drop", "reorder") and table.width < 2:
            raise IncidentError(f"{self.where()}: {where} has a single column; nothing to {change}")
        col = self.column(ctx, incident, table, change)
        col_name = table.col_name(col)
        if change == "drop":
            table.rearrange([c for c in range(table.width) if c != col])
            return f"dropped {_column_word(col_name)} from {where}"
        if change == "rename":
            new = _renamed(table.names[col])
            table.rename(col, new)
            return f"renamed column {col_name} to {new!r} in {where}"
        if change == "reorder":
            order = list(range(table.width))
            while order == list(range(table.width)):
                ctx.rng.shuffle(order)
            names = table.names
            table.rearrange(order)
            return f"reordered the columns of {where} to {', '.join(names[c] for c in order)}"
        return f"changed the dtype of {_column_word(col_name)} in {where}: {_retype(table, col)}"

    def column(self, ctx: InjectionContext, incident: Incident, table: Table, change: str) -> int:
        """The column named by ``column=``, else a feature column chosen by the seed (a numeric one for ``dtype``)."""
        if incident.param("column") is not None:
            return table.column(incident.param("column"), self.where())
        label = table.label_column(incident.param("label"), self.where())
        features = (
            table.feature_columns(label) or [c for c in range(table.width) if c != label] or list(range(table.width))
        )
        if change == "dtype":
            numeric = table.numeric_columns()
            features = [c for c in features if c in numeric] or features
        return ctx.rng.choice(features)


def _column_word(col_name: str) -> str:
    return col_name if col_name.startswith("column ") else f"column {col_name}"


def _retype(table: Table, col: int) -> str:
    """Rewrite column ``col`` with another dtype: numbers with decimal commas (now text), categories as integer
    codes."""
    values = table.column_values(col)
    if col in table.numeric_columns():  # a locale change upstream: decimal commas, so the column reads as text
        table.replace_column(col, [v if table.is_blank(v) else _decimal_comma(table.cell_text(v)) for v in values])
        return "numbers written with decimal commas (now text)"
    codes: dict[Any, int] = {}  # categories exported as integer codes
    table.replace_column(
        col, [v if table.is_blank(v) else table.code(codes.setdefault(_hashable(v), len(codes))) for v in values]
    )
    return f"categories replaced by {len(codes)} integer codes"


def _decimal_comma(text: str) -> str:
    return text.replace(".", ",") if "." in text else text + ",0"


def _renamed(name: str) -> str:
    camel = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)
    return camel if camel != name else f"{name}_v2"


class Truncate(_DataInjector):
    """The file cut mid-row, as a writer killed mid-write leaves it (the last row incomplete, no newline).

    Any file: text is cut inside a row after its header, other files at the byte offset the fraction gives.
    """

    kind, mode = "data_corruption", "truncate"
    params = (
        Param("fraction", float, 0.5, doc="share of the bytes kept", low=0.0, low_open=True, high=1.0, high_open=True),
    )

    def damage(self, ctx: InjectionContext, incident: Incident, path: Path) -> str:
        data = path.read_bytes()
        cut = cut_point(data, incident.param("fraction"))
        write_atomic(path, data[:cut])
        return f"cut {self.name(ctx, path)} mid-row at byte {cut} of {len(data)}"


class Bitflip(_DataInjector):
    """Bits flipped in place (same size, mtime put back): silent disk corruption only a content hash notices.

    Any file; in a table with a header row the flips land in the rows (a flipped name is a schema change, not silent).
    """

    kind, mode = "data_corruption", "bitflip"
    params = (Param("flips", int, 1, doc="number of bytes with a flipped bit", low=1, high=1_000_000, severity=True),)

    def damage(self, ctx: InjectionContext, incident: Incident, path: Path) -> str:
        st = path.stat()
        offsets = flip_bytes_in_place(path, ctx.rng, incident.param("flips"), start=_first_row_offset(path))
        restore_times(path, st)
        more = "..." if len(offsets) > 10 else ""
        return (
            f"flipped one bit in {len(offsets)} byte(s) of {self.name(ctx, path)} at offsets {offsets[:10]}{more} "
            "(size and mtime unchanged)"
        )


def _first_row_offset(path: Path) -> int:
    """Bytes of the header line of a delimited table that has one; 0 for any other file."""
    fmt = sniff(path)
    if fmt.name not in ("csv", "tsv") or not fmt.header:
        return 0
    with open(path, "rb") as fh:
        head = fh.readline()
    return len(head) if path.stat().st_size > len(head) else 0


class Delete(_DataInjector):
    """The data file deleted (a cleanup script with the wrong glob, a lost volume)."""

    kind, mode = "data_corruption", "delete"

    def damage(self, ctx: InjectionContext, incident: Incident, path: Path) -> str:
        path.unlink()
        return f"deleted {self.name(ctx, path)}"


class StaleVersion(_DataInjector):
    """An older, self-consistent version of the file put back (a stale copy restored, a rolled-back sync).

    From the DVC cache: any file with an earlier committed version. As a subset: tables (CSV/TSV,
    Parquet, JSON Lines), written back in their own format.
    """

    kind, mode = "data_corruption", "stale_version"
    params = (
        Param(
            "fraction",
            float,
            0.2,
            doc="share of the newest rows the older version lacks (subset source)",
            severity=True,
            low=0.0,
            low_open=True,
            high=1.0,
            high_open=True,
        ),
        Param(
            "source",
            str,
            "auto",
            doc="auto: a previous version from the DVC cache if git history has one, else a subset",
            choices=("auto", "cache", "subset"),
        ),
    )
    formats = "cache: any file with an earlier DVC version; subset: " + TABLES

    def targets(self, ctx: InjectionContext, incident: Incident) -> list[str]:
        chosen = super().targets(ctx, incident)
        if incident.param("source") == "subset":
            for rel in chosen:
                if ctx.path(rel).is_file():
                    self.table_format(ctx, ctx.path(rel))
        return chosen

    def damage(self, ctx: InjectionContext, incident: Incident, path: Path) -> str:
        source = incident.param("source")
        rel = self.name(ctx, path)
        if source in ("auto", "cache"):
            old = _previous_dvc_version(ctx, rel, path)
            if old is not None:
                write_atomic(path, old.read_bytes())  # a copy: the cache object keeps its own inode and mode
                return f"put back a previous version of {rel} from the DVC cache ({ctx.rel(old)})"
            if source == "cache":
                raise IncidentError(
                    f"{self.where()}: no previous version of {rel!r} in git history and the DVC "
                    "cache; use source='subset'"
                )
        fmt = self.table_format(ctx, path)
        table = read_table(path, self.where(), fmt)
        n = table.n_rows
        if n < 2:
            raise IncidentError(f"{self.where()}: {path.name} has {n} row(s); an older subset needs at least 2")
        keep = min(n - 1, max(1, n - count_for(incident.param("fraction"), n)))
        table.keep_first(keep)
        write_atomic(path, table.to_bytes())
        return f"put back an older version of {rel}: its first {keep} of {n} rows, still valid {fmt.label}"


_MD5 = re.compile(r"md5:\s*['\"]?([0-9a-f]{32})")


def _previous_dvc_version(ctx: InjectionContext, rel: str, path: Path) -> Path | None:
    """The cache object of an earlier committed version of ``rel`` (from its ``.dvc`` file's git history)."""
    root = Path(ctx.root).resolve()
    dvc_file = rel + ".dvc"
    if not (root / ".git").exists() or not (root / dvc_file).is_file():
        return None
    cache = root / (ctx.artifacts.dvc_cache or ".dvc/cache")
    try:
        log = subprocess.run(
            ["git", "-C", str(root), "log", "--format=%H", "--", dvc_file],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    from ..digest import file_digest

    current = file_digest(path)
    for commit in log:
        try:
            text = subprocess.run(
                ["git", "-C", str(root), "show", f"{commit}:{dvc_file}"],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        for md5 in _MD5.findall(text):
            obj: Path = cache / "files" / "md5" / md5[:2] / md5[2:]
            if obj.is_file() and file_digest(obj) != current:
                ctx.rel(obj)  # contained
                return obj
    return None


INJECTORS = (Noise, MissingValues, Duplicates, LabelFlip, SchemaDrift, Truncate, Bitflip, Delete, StaleVersion)


def register(registry: IncidentRegistry) -> None:
    for injector in INJECTORS:
        registry.register(injector)
