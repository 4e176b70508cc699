"""Delimited text (CSV, TSV, ``;``/``|``) as an optional header plus raw records, fast on million-row files
(stdlib only).

Records stay as text; only the rows an injector touches are split into fields. Files
without quote characters split on newlines and delimiters directly; quoted files go
through the ``csv`` module. The delimiter and whether the first row is a header come from
``_formats.sniff``; a headerless file is written back headerless, with its own newlines,
byte-order mark and final newline (or lack of one).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ._formats import DataFormat
from ._tables import Table
from .spec import IncidentError

__all__ = ["CsvTable", "number_formatter"]


@dataclass
class CsvTable(Table):
    path: Path
    header: list[str] | None
    records: list[str]
    newline: str = "\n"
    delimiter: str = ","
    quoted: bool = False
    final_newline: bool = True
    bom: bool = False
    blank: ClassVar[Any] = ""
    typed: ClassVar[bool] = False

    # -- reading -----------------------------------------------------------------------
    @classmethod
    def read(cls, path: Path, where: str, fmt: DataFormat | None = None) -> CsvTable:
        """``path`` as sniffed (``fmt``; default: a CSV with a header, delimiter guessed from the first line)."""
        raw = path.read_bytes()
        if b"\x00" in raw[:65536]:
            raise IncidentError(f"{where}: {path.name} is not a text table (it holds NUL bytes)")
        text = raw.decode("utf-8", errors="surrogateescape")
        if not text.strip():
            raise IncidentError(f"{where}: {path.name} is empty; a table with at least one row is needed")
        bom = text.startswith("\ufeff")
        text = text[1:] if bom else text
        newline = "\r\n" if "\r\n" in text[:65536] else "\n"
        if fmt is None:
            first = text[: text.find("\n")] if "\n" in text else text
            fmt = DataFormat("csv", max([",", "\t", ";"], key=first.count))
        delimiter = fmt.delimiter
        if '"' not in text:
            lines = text.split(newline)
            final_newline = lines[-1] == ""
            while lines and lines[-1] == "":
                lines.pop()
            header = lines[0].split(delimiter) if fmt.header else None
            return cls(path, header, lines[1:] if fmt.header else lines, newline, delimiter, False, final_newline, bom)
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        while rows and rows[-1] == []:
            rows.pop()
        table = cls(path, rows[0] if fmt.header else None, [], newline, delimiter, True, text.endswith("\n"), bom)
        table.records = [table.format(r) for r in (rows[1:] if fmt.header else rows)]
        return table

    @property
    def n_rows(self) -> int:
        return len(self.records)

    @property
    def width(self) -> int:
        if self.header is not None:
            return len(self.header)
        return len(self.fields(0)) if self.records else 0

    def fields(self, i: int) -> list[str]:
        rec = self.records[i]
        if not self.quoted:
            return rec.split(self.delimiter)
        return next(csv.reader([rec], delimiter=self.delimiter), [])

    def format(self, fields: list[str]) -> str:
        if any(self.delimiter in f or '"' in f or "\n" in f or "\r" in f for f in fields):
            buf = io.StringIO()
            csv.writer(buf, delimiter=self.delimiter, lineterminator="").writerow(fields)
            return buf.getvalue()
        return self.delimiter.join(fields)

    def set_fields(self, i: int, fields: list[str], *, plain: bool = False) -> None:
        """Store row ``i``; ``plain`` promises no value needs quoting (only values this file already held,
        or numbers)."""
        self.records[i] = self.delimiter.join(fields) if plain and not self.quoted else self.format(fields)

    # -- cells ---------------------------------------------------------------------------
    def is_blank(self, value: Any) -> bool:
        text: str = value
        return not text.strip()

    def number(self, value: Any) -> float | None:
        try:
            return float(value)
        except ValueError:
            return None

    def is_int(self, value: Any) -> bool:
        return _is_int_text(value)

    def decimals(self, value: Any) -> int:
        return len(value.split(".", 1)[1]) if "." in value and "e" not in value.lower() else 0

    def number_writer(self, is_int: bool, decimals: int) -> Callable[[float], Any]:
        return number_formatter(is_int, decimals)

    def cell_text(self, value: Any) -> str:
        return str(value)

    def code(self, k: int) -> Any:
        return str(k)

    # -- whole columns and rows ----------------------------------------------------------------
    def column_values(self, col: int) -> list[str]:
        """The raw text of column ``col`` in every row (fast: a bounded split per row)."""
        if self.quoted:
            return [(f[col] if col < len(f) else "") for f in map(self.fields, range(len(self.records)))]
        d, n = self.delimiter, col + 1
        return [(parts[col] if len(parts) > col else "") for parts in (r.split(d, n) for r in self.records)]

    def replace_column(self, col: int, values: list[str]) -> None:
        """Set column ``col`` of every row to ``values`` (quoted where a value needs it)."""
        d = self.delimiter
        distinct = set(values)
        if self.quoted or any('"' in v or "\n" in v or "\r" in v for v in distinct):
            for i, v in enumerate(values):
                f = self.fields(i)
                if col < len(f):
                    f[col] = v
                    self.records[i] = self.format(f)
            return
        if any(d in v for v in distinct):
            values = [f'"{v}"' if d in v else v for v in values]
        out = []
        for rec, v in zip(self.records, values):
            f = rec.split(d)
            if col < len(f):
                f[col] = v
            out.append(d.join(f))
        self.records = out

    def rearrange(self, order: list[int]) -> None:
        """Keep the columns in ``order`` (drops the others), for every row and the header."""
        width = self.width
        if self.header is not None:
            self.header = [self.header[c] for c in order]
        if self.quoted:
            for i in range(len(self.records)):
                f = self.fields(i)
                self.records[i] = self.format([f[c] if c < len(f) else "" for c in order])
            return
        d = self.delimiter
        out = []
        for rec in self.records:
            f = rec.split(d)
            if len(f) < width:
                f += [""] * (width - len(f))
            out.append(d.join([f[c] for c in order]))
        self.records = out

    def rename(self, col: int, name: str) -> None:
        if self.header is None:
            raise IncidentError(f"{self.path.name} has no header row: its columns have no names to change")
        self.header[col] = name

    def duplicate(self, chosen: set[int]) -> None:
        out: list[str] = []
        for i, rec in enumerate(self.records):
            out.append(rec)
            if i in chosen:
                out.append(rec)
        self.records = out

    def keep_first(self, k: int) -> None:
        self.records = self.records[:k]

    # -- writing ---------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        # One list and one join, the final newline included: concatenating a large body copies it each time
        lines = [self.format(self.header)] if self.header is not None else []
        lines += self.records
        if self.final_newline:
            lines.append("")
        if self.bom and lines:
            lines[0] = "\ufeff" + lines[0]
        text = self.newline.join(lines)
        return text.encode("utf-8", errors="surrogateescape")


def _is_int_text(v: str) -> bool:
    v = v.strip()
    if v[:1] in "+-":
        v = v[1:]
    return v.isdigit()


def number_formatter(is_int: bool, decimals: int) -> Callable[[float], str]:
    """How a column writes its numbers: integers stay integers, decimals keep their count."""
    if is_int:
        return lambda value: str(round(value))
    if decimals:
        return lambda value: f"{value:.{decimals}f}"
    return repr
