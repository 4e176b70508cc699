"""What kind of data file this is, from its first bytes: the tables value-level modes can edit, and everything else.

Tables: delimited text (CSV, TSV, ``;`` or ``|`` separated; with or without a header row),
Parquet and JSON Lines. Anything else (XML, JSON documents, images, archives, model files, free
text, binary) is named so a refusal can say what was found. Reads at most ``_HEAD`` bytes.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DataFormat", "TABLE_FORMATS", "has_header", "is_number", "sniff", "sniff_once", "sniff_text"]

TABLE_FORMATS = ("csv", "tsv", "parquet", "jsonl")
_HEAD = 1 << 16
_SNIFF_LINES = 50  # rows read to choose the delimiter and judge the header
_DELIMITERS = ("\t", ",", ";", "|")  # in order of preference when two split a sample equally well
_MAGIC = (
    (b"PAR1", "parquet"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ", "xz-compressed data"),
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "a zip archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x93NUMPY", "a NumPy array file"),
    (b"\x89HDF", "an HDF5 file"),
    (b"ARROW1", "an Arrow IPC file"),
)


@dataclass(frozen=True)
class DataFormat:
    """A sniffed file format: ``name`` is a table format (``TABLE_FORMATS``) or a description of what else it is."""

    name: str
    delimiter: str = ","
    header: bool = True

    @property
    def is_table(self) -> bool:
        return self.name in TABLE_FORMATS

    @property
    def label(self) -> str:
        """The format's short name: ``CSV``, ``TSV``, ``Parquet``, ``JSON Lines``, or the description of a non-table."""
        return {"csv": "CSV", "tsv": "TSV", "parquet": "Parquet", "jsonl": "JSON Lines"}.get(self.name, self.name)

    def describe(self) -> str:
        """``a headerless TSV``, ``Parquet``, ``XML``..., for messages."""
        if self.name in ("csv", "tsv"):
            sep = "" if self.delimiter in ",\t" else f" separated by {self.delimiter!r}"
            return f"{'a' if self.header else 'a headerless'} {self.name.upper()}{sep}"
        return self.label


def sniff(path: Path) -> DataFormat:
    """The format of the file at ``path``, judged from its content (never from its name)."""
    with open(path, "rb") as fh:
        head = fh.read(_HEAD)
    if not head:
        return DataFormat("empty")
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return DataFormat(_model_kind(path) if name == "a zip archive" else name)
    if head.startswith(b"\x80") or b"\x00" in head:
        return DataFormat(_model_kind(path))
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:  # a Latin-1 CSV is still a table, read the same way; binary is not
        text = head.decode("utf-8", errors="surrogateescape")
        if sum(1 for ch in text if "\udc80" <= ch <= "\udcff") > len(text) // 10:
            return DataFormat("binary data (not text)")
    return sniff_text(text, complete=len(head) < _HEAD)


_SNIFFED: dict[str, tuple[tuple[int, int, int, int], DataFormat]] = {}


def sniff_once(path: Path) -> DataFormat:
    """``sniff``, remembered while the file's inode, size, mtime and ctime stay the same (an injection looks at
    its target when it validates it and again when it edits it)."""
    st = os.stat(path)
    key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    known = _SNIFFED.get(str(path))
    if known is not None and known[0] == key:
        return known[1]
    if len(_SNIFFED) > 256:
        _SNIFFED.clear()
    return _SNIFFED.setdefault(str(path), (key, sniff(path)))[1]


def _model_kind(path: Path) -> str:
    from ..modelfiles import model_format

    fmt = model_format(path)
    return "binary data" if fmt == "opaque" else f"a {fmt} model file"


def sniff_text(text: str, complete: bool = True) -> DataFormat:
    """The format of a text sample; ``complete`` says the sample is the whole file (its last line is whole)."""
    body = text.lstrip("\ufeff \t\r\n")
    if not body:
        return DataFormat("empty")
    if body.startswith("<"):
        return DataFormat("HTML" if body[:15].lower().startswith(("<!doctype html", "<html")) else "XML")
    lines = body.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the read may have cut the last line
    lines = lines[:_SNIFF_LINES]
    if body.startswith("{"):
        return (
            DataFormat("jsonl") if _json_object(lines[0]) else DataFormat("a JSON document (not one object per line)")
        )
    if body.startswith("["):
        return DataFormat("a JSON document (not one object per line)")
    delimiter = _delimiter(lines)
    if delimiter is None:
        return DataFormat("text that is not a table (no delimiter splits its lines into equal rows)")
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    return DataFormat("tsv" if delimiter == "\t" else "csv", delimiter, has_header(rows))


def _json_object(line: str) -> bool:
    """Whether a line holds one whole JSON object (the first line of JSON Lines; a broken later line is the
    reader's to name)."""
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _delimiter(lines: list[str]) -> str | None:
    """The delimiter that splits the sampled lines into rows of one width (>= 2 fields), the most fields winning.

    One ragged row in ten is tolerated (a short last row, a stray line). A file of one column
    (no line holds a delimiter or a space) is a table too, read with ``,``.
    """
    best: tuple[int, str] | None = None
    for delimiter in _DELIMITERS:
        widths = Counter(len(row) for row in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
        width, count = widths.most_common(1)[0] if widths else (0, 0)
        if width >= 2 and count >= 0.9 * len(lines) and (best is None or width > best[0]):
            best = (width, delimiter)
    if best is not None:
        return best[1]
    if len(lines) > 1 and not any(d in line for line in lines for d in _DELIMITERS + (" ",)):
        return ","
    return None


def is_number(text: str) -> bool:
    """Whether a field reads as a finite or infinite number (``12``, ``-3.5e2``, ``nan`` counts: it is numeric data)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def has_header(rows: list[list[str]]) -> bool:
    """Whether the first row names the columns rather than holding data.

    Decided by the columns the other rows fill with numbers: a first row with a number in each of
    them is data, a word in one of them is a header. Without numeric columns the first row is a
    header unless one of its values recurs further down its column (a value, not a name): taking
    a data row for a header spares one row, taking a header for data would damage the names.
    """
    if len(rows) < 2:
        return bool(rows) and not all(is_number(f) for f in rows[0] if f.strip())
    first, rest = rows[0], rows[1:]
    numeric = [c for c in range(len(first)) if _numeric_column(rest, c)]
    if numeric:
        return any(first[c].strip() and not is_number(first[c]) for c in numeric)
    return not any(first[c] in {row[c] for row in rest if c < len(row)} for c in range(len(first)) if first[c].strip())


def _numeric_column(rows: list[list[str]], col: int) -> bool:
    values = [row[col] for row in rows if col < len(row) and row[col].strip()]
    return bool(values) and all(is_number(v) for v in values)
