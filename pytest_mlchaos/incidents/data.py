"""Data corruption injectors: what disks, people, upstream exports and half-finished jobs do to a dataset.

Default target: the first file of ``artifacts.data`` (the raw dataset); ``target=`` may name a
role (``data``, a stage name) or a path relative to the environment root. Stdlib only, and fast
enough for a million-row CSV (only the rows that are hit are split into fields).
"""

from __future__ import annotations

import random

import re
import subprocess
from pathlib import Path

from ._csvtable import CsvTable, number_formatter
from ._files import RoleInjector, count_for, cut_point, flip_bytes_in_place, pick, require_files, restore_times, write_atomic
from .registry import IncidentRegistry, InjectionContext
from .spec import Incident, IncidentError, Param

FRACTION = dict(low=0.0, low_open=True, high=1.0)
LABEL = Param("label", str, "churn", doc="the label column (left alone by feature damage)")


class _DataInjector(RoleInjector):
    role = "data"

    def apply(self, ctx: InjectionContext, incident: Incident, targets: list[Path]) -> str:
        require_files(self.where(), targets, ctx.root)
        tables = [CsvTable.read(p, self.where()) for p in targets] if self.reads_csv else []
        notes = []
        for i, path in enumerate(targets):
            notes.append(self.damage(ctx, incident, path, tables[i] if tables else None))
        return "; ".join(notes)

    reads_csv = True

    def damage(self, ctx: InjectionContext, incident: Incident, path: Path, table: CsvTable | None) -> str:
        raise NotImplementedError

    @staticmethod
    def name(ctx: InjectionContext, path: Path) -> str:
        return ctx.rel(path)


def standard_normals(rng: random.Random, count: int) -> list[float]:
    """``count`` standard normal draws seeded from ``rng``: one numpy call when numpy is there (1.7 M draws in
    tens of milliseconds instead of seconds), else ``rng.gauss``."""
    try:
        import numpy as np
    except ImportError:
        return [rng.gauss(0.0, 1.0) for _ in range(count)]
    return np.random.default_rng(rng.getrandbits(64)).standard_normal(count).tolist()


class Noise(_DataInjector):
    """Gaussian noise added to the numeric features of a fraction of the rows (a miscalibrated sensor, a bad join)."""

    kind, mode = "data_corruption", "noise"
    params = (
        Param("fraction", float, 0.1, doc="share of rows hit", severity=True, **FRACTION),
        Param("scale", float, 0.5, doc="noise standard deviation, in units of each column's std", low=0.0, low_open=True),
        LABEL,
    )

    def damage(self, ctx, incident, path, table):
        assert table is not None
        label = incident.param("label", "churn")
        numeric = {c: v for c, v in table.numeric_columns().items() if table.header[c] != label}
        if not numeric or not table.records:
            raise IncidentError(f"{self.where()}: {path.name} has no numeric feature columns (and rows) to add noise to")
        rows = pick(ctx.rng, range(len(table.records)), count_for(incident.param("fraction"), len(table.records)))
        scale = incident.param("scale")
        plan = [(c, number_formatter(is_int, decimals), scale * std) for c, (is_int, decimals, std) in numeric.items()]
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
                    except (ValueError, OverflowError):  # a blank, a word or an infinity stays as it is
                        continue
                    if new != old:
                        changed += 1
                        fields[c] = new
            table.set_fields(i, fields, plain=True)
        write_atomic(path, table.to_bytes())
        cols = ", ".join(table.header[c] for c in numeric)
        return f"added noise (scale {scale} std) to {changed} values in {len(rows)} of {len(table.records)} rows of {self.name(ctx, path)} (columns {cols})"


class MissingValues(_DataInjector):
    """Feature values blanked in a fraction of the rows (a failed upstream join, a dropped sensor feed)."""

    kind, mode = "data_corruption", "missing_values"
    params = (Param("fraction", float, 0.1, doc="share of rows with a blanked value", severity=True, **FRACTION), LABEL)

    def damage(self, ctx, incident, path, table):
        assert table is not None
        label = incident.param("label", "churn")
        cols = [c for c, name in enumerate(table.header) if name != label]
        if not cols or not table.records:
            raise IncidentError(f"{self.where()}: {path.name} has no feature columns (and rows) to blank")
        rows = pick(ctx.rng, range(len(table.records)), count_for(incident.param("fraction"), len(table.records)))
        blanked = 0
        for i in rows:
            fields = table.fields(i)
            present = [c for c in cols if c < len(fields) and fields[c] != ""]
            if present:
                fields[ctx.rng.choice(present)] = ""
                blanked += 1
                table.set_fields(i, fields)
        write_atomic(path, table.to_bytes())
        return f"blanked {blanked} feature values in {len(rows)} of {len(table.records)} rows of {self.name(ctx, path)}"


class Duplicates(_DataInjector):
    """A fraction of the rows written twice, next to the original (a retried batch that had in fact succeeded)."""

    kind, mode = "data_corruption", "duplicates"
    params = (Param("fraction", float, 0.1, doc="share of rows duplicated", severity=True, **FRACTION),)

    def damage(self, ctx, incident, path, table):
        assert table is not None
        n = len(table.records)
        if not n:
            raise IncidentError(f"{self.where()}: {path.name} has no rows to duplicate")
        chosen = set(pick(ctx.rng, range(n), count_for(incident.param("fraction"), n)))
        out: list[str] = []
        for i, rec in enumerate(table.records):
            out.append(rec)
            if i in chosen:
                out.append(rec)
        table.records = out
        write_atomic(path, table.to_bytes())
        return f"duplicated {len(chosen)} of {n} rows of {self.name(ctx, path)} (now {len(out)} rows)"


class LabelFlip(_DataInjector):
    """The label of a fraction of the rows changed to another class (a labelling bug, a swapped mapping)."""

    kind, mode = "data_corruption", "label_flip"
    params = (
        Param("fraction", float, 0.1, doc="share of rows whose label is flipped", severity=True, **FRACTION),
        Param("label", str, "churn", doc="the label column"),
    )

    def damage(self, ctx, incident, path, table):
        assert table is not None
        col = table.column(incident.param("label"), self.where(), "label")
        n = len(table.records)
        classes = sorted(set(table.column_texts(col)) - {""})
        if len(classes) < 2:
            raise IncidentError(f"{self.where()}: label column {table.header[col]!r} of {path.name} has fewer than 2 classes: {classes}")
        rows = pick(ctx.rng, range(n), count_for(incident.param("fraction"), n))
        for i in rows:
            fields = table.fields(i)
            others = [c for c in classes if c != fields[col]]
            fields[col] = others[0] if len(others) == 1 else ctx.rng.choice(others)
            table.set_fields(i, fields, plain=True)
        write_atomic(path, table.to_bytes())
        return f"flipped the {table.header[col]!r} label of {len(rows)} of {n} rows of {self.name(ctx, path)} (classes {classes})"


class SchemaDrift(_DataInjector):
    """The schema changed upstream: a column dropped, renamed, reordered, or written with another dtype."""

    kind, mode = "data_corruption", "schema_drift"
    params = (
        Param("change", str, "drop", doc="what changed", choices=("drop", "rename", "reorder", "dtype")),
        Param("column", str, None, doc="the column hit (default: a feature column chosen by the seed)"),
        LABEL,
    )

    def damage(self, ctx, incident, path, table):
        assert table is not None
        change, label = incident.param("change"), incident.param("label", "churn")
        name = incident.param("column")
        if name is not None:
            col = table.column(name, self.where())
        else:
            features = [c for c, h in enumerate(table.header) if h != label] or list(range(len(table.header)))
            if change == "dtype":
                numeric = table.numeric_columns()
                features = [c for c in features if c in numeric] or features
            col = ctx.rng.choice(features)
        col_name = table.header[col]
        where = self.name(ctx, path)
        if change == "drop":
            order = [c for c in range(len(table.header)) if c != col]
            header = [table.header[c] for c in order]
            table.rearrange(order)
            write_atomic(path, table.to_bytes(header))
            return f"dropped column {col_name!r} from {where}"
        if change == "rename":
            header = list(table.header)
            header[col] = _renamed(col_name)
            write_atomic(path, table.to_bytes(header))
            return f"renamed column {col_name!r} to {header[col]!r} in {where}"
        if change == "reorder":
            if len(table.header) < 2:
                raise IncidentError(f"{self.where()}: {path.name} has a single column; nothing to reorder")
            order = list(range(len(table.header)))
            while order == list(range(len(table.header))):
                ctx.rng.shuffle(order)
            header = [table.header[c] for c in order]
            table.rearrange(order)
            write_atomic(path, table.to_bytes(header))
            return f"reordered the columns of {where} to {', '.join(header)}"
        is_numeric = col in table.numeric_columns()
        texts = table.column_texts(col)
        if is_numeric:  # a locale change upstream: decimal commas, so the column reads as text
            new = [t.replace(".", ",") if "." in t else (t + ",0" if t else t) for t in texts]
            codes: dict[str, str] = {}
        else:  # categories exported as integer codes
            codes = {}
            new = [codes.setdefault(t, str(len(codes))) if t else t for t in texts]
        table.replace_column(col, new)
        write_atomic(path, table.to_bytes())
        how = "numbers written with decimal commas (now text)" if is_numeric else f"categories replaced by {len(codes)} integer codes"
        return f"changed the dtype of column {col_name!r} in {where}: {how}"


def _renamed(name: str) -> str:
    camel = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)
    return camel if camel != name else f"{name}_v2"


class Truncate(_DataInjector):
    """The file cut mid-row, as a writer killed mid-write leaves it (the last row incomplete, no newline)."""

    kind, mode = "data_corruption", "truncate"
    params = (Param("fraction", float, 0.5, doc="share of the bytes kept", low=0.0, low_open=True, high=1.0, high_open=True),)
    reads_csv = False

    def damage(self, ctx, incident, path, table):
        data = path.read_bytes()
        cut = cut_point(data, incident.param("fraction"))
        write_atomic(path, data[:cut])
        return f"cut {self.name(ctx, path)} mid-row at byte {cut} of {len(data)}"


class Bitflip(_DataInjector):
    """Bits flipped in place (same size, mtime put back): silent disk corruption only a content hash notices."""

    kind, mode = "data_corruption", "bitflip"
    params = (Param("flips", int, 1, doc="number of bytes with a flipped bit", low=1, high=1_000_000, severity=True),)
    reads_csv = False

    def damage(self, ctx, incident, path, table):
        st = path.stat()
        data_start = _first_row_offset(path)
        offsets = flip_bytes_in_place(path, ctx.rng, incident.param("flips"), start=data_start)
        restore_times(path, st)
        return f"flipped one bit in {len(offsets)} byte(s) of {self.name(ctx, path)} at offsets {offsets[:10]}{'...' if len(offsets) > 10 else ''} (size and mtime unchanged)"


def _first_row_offset(path: Path) -> int:
    """Bytes of the header line: flips land in the rows (a flipped header is a schema change, not silent)."""
    with open(path, "rb") as fh:
        head = fh.readline()
    return len(head) if path.stat().st_size > len(head) else 0


class Delete(_DataInjector):
    """The data file deleted (a cleanup script with the wrong glob, a lost volume)."""

    kind, mode = "data_corruption", "delete"
    reads_csv = False

    def damage(self, ctx, incident, path, table):
        path.unlink()
        return f"deleted {self.name(ctx, path)}"


class StaleVersion(_DataInjector):
    """An older, self-consistent version of the file put back (a stale copy restored, a rolled-back sync)."""

    kind, mode = "data_corruption", "stale_version"
    params = (
        Param("fraction", float, 0.2, doc="share of the newest rows the older version lacks (subset source)",
              severity=True, low=0.0, low_open=True, high=1.0, high_open=True),
        Param("source", str, "auto", doc="auto: a previous version from the DVC cache if git history has one, else a subset",
              choices=("auto", "cache", "subset")),
    )
    reads_csv = False

    def damage(self, ctx, incident, path, table):
        source = incident.param("source")
        rel = self.name(ctx, path)
        if source in ("auto", "cache"):
            old = _previous_dvc_version(ctx, rel, path)
            if old is not None:
                write_atomic(path, old.read_bytes())  # a copy: the cache object keeps its own inode and mode
                return f"put back a previous version of {rel} from the DVC cache ({ctx.rel(old)})"
            if source == "cache":
                raise IncidentError(f"{self.where()}: no previous version of {rel!r} in git history and the DVC cache; use source='subset'")
        table = CsvTable.read(path, self.where())
        n = len(table.records)
        if n < 2:
            raise IncidentError(f"{self.where()}: {path.name} has {n} row(s); an older subset needs at least 2")
        keep = min(n - 1, max(1, n - count_for(incident.param("fraction"), n)))
        table.records = table.records[:keep]
        write_atomic(path, table.to_bytes())
        return f"put back an older version of {rel}: its first {keep} of {n} rows, a valid CSV"


_MD5 = re.compile(r"md5:\s*['\"]?([0-9a-f]{32})")


def _previous_dvc_version(ctx: InjectionContext, rel: str, path: Path) -> Path | None:
    """The cache object of an earlier committed version of ``rel`` (from its ``.dvc`` file's git history)."""
    root = Path(ctx.root).resolve()
    dvc_file = rel + ".dvc"
    if not (root / ".git").exists() or not (root / dvc_file).is_file():
        return None
    cache = root / (ctx.artifacts.dvc_cache or ".dvc/cache")
    try:
        log = subprocess.run(["git", "-C", str(root), "log", "--format=%H", "--", dvc_file],
                             capture_output=True, text=True, check=True, timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    from .registry import file_digest

    current = file_digest(path)
    for commit in log:
        try:
            text = subprocess.run(["git", "-C", str(root), "show", f"{commit}:{dvc_file}"],
                                  capture_output=True, text=True, check=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        for md5 in _MD5.findall(text):
            obj = cache / "files" / "md5" / md5[:2] / md5[2:]
            if obj.is_file() and file_digest(obj) != current:
                ctx.rel(obj)  # contained
                return obj
    return None


INJECTORS = (Noise, MissingValues, Duplicates, LabelFlip, SchemaDrift, Truncate, Bitflip, Delete, StaleVersion)


def register(registry: IncidentRegistry) -> None:
    for injector in INJECTORS:
        registry.register(injector)
