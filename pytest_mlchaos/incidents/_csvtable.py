"""A CSV file as a header plus raw records, fast on million-row files (stdlib only).

Records stay as text; only the rows an injector touches are split into fields. Files
without quote characters split on newlines and delimiters directly; quoted files go
through the ``csv`` module.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .spec import IncidentError

_SAMPLE = 500  # rows sampled to type the columns and estimate their spread (enough for a std within a few %)


@dataclass
class CsvTable:
    path: Path
    header: list[str]
    records: list[str]
    newline: str = "\n"
    delimiter: str = ","
    quoted: bool = False

    # -- reading -----------------------------------------------------------------------
    @classmethod
    def read(cls, path: Path, where: str) -> CsvTable:
        raw = path.read_bytes()
        if b"\x00" in raw[:65536]:
            raise IncidentError(f"{where}: {path.name} is not a text CSV (it holds NUL bytes); "
                                "modes that work on any file: truncate, bitflip, delete")
        text = raw.decode("utf-8", errors="surrogateescape")
        if not text.strip():
            raise IncidentError(f"{where}: {path.name} is empty; a CSV with a header row is needed")
        newline = "\r\n" if "\r\n" in text[:65536] else "\n"
        first = text[: text.find("\n")] if "\n" in text else text
        delimiter = max([",", "\t", ";"], key=first.count)
        if '"' not in text:
            lines = text.split(newline)
            while lines and lines[-1] == "":
                lines.pop()
            header = lines[0].split(delimiter)
            return cls(path, header, lines[1:], newline, delimiter, quoted=False)
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        while rows and rows[-1] == []:
            rows.pop()
        table = cls(path, rows[0], [], newline, delimiter, quoted=True)
        table.records = [table.format(r) for r in rows[1:]]
        return table

    def fields(self, i: int) -> list[str]:
        rec = self.records[i]
        if not self.quoted:
            return rec.split(self.delimiter)
        return next(csv.reader([rec], delimiter=self.delimiter), [])

    def field(self, i: int, col: int) -> str:
        fields = self.fields(i)
        return fields[col] if col < len(fields) else ""

    def format(self, fields: list[str]) -> str:
        if any(self.delimiter in f or '"' in f or "\n" in f or "\r" in f for f in fields):
            buf = io.StringIO()
            csv.writer(buf, delimiter=self.delimiter, lineterminator="").writerow(fields)
            return buf.getvalue()
        return self.delimiter.join(fields)

    def set_fields(self, i: int, fields: list[str], *, plain: bool = False) -> None:
        """Store row ``i``; ``plain`` promises no value needs quoting (only values this file already held, or numbers)."""
        self.records[i] = self.delimiter.join(fields) if plain and not self.quoted else self.format(fields)

    def column_texts(self, col: int) -> list[str]:
        """The raw text of column ``col`` in every row (fast: a bounded split per row)."""
        if self.quoted:
            return [self.field(i, col) for i in range(len(self.records))]
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
        """Keep the columns in ``order`` (drops the others), for every row."""
        if self.quoted:
            for i in range(len(self.records)):
                f = self.fields(i)
                self.records[i] = self.format([f[c] if c < len(f) else "" for c in order])
            return
        d = self.delimiter
        width = len(self.header)
        out = []
        for rec in self.records:
            f = rec.split(d)
            if len(f) < width:
                f += [""] * (width - len(f))
            out.append(d.join([f[c] for c in order]))
        self.records = out

    # -- columns ---------------------------------------------------------------------------
    def column(self, name: str, where: str, param: str = "column") -> int:
        if name not in self.header:
            raise IncidentError(
                f"{where}: parameter {param}={name!r} is not a column of {self.path.name}; columns: {', '.join(self.header)}"
            )
        return self.header.index(name)

    def sample_rows(self) -> list[int]:
        n = len(self.records)
        step = max(1, n // _SAMPLE)
        return list(range(0, n, step))

    def numeric_columns(self) -> dict[int, tuple[bool, int, float]]:
        """Numeric columns by index: (is_int, decimals, std) from an even sample of rows."""
        values: dict[int, list[str]] = {c: [] for c in range(len(self.header))}
        for i in self.sample_rows():
            for c, v in enumerate(self.fields(i)[: len(self.header)]):
                values[c].append(v)
        result: dict[int, tuple[bool, int, float]] = {}
        for c, vals in values.items():
            present = [v for v in vals if v.strip() != ""]
            if not present:
                continue
            try:
                nums = [float(v) for v in present]
            except ValueError:
                continue
            if not all(math.isfinite(x) for x in nums):
                continue
            is_int = all(_is_int_text(v) for v in present)
            decimals = max((len(v.split(".", 1)[1]) for v in present if "." in v and "e" not in v.lower()), default=0)
            mean = sum(nums) / len(nums)
            std = math.sqrt(sum((x - mean) ** 2 for x in nums) / len(nums)) if len(nums) > 1 else 0.0
            result[c] = (is_int, decimals, std or 1.0)
        return result

    # -- writing ---------------------------------------------------------------------------
    def to_bytes(self, header: list[str] | None = None) -> bytes:
        head = self.format(header if header is not None else self.header)
        # One join, the final newline included: concatenating a large body copies it each time
        text = self.newline.join([head, *self.records, ""])
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
        return ("{:.%df}" % decimals).format
    return repr
